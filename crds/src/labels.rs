//! Label and annotation keys, field managers and the GitOps tracking keys Slipway must never copy.

use std::collections::BTreeMap;

/// API group of every Slipway kind.
pub const GROUP: &str = "slipway.dev";
/// Label naming the tool that made an object.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY`] on everything Slipway makes.
pub const MANAGED_BY_SLIPWAY: &str = "slipway";
/// Label naming the App an object belongs to.
pub const APP: &str = "slipway.dev/app";
/// Label naming the service (convox.yml key) an object runs.
pub const SERVICE: &str = "slipway.dev/service";
/// Label naming the Release an object was rendered from.
pub const RELEASE: &str = "slipway.dev/release";
/// Field manager of the operator's server-side applies.
pub const OPERATOR_MANAGER: &str = "slipway-operator";
/// Field manager of the CLI's server-side applies.
pub const CLI_MANAGER: &str = "convox";
/// App annotation naming the newest release an env command committed (see `fork::env_base`).
pub const ENV_HEAD: &str = "slipway.dev/env-head";
/// Release annotation naming the release an env command forked: not trusted unless it is the head.
pub const ENV_BASE: &str = "slipway.dev/env-base";
/// Label of a `convox run` process: its service.
// Not `slipway.dev/service`, so the service's Service never routes to it, and no
// `slipway.dev/release`, so it never judges a rollout.
pub const RUN_SERVICE: &str = "slipway.dev/run-service";
/// Label of a `convox run` process: the release it runs.
pub const RUN_RELEASE: &str = "slipway.dev/run-release";
/// Pod-template annotation from `spec.services.<s>.restartedAt`: changing it rolls the pods.
pub const RESTARTED_AT: &str = "slipway.dev/restarted-at";
/// Release annotation naming the env head its maker saw, empty for none (see `order`).
pub const ENV_AFTER: &str = "slipway.dev/env-after";

/// Label and annotation prefixes or keys that GitOps tools use to track objects.
const TRACKING: &[&str] = &[
    "argocd.argoproj.io/",
    "app.kubernetes.io/instance",
    "kustomize.toolkit.fluxcd.io/",
    "helm.toolkit.fluxcd.io/",
    "kubectl.kubernetes.io/last-applied-configuration",
];

/// Whether a label or annotation key is one a GitOps tool tracks objects by.
pub fn is_tracking_key(key: &str) -> bool {
    TRACKING.iter().any(|t| {
        if t.ends_with('/') {
            key.starts_with(t)
        } else {
            key == *t
        }
    })
}

/// Whether labels or annotations show that a GitOps tool tracks the object.
pub fn is_gitops_tracked(
    labels: Option<&BTreeMap<String, String>>,
    annotations: Option<&BTreeMap<String, String>>,
) -> bool {
    [labels, annotations]
        .into_iter()
        .flatten()
        .any(|m| m.keys().any(|k| is_tracking_key(k)))
}

/// The labels every object made for one App carries.
pub fn app_labels(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_string(), MANAGED_BY_SLIPWAY.to_string()),
        (APP.to_string(), app.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_keys_are_recognised() {
        assert!(is_tracking_key("argocd.argoproj.io/instance"));
        assert!(is_tracking_key("app.kubernetes.io/instance"));
        assert!(is_tracking_key("kustomize.toolkit.fluxcd.io/name"));
        assert!(is_tracking_key(
            "kubectl.kubernetes.io/last-applied-configuration"
        ));
        assert!(!is_tracking_key("app.kubernetes.io/managed-by"));
        assert!(!is_tracking_key(APP));
    }

    #[test]
    fn tracked_objects_are_detected() {
        let labels = BTreeMap::from([("app.kubernetes.io/instance".into(), "x".into())]);
        assert!(is_gitops_tracked(Some(&labels), None));
        assert!(!is_gitops_tracked(Some(&app_labels("web")), None));
        assert!(!is_gitops_tracked(None, None));
    }
}
