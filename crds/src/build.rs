//! The Build kind: a built artifact (manifest and images) that yields a Release.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A build of an App: once complete, the operator creates its Release.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "slipway.dev",
    version = "v1alpha1",
    kind = "Build",
    namespaced,
    doc = "A Build: a built artifact (manifest and images); once complete, its Release is created.",
    status = "BuildStatus",
    category = "slipway",
    shortname = "bld",
    selectable = ".spec.app",
    printcolumn = r#"{"name":"App","type":"string","jsonPath":".spec.app"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Release","type":"string","jsonPath":".status.release"}"#,
    printcolumn = r#"{"name":"Created","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Description","type":"string","jsonPath":".spec.description"}"#,
    // A Build named by hand yields the Release `<build>-release`, whose name stops at 63.
    validation = Rule::new("size(self.metadata.name) <= 55").message("Build names are at most 55 characters: the Release made from a Build is named <build>-release")
)]
#[x_kube(validation = Rule::new("self == oldSelf").message("a Build is immutable: create a new Build instead"))]
#[serde(rename_all = "camelCase")]
pub struct BuildSpec {
    /// Name of the App this build belongs to.
    #[schemars(
        length(min = 1, max = 40),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub app: String,
    /// The convox.yml text of the build.
    pub manifest: String,
    /// Image reference for each service, overriding the manifest's `image:`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// What was built (`build <sha> <subject>`), copied to the Release.
    #[serde(default)]
    pub description: String,
    /// Git commit the build was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_sha: Option<String>,
    /// Sortable creation stamp (RFC 3339, nanoseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Where the source of the services with `build:` comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<BuildSource>,
    /// Build every layer again, ignoring the layer cache (`convox build --no-cache`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_cache: bool,
    /// Build arguments given for this build (`--build-args`), over those from the release env.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$'))").message("build argument names must match [A-Za-z_][A-Za-z0-9_]*"))]
    pub build_args: BTreeMap<String, String>,
}

/// The source of a build: the source tree as an OCI artifact (what `convox build` pushes).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BuildSource {
    /// The source tree as an OCI artifact, by digest (`registry/repository@sha256:…`).
    #[x_kube(validation = Rule::new("self.matches('^[^@ ]+@sha256:[0-9a-f]{64}$')").message("a source image is referenced by digest: registry/repository@sha256:<64 hex>"))]
    pub image: String,
}

/// What the operator observed of a Build.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuildStatus {
    /// Created, Running, Complete or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BuildPhase>,
    /// Why the build failed, in words a person understands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The Release this build created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// When the build started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Time>,
    /// When the build completed or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Time>,
    /// The pod that builds the source, whose log is the build's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
}

/// The phases of a Build.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum BuildPhase {
    /// Recorded, not yet started.
    Created,
    /// Being built.
    Running,
    /// Built; its Release exists.
    Complete,
    /// Could not be built; see reason.
    Failed,
}
