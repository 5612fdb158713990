//! The convox.yml keys Slipway reads, and the Convox keys it accepts without acting on them.

use serde_json::{Map, Value};

/// Top-level keys Slipway reads.
pub(super) const TOP_FIELDS: &[&str] = &["environment", "labels", "services"];
/// Top-level keys Convox knows that Slipway does not implement yet.
pub(super) const TOP_IGNORED: &[&str] = &[
    "appSettings",
    "balancers",
    "budget",
    "configs",
    "params",
    "resources",
    "timers",
];
/// Service keys Slipway reads.
pub(super) const SERVICE_FIELDS: &[&str] = &[
    "annotations",
    "build",
    "command",
    "deployment",
    "environment",
    "health",
    "image",
    "labels",
    "port",
    "scale",
];
/// Service keys Convox knows that Slipway does not implement yet.
pub(super) const SERVICE_IGNORED: &[&str] = &[
    "accessControl",
    "agent",
    "certificate",
    "configMounts",
    "disableHostUsers",
    "dnsConfig",
    "domain",
    "drain",
    "gpu",
    "grpcHealthEnabled",
    "imagePullSecrets",
    "ingressAnnotations",
    "init",
    "initContainer",
    "internal",
    "internalRouter",
    "lifecycle",
    "links",
    "liveness",
    "nlb",
    "nodeAffinityLabels",
    "nodeSelectorLabels",
    "policies",
    "ports",
    "privileged",
    "resources",
    "securityContext",
    "singleton",
    "startupProbe",
    "sticky",
    "termination",
    "test",
    "timeout",
    "tls",
    "volumeOptions",
    "volumes",
    "whitelist",
];

/// Refuses keys that are neither read nor knowingly ignored; `prefix` names the enclosing key.
pub(super) fn check_keys(
    fields: &Map<String, Value>,
    prefix: &str,
    known: &[&str],
    ignored: &[&str],
) -> Result<(), String> {
    match fields
        .keys()
        .find(|key| !known.contains(&key.as_str()) && !ignored.contains(&key.as_str()))
    {
        Some(key) => Err(format!("unknown field {:?}", format!("{prefix}{key}"))),
        None => Ok(()),
    }
}
