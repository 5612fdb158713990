//! Forking a release: which release a new one starts from, and how it carries that release's env.
//!
//! Env commands, builds, rollbacks and create-from all make a release from another. The env is
//! carried without reading values where possible: a release whose env is only its immutable
//! Secret is followed by releases that name the same Secret (same reference, so the hash check
//! holds) and become owners of it too. Kubernetes collects an object only once all its owners
//! are gone, so a shared Secret lives while any release using it lives.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;

use crate::env::Env;
use crate::labels::{self, ENV_BASE, ENV_HEAD};
use crate::release::EnvSecretRef;
use crate::{App, Release, ReleaseSpec};

/// The App's env head: the newest release an env command committed.
pub fn env_head(app: &App) -> Option<&str> {
    app.annotations().get(ENV_HEAD).map(String::as_str)
}

/// The release a change forks: the newest that is the env head or not made by an env command.
pub fn env_base<'a>(newest_first: &'a [Release], head: Option<&str>) -> Option<&'a Release> {
    if let Some(head) = head
        && !newest_first.iter().any(|r| r.name_any() == head)
    {
        // The head was deleted by hand: the newest release is the best guess left.
        return newest_first.first();
    }
    // An env release that is not the head lost a race or is still being saved (with no head
    // yet, every env release is): never fork it.
    newest_first
        .iter()
        .find(|r| head == Some(r.name_any().as_str()) || !r.annotations().contains_key(ENV_BASE))
}

/// How a new release carries the env of the release it is made from.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvCarry {
    /// Name the source's immutable Secret too: nothing to read.
    Share(EnvSecretRef),
    /// Pin these plain values (a hand-written source's, maybe none) in a new Secret.
    Pin(Env),
    /// Read the source's Secret, add its plain values, and pin them all in a new Secret.
    Merge,
}

/// How a release made from `source` carries its env.
pub fn carry(source: &ReleaseSpec) -> EnvCarry {
    match &source.env_secret {
        Some(reference) if source.env.is_empty() => EnvCarry::Share(reference.clone()),
        Some(_) => EnvCarry::Merge,
        None => EnvCarry::Pin(source.env.clone()),
    }
}

/// Whether a Secret with `secret_labels` is an env Secret Slipway made for `app`.
pub fn is_env_secret_of(secret_labels: &BTreeMap<String, String>, app: &str) -> bool {
    // A Secret someone else manages (named by a hand-written release) is never made collectable.
    secret_labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_SLIPWAY)
        && secret_labels.get(labels::APP).map(String::as_str) == Some(app)
}

