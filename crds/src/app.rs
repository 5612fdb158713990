//! The App kind: names the release that should run and reports what does.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Seconds a Deployment may make no progress before its rollout counts as failed.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;
/// Releases kept per App by history cleanup when the App does not say.
pub const DEFAULT_RELEASE_HISTORY_LIMIT: i32 = 50;
/// Promotions kept in `status.history`.
pub const HISTORY_ENTRIES: usize = 10;

/// An application: the release that should run, and what runs.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "slipway.dev",
    version = "v1alpha1",
    kind = "App",
    namespaced,
    doc = "An App: the release that should run (spec) and what runs (status).",
    status = "AppStatus",
    category = "slipway",
    shortname = "sapp",
    printcolumn = r#"{"name":"Release","type":"string","jsonPath":".status.release"}"#,
    printcolumn = r#"{"name":"Desired","type":"string","jsonPath":".spec.release"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    // The name becomes `<app>-<service>` Deployments and Services (DNS labels) and a label value.
    validation = Rule::new("self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 40").message("App names are DNS labels of at most 40 characters: lower-case letters, digits and -, starting and ending with a letter or digit")
)]
#[serde(rename_all = "camelCase")]
pub struct AppSpec {
    /// Name of the Release that should run; promoting a release sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Seconds a Deployment may make no progress before the rollout fails and is rolled back (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10))]
    pub progress_deadline_seconds: Option<i32>,
    /// Releases kept per App by history cleanup (default 50); protected releases are never removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub release_history_limit: Option<i32>,
    /// Change this number to retry a release that failed and was rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub retry: Option<i64>,
    /// Per-service settings kept across releases and rollbacks (`convox scale`, `convox restart`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceSettings>,
}

/// What `convox scale` and `convox restart` set for one service; unset fields follow convox.yml.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSettings {
    /// Processes to run, over convox.yml's `scale.count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i32>,
    /// CPU in millicores, over convox.yml's `scale.cpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub cpu: Option<i32>,
    /// Memory in megabytes, over convox.yml's `scale.memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub memory: Option<i32>,
    /// Changing this restarts the service's processes one by one (a pod-template annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<String>,
}

impl AppSpec {
    /// The progress deadline in force.
    pub fn progress_deadline(&self) -> i32 {
        self.progress_deadline_seconds
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS)
    }

    /// The release history limit in force.
    pub fn history_limit(&self) -> i32 {
        self.release_history_limit
            .unwrap_or(DEFAULT_RELEASE_HISTORY_LIMIT)
    }
}

/// What the operator observed of an App.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// The App generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pending, Updating, Running, RollingBack or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<AppPhase>,
    /// The release serving and healthy (Convox's "active").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The rollout in flight, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// The last release that failed and was rolled back; not retried until spec changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_release: Option<FailedRelease>,
    /// One entry per service of the rendered release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceStatus>,
    /// The latest promotions, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Promotion>,
    /// Ready, Reconciling and Stalled, as kstatus expects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The repository this app's source builds push to, when the cluster has a builder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

/// The phases of an App.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AppPhase {
    /// No release yet.
    Pending,
    /// Rolling out the desired release.
    Updating,
    /// The desired release is serving and healthy.
    Running,
    /// The desired release failed; returning to the last good release.
    RollingBack,
    /// The desired release failed; see failedRelease and status.release.
    Failed,
}

impl std::fmt::Display for AppPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// The name of a service's Deployment and Service: `<app>-<service>`.
pub fn workload_name(app: &str, service: &str) -> String {
    format!("{app}-{service}")
}

/// Why a release failed to roll out.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum FailureReason {
    /// A Deployment made no progress within its progress deadline.
    ProgressDeadlineExceeded,
    /// A container kept exiting (`pods::CRASH_LOOP_RESTARTS`).
    CrashLoop,
    /// A container's image cannot be pulled.
    ImagePull,
    /// A reason a newer operator wrote that this version does not know.
    #[serde(other)]
    Unknown,
}

