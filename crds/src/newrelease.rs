//! A new Release and the Secret that pins its env, as objects to create: the CLI (env changes,
//! rollbacks, create-from) and the operator's Build controller make them the same way and do
//! only the API calls (the Secret first, then the Release) with their own field manager.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

use crate::env::{self, Env};
use crate::release::EnvSecretRef;
use crate::{App, Release, ReleaseSpec, labels};

/// Where a new release's env comes from.
#[derive(Clone, Copy, Debug)]
pub enum NewEnv<'a> {
    /// These values, pinned in the release's own new immutable Secret.
    Pin(&'a Env),
    /// The immutable Secret of another release, named too: no values are read.
    Share(&'a EnvSecretRef),
    /// No env at all: the release names no Secret.
    Empty,
}

/// Who makes the release, which decides the owners its objects start with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maker {
    /// The CLI: the Release and its pinned Secret are owned by the App, so a crash before the
    /// operator hands the Secret to its Release (`fork::owners_with`) leaves no orphan.
    Cli,
    /// The operator's Build controller: the Release is owned by the App (not as controller),
    /// and the Secret by nobody until the controller adopts it right after the Release exists.
    Build,
}

/// The objects of a new release, in the order to create them.
#[derive(Clone, Debug)]
pub struct ReleaseObjects {
    /// The Secret pinning the env, when the release has its own.
    pub secret: Option<Secret>,
    /// The Release, naming that Secret (or the shared one) in `spec.envSecret`.
    pub release: Release,
}

/// The objects of release `name` of `app` made by `maker` from `spec`, with `env` and
/// `annotations`; the env is decided here only (`spec.env` and `spec.envSecret` are replaced).
pub fn new_release(
    maker: Maker,
    app: &App,
    name: &str,
    mut spec: ReleaseSpec,
    env: NewEnv<'_>,
    annotations: BTreeMap<String, String>,
) -> ReleaseObjects {
    let app_name = app.name_any();
    // Values never sit in a custom resource: a copy of a hand-written release pins them.
    spec.env = Env::new();
    let (secret, env_secret) = match env {
        NewEnv::Pin(values) => {
            let (mut secret, reference) = env::pinned_secret(&app_name, name, values);
            if maker == Maker::Cli {
                secret.metadata.owner_references = Some(app.owner_ref(&()).into_iter().collect());
            }
            (Some(secret), Some(reference))
        }
        NewEnv::Share(reference) => (None, Some(reference.clone())),
        NewEnv::Empty => (None, None),
    };
    spec.env_secret = env_secret;
    spec.app = app_name.clone();
    if spec.created.is_none() {
        spec.created = Some(crate::stamp::now_stamp());
    }
    let owner_references = match maker {
        Maker::Cli => Some(app.owner_ref(&()).into_iter().collect()),
        Maker::Build => app.controller_owner_ref(&()).map(|mut owner| {
            owner.controller = Some(false);
            vec![owner]
        }),
    };
    let release = Release {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels::app_labels(&app_name)),
            annotations: Some(annotations),
            owner_references,
            ..ObjectMeta::default()
        },
        spec,
    };
    ReleaseObjects { secret, release }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;

    fn app() -> App {
        let mut app = App::new("myapp", Default::default());
        app.metadata.uid = Some("uid-app".into());
        app
    }

    fn app_owner(controller: Option<bool>) -> OwnerReference {
        OwnerReference {
            api_version: "slipway.dev/v1alpha1".into(),
            kind: "App".into(),
            name: "myapp".into(),
            uid: "uid-app".into(),
            controller,
            ..OwnerReference::default()
        }
    }

    fn spec() -> ReleaseSpec {
        ReleaseSpec {
            app: "ignored".into(),
            manifest: "services: {}".into(),
            env: BTreeMap::from([("PLAIN".into(), "x".into())]),
            description: "env add:FOO".into(),
            ..ReleaseSpec::default()
        }
    }

    #[test]
    fn the_cli_pins_a_secret_that_the_app_owns_until_its_release_does() {
        let values = Env::from([("FOO".to_string(), "bar".to_string())]);
        let annotations = BTreeMap::from([(labels::ENV_BASE.to_string(), "rold".to_string())]);
        let made = new_release(
            Maker::Cli,
            &app(),
            "rnew",
            spec(),
            NewEnv::Pin(&values),
            annotations.clone(),
        );
        let secret = made.secret.expect("a pinned Secret");
        assert_eq!(secret.name_any(), "rnew-env");
        assert_eq!(secret.owner_references(), [app_owner(None)]);
        assert_eq!(secret.labels()[labels::RELEASE], "rnew");
        assert_eq!(env::from_secret(&secret).unwrap(), values);
        let release = made.release;
        assert_eq!(release.name_any(), "rnew");
        assert_eq!(release.owner_references(), [app_owner(None)]);
        assert_eq!(release.labels(), &labels::app_labels("myapp"));
        assert_eq!(release.annotations(), &annotations);
        assert_eq!(release.spec.app, "myapp");
        assert!(release.spec.env.is_empty(), "no value in the Release");
        let reference = release.spec.env_secret.unwrap();
        assert_eq!(
            (reference.name.as_str(), reference.sha256),
            ("rnew-env", env::hash(&values))
        );
        assert!(release.spec.created.is_some());
    }

    #[test]
    fn a_shared_secret_is_named_and_nothing_is_pinned() {
        let (_, shared) = env::pinned_secret("myapp", "rold", &Env::new());
        let made = new_release(
            Maker::Cli,
            &app(),
            "rnew",
            spec(),
            NewEnv::Share(&shared),
            BTreeMap::new(),
        );
        assert!(made.secret.is_none());
        assert_eq!(made.release.spec.env_secret, Some(shared));
        assert_eq!(made.release.annotations(), &BTreeMap::new());
        let empty = new_release(
            Maker::Cli,
            &app(),
            "rnew",
            spec(),
            NewEnv::Empty,
            BTreeMap::new(),
        );
        assert!(empty.secret.is_none() && empty.release.spec.env_secret.is_none());
        assert!(empty.release.spec.env.is_empty());
    }

    #[test]
    fn a_build_pins_an_ownerless_secret_and_its_release_is_not_the_apps_controlled() {
        let stamped = ReleaseSpec {
            created: Some("2026-01-01T00:00:00.000000000Z".into()),
            ..spec()
        };
        let made = new_release(
            Maker::Build,
            &app(),
            "rbuilt",
            stamped,
            NewEnv::Pin(&Env::new()),
            BTreeMap::new(),
        );
        let secret = made.secret.expect("an empty env is pinned too");
        assert_eq!(secret.metadata.owner_references, None);
        assert_eq!(made.release.owner_references(), [app_owner(Some(false))]);
        assert_eq!(
            made.release.spec.created.as_deref(),
            Some("2026-01-01T00:00:00.000000000Z")
        );
    }
}