/// The owners of an env Secret once `release` owns it too, or `None` when it does already.
///
/// The CLI makes a Secret owned by the App (so a crash before its Release exists leaves no
/// orphan); once a Release owns it, the App's reference goes, and the Secret lives while any
/// Release naming it lives. `own` says the Secret is the release's own (`<release>-env`).
pub fn owners_with(
    existing: &[OwnerReference],
    release: &OwnerReference,
    own: bool,
) -> Option<Vec<OwnerReference>> {
    if existing.iter().any(|o| o.uid == release.uid) {
        return None;
    }
    let mut owners: Vec<OwnerReference> = existing
        .iter()
        .filter(|o| !(o.kind == "App" && o.api_version.starts_with(labels::GROUP)))
        .cloned()
        .map(|mut o| {
            if own {
                // One controller at most: the release the Secret was made for.
                o.controller = None;
            }
            o
        })
        .collect();
    let mut added = release.clone();
    added.controller = own.then_some(true);
    owners.push(added);
    Some(owners)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn release(name: &str, env_base: Option<&str>) -> Release {
        let mut release = Release::new(name, ReleaseSpec::default());
        if let Some(base) = env_base {
            release.metadata.annotations = Some(BTreeMap::from([(ENV_BASE.into(), base.into())]));
        }
        release
    }

    fn base_name(releases: &[Release], head: Option<&str>) -> Option<String> {
        env_base(releases, head).map(|r| r.name_any())
    }

    #[test]
    fn the_base_skips_env_releases_that_did_not_win() {
        // Newest first: a loser (or one being saved), the head, an older build release.
        let releases = [
            release("rloser", Some("rbuild")),
            release("rhead", Some("rbuild")),
            release("rbuild", None),
        ];
        assert_eq!(base_name(&releases, Some("rhead")).unwrap(), "rhead");
        // A build, rollback or create-from after the head is the base.
        let releases = [
            release("rnewbuild", None),
            release("rhead", Some("rbuild")),
            release("rbuild", None),
        ];
        assert_eq!(base_name(&releases, Some("rhead")).unwrap(), "rnewbuild");
        // A head that is gone: the newest release.
        let only_env = [release("rtwo", Some("rone")), release("rone", None)];
        assert_eq!(base_name(&only_env, Some("rgone")).unwrap(), "rtwo");
        // No head yet: every env release is still being saved (maybe this very change's).
        assert_eq!(base_name(&releases, None).unwrap(), "rnewbuild");
        assert_eq!(base_name(&only_env, None).unwrap(), "rone");
        assert_eq!(base_name(&[release("rmine", Some(""))], None), None);
        assert_eq!(base_name(&[], None), None);
    }

    #[test]
    fn a_build_during_an_env_set_skips_the_release_still_being_saved() {
        let releases = [release("rsaving", Some("rhead")), release("rhead", None)];
        let mut app = App::new("myapp", Default::default());
        assert_eq!(env_head(&app), None);
        app.metadata.annotations = Some(BTreeMap::from([(ENV_HEAD.into(), "rhead".into())]));
        assert_eq!(env_head(&app), Some("rhead"));
        assert_eq!(base_name(&releases, env_head(&app)).unwrap(), "rhead");
    }

    #[test]
    fn only_a_secret_is_shared_and_plain_values_are_pinned() {
        let reference = EnvSecretRef {
            name: "rone-env".into(),
            keys: vec!["FOO".into()],
            sha256: "abc".into(),
        };
        let plain = Env::from([("A".to_string(), "1".to_string())]);
        let spec = |env: &Env, secret: Option<&EnvSecretRef>| ReleaseSpec {
            env: env.clone(),
            env_secret: secret.cloned(),
            ..ReleaseSpec::default()
        };
        let share = carry(&spec(&Env::new(), Some(&reference)));
        assert_eq!(share, EnvCarry::Share(reference.clone()));
        assert_eq!(carry(&spec(&plain, None)), EnvCarry::Pin(plain.clone()));
        assert_eq!(carry(&spec(&Env::new(), None)), EnvCarry::Pin(Env::new()));
        assert_eq!(carry(&spec(&plain, Some(&reference))), EnvCarry::Merge);
    }

    #[test]
    fn a_release_becomes_an_owner_and_the_app_lets_go() {
        let owner = |kind: &str, name: &str, controller: Option<bool>| OwnerReference {
            api_version: "slipway.dev/v1alpha1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: format!("u-{name}"),
            controller,
            ..OwnerReference::default()
        };
        let app = owner("App", "myapp", Some(true));
        let one = owner("Release", "rone", None);
        // Its own Secret, made by the CLI for the App: the release takes over as controller.
        assert_eq!(
            owners_with(std::slice::from_ref(&app), &one, true).unwrap(),
            [owner("Release", "rone", Some(true))]
        );
        // A shared Secret: one more owner, no controller.
        let two = owner("Release", "rtwo", None);
        let held = [owner("Release", "rone", Some(true))];
        assert_eq!(
            owners_with(&held, &two, false).unwrap(),
            [owner("Release", "rone", Some(true)), two.clone()]
        );
        // A copy adopted first, then the Secret's own release.
        assert_eq!(
            owners_with(&[app, owner("Release", "rtwo", None)], &one, true).unwrap(),
            [two.clone(), owner("Release", "rone", Some(true))]
        );
        assert_eq!(owners_with(&held, &one, true), None);
    }

    #[test]
    fn only_slipway_env_secrets_of_the_same_app_are_adopted() {
        let ours = labels::app_labels("myapp");
        assert!(is_env_secret_of(&ours, "myapp"));
        assert!(!is_env_secret_of(&ours, "other"));
        let mut foreign = ours.clone();
        foreign.remove(labels::MANAGED_BY);
        assert!(!is_env_secret_of(&foreign, "myapp"));
    }
}
