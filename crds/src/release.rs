//! The Release kind: an immutable pair of a build and an environment.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An immutable release: everything needed to run an App, fixed at creation.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "slipway.dev",
    version = "v1alpha1",
    kind = "Release",
    namespaced,
    doc = "A Release: an immutable pair of a build and an environment.",
    category = "slipway",
    shortname = "rel",
    selectable = ".spec.app",
    printcolumn = r#"{"name":"App","type":"string","jsonPath":".spec.app"}"#,
    printcolumn = r#"{"name":"Build","type":"string","jsonPath":".spec.build"}"#,
    printcolumn = r#"{"name":"Created","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Description","type":"string","jsonPath":".spec.description"}"#,
    // The name labels the pods of the release (slipway.dev/release), and label values stop at 63.
    validation = Rule::new("size(self.metadata.name) <= 63").message("Release names are at most 63 characters: they label the release's pods")
)]
#[x_kube(validation = Rule::new("self == oldSelf").message("a Release is immutable: create a new Release instead"))]
#[serde(rename_all = "camelCase")]
pub struct ReleaseSpec {
    /// Name of the App this release belongs to.
    #[schemars(
        length(min = 1, max = 40),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub app: String,
    /// Name of the Build this release came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The convox.yml text that describes the App's services.
    pub manifest: String,
    /// Image reference for each service, overriding the manifest's `image:`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// Plain environment values, for hand-written (GitOps) releases; the CLI uses envSecret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$'))").message("env keys must match [A-Za-z_][A-Za-z0-9_]*"))]
    pub env: BTreeMap<String, String>,
    /// The immutable Secret that holds this release's environment values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_secret: Option<EnvSecretRef>,
    /// Env keys whose values the CLI shows as **** unless asked to reveal them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_keys: Vec<String>,
    /// What this release is, in Convox's words (`env add:FOO`, `build 0a1b2c3d4e my commit`).
    #[serde(default)]
    pub description: String,
    /// The release this one copies, when it was made by a rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
    /// The releases this one combines, when it was made by `releases create-from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_from: Option<CreatedFrom>,
    /// Sortable creation stamp (RFC 3339, nanoseconds), so releases made in one second keep their order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// Reference to the immutable Secret that pins a release's environment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvSecretRef {
    /// Name of the Secret, in the release's namespace.
    pub name: String,
    /// Env keys the Secret holds, so keys can be listed without reading values.
    #[serde(default)]
    pub keys: Vec<String>,
    /// SHA-256 of the environment as `KEY=VALUE` lines, to detect a Secret that changed.
    pub sha256: String,
}

/// The two releases a `create-from` release combines.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedFrom {
    /// Release whose build (manifest and images) was used.
    pub build: String,
    /// Release whose environment was used.
    pub env: String,
}

impl ReleaseSpec {
    /// A copy for a rollback to `source` (its object name): same build, manifest, images and env.
    pub fn rollback_copy(&self, source: &str) -> ReleaseSpec {
        ReleaseSpec {
            description: format!("rollback to {}", crate::id::display_id(source)),
            rollback_of: Some(source.to_string()),
            created_from: None,
            created: Some(crate::stamp::now_stamp()),
            ..self.clone()
        }
    }

    /// A release with the build of `build` (manifest, images) and the env of `env`.
    pub fn create_from(build: (&str, &ReleaseSpec), env: (&str, &ReleaseSpec)) -> ReleaseSpec {
        let (build_name, build_spec) = build;
        let (env_name, env_spec) = env;
        ReleaseSpec {
            app: build_spec.app.clone(),
            build: build_spec.build.clone(),
            manifest: build_spec.manifest.clone(),
            images: build_spec.images.clone(),
            env: env_spec.env.clone(),
            env_secret: env_spec.env_secret.clone(),
            secret_keys: env_spec.secret_keys.clone(),
            description: format!(
                "Created from build release: {} and environment release: {}",
                crate::id::display_id(build_name),
                crate::id::display_id(env_name)
            ),
            rollback_of: None,
            created_from: Some(CreatedFrom {
                build: build_name.to_string(),
                env: env_name.to_string(),
            }),
            created: Some(crate::stamp::now_stamp()),
        }
    }

    /// The sort key that orders releases by creation ("newest first" is its reverse).
    pub fn sort_key(release: &Release) -> (String, String) {
        use kube::ResourceExt;
        crate::stamp::sort_key(
            release.spec.created.as_deref(),
            release.creation_timestamp().map(|t| t.0),
            &release.name_any(),
        )
    }
}

/// Sorts releases newest first.
pub fn newest_first(releases: &mut [Release]) {
    releases.sort_by_key(|r| std::cmp::Reverse(ReleaseSpec::sort_key(r)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ReleaseSpec {
        ReleaseSpec {
            app: "myapp".into(),
            build: Some("babcdefghij".into()),
            manifest: "services: {}".into(),
            images: BTreeMap::from([("web".into(), "nginx:1".into())]),
            env_secret: Some(EnvSecretRef {
                name: "rbcdefghijk-env".into(),
                keys: vec!["FOO".into()],
                sha256: "x".into(),
            }),
            description: "env add:FOO".into(),
            created: Some("2026-01-01T00:00:00.000000000Z".into()),
            ..ReleaseSpec::default()
        }
    }

    #[test]
    fn rollback_copy_keeps_what_runs_and_records_provenance() {
        let copy = spec().rollback_copy("rbcdefghijk");
        assert_eq!(copy.description, "rollback to RBCDEFGHIJK");
        assert_eq!(copy.rollback_of.as_deref(), Some("rbcdefghijk"));
        assert_eq!(copy.images, spec().images);
        assert_eq!(copy.env_secret, spec().env_secret);
        assert_eq!(copy.build, spec().build);
        assert_ne!(copy.created, spec().created);
    }

    #[test]
    fn create_from_combines_build_and_env() {
        let mut env_spec = spec();
        env_spec.images.clear();
        env_spec.env_secret = None;
        env_spec.env = BTreeMap::from([("A".into(), "1".into())]);
        let made = ReleaseSpec::create_from(("rone", &spec()), ("rtwo", &env_spec));
        assert_eq!(made.images, spec().images);
        assert_eq!(made.env, env_spec.env);
        assert_eq!(made.env_secret, None);
        assert_eq!(
            made.description,
            "Created from build release: rone and environment release: rtwo"
        );
    }

    #[test]
    fn newest_first_orders_by_stamp_then_name() {
        let release = |name: &str, stamp: &str| {
            let mut r = Release::new(name, spec());
            r.spec.created = Some(stamp.into());
            r
        };
        let mut releases = vec![
            release("ra", "2026-01-01T00:00:00.100000000Z"),
            release("rc", "2026-01-01T00:00:00.900000000Z"),
            release("rb", "2026-01-01T00:00:00.500000000Z"),
        ];
        newest_first(&mut releases);
        let names: Vec<_> = releases
            .iter()
            .map(|r| r.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["rc", "rb", "ra"]);
    }
}