/// How a promotion ended.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum PromotionResult {
    /// The release became active.
    Succeeded,
    /// The release failed and the one before it was rendered again.
    RolledBack,
    /// Another release was promoted before this one finished.
    Superseded,
    /// The release failed with nothing to roll back to.
    Failed,
    /// A result a newer operator wrote that this version does not know.
    #[serde(other)]
    Unknown,
}

impl FailureReason {
    /// The reason as written in status, Events and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::ProgressDeadlineExceeded => "ProgressDeadlineExceeded",
            FailureReason::CrashLoop => "CrashLoop",
            FailureReason::ImagePull => "ImagePull",
            FailureReason::Unknown => "Unknown",
        }
    }
}

impl PromotionResult {
    /// The result as written in status and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionResult::Succeeded => "Succeeded",
            PromotionResult::RolledBack => "RolledBack",
            PromotionResult::Superseded => "Superseded",
            PromotionResult::Failed => "Failed",
            PromotionResult::Unknown => "Unknown",
        }
    }
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for PromotionResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rollout in flight.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// The release being rolled out.
    pub release: String,
    /// The release that served before, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Whether this rollout returns to the last good release after a failure.
    #[serde(default)]
    pub rollback: bool,
    /// When the rollout started.
    pub started: Time,
}

/// A release that failed to roll out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedRelease {
    /// The release that failed.
    pub release: String,
    /// Machine-readable cause: ProgressDeadlineExceeded, CrashLoop or ImagePull.
    pub reason: FailureReason,
    /// What happened, in words a person understands.
    pub message: String,
    /// The value of spec.retry when it failed; a different value retries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<i64>,
}

/// What one service runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// The service name from convox.yml.
    pub name: String,
    /// Pods wanted.
    pub replicas: i32,
    /// Pods running the newest template.
    pub updated: i32,
    /// Pods ready.
    pub ready: i32,
    /// The release the Deployment's template renders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

/// One finished promotion.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    /// The release promoted.
    pub release: String,
    /// The release that served before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Succeeded, RolledBack, Superseded or Failed.
    pub result: PromotionResult,
    /// When it started.
    pub started: Time,
    /// When it ended.
    pub finished: Time,
    /// Why it ended so, when it did not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_reasons_are_written_as_before() {
        let promotion: Promotion = serde_json::from_value(serde_json::json!({
            "release": "rtwo", "from": "rone", "result": "RolledBack",
            "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:01Z",
            "reason": "pod web-1 is crash-looping"
        }))
        .unwrap();
        assert_eq!(promotion.result, PromotionResult::RolledBack);
        assert_eq!(
            serde_json::to_value(&promotion).unwrap()["result"],
            "RolledBack"
        );
        for result in [
            PromotionResult::Succeeded,
            PromotionResult::RolledBack,
            PromotionResult::Superseded,
            PromotionResult::Failed,
        ] {
            let json = serde_json::to_string(&result).unwrap();
            assert_eq!(json, format!("\"{result}\""));
        }
        for reason in [
            FailureReason::ProgressDeadlineExceeded,
            FailureReason::CrashLoop,
            FailureReason::ImagePull,
        ] {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
    }

    #[test]
    fn a_value_from_a_newer_operator_still_reads() {
        let failed: FailedRelease = serde_json::from_value(serde_json::json!({
            "release": "rtwo", "reason": "OutOfCheese", "message": "m"
        }))
        .unwrap();
        assert_eq!(failed.reason, FailureReason::Unknown);
        let result: PromotionResult = serde_json::from_str("\"Paused\"").unwrap();
        assert_eq!(result, PromotionResult::Unknown);
    }

    #[test]
    fn workloads_are_named_after_app_and_service() {
        assert_eq!(workload_name("myapp", "web"), "myapp-web");
    }
}
