//! The chart's Argo CD health check for App, run in Lua 5.1 against sample Apps that look like
//! what the operator writes in each phase. Needs no cluster.

#[path = "support/argocd.rs"]
mod argocd;

use argocd::health;

/// An App of `generation` with `status` (YAML), as Argo CD hands it to the script.
fn app(generation: i64, status: Option<&str>) -> serde_json::Value {
    let mut app = serde_json::json!({
        "apiVersion": "slipway.dev/v1alpha1",
        "kind": "App",
        "metadata": { "name": "myapp", "namespace": "team", "generation": generation },
        "spec": { "release": "rbbbbbbbbbb" },
    });
    if let Some(status) = status {
        app["status"] = serde_saphyr::from_str(status).expect("sample status YAML");
    }
    app
}

/// A status with the three kstatus conditions.
fn status(
    observed: i64,
    phase: &str,
    ready: (&str, &str, &str),
    reconciling: bool,
    stalled: bool,
) -> String {
    let (ready_status, reason, message) = ready;
    let flag = |on: bool| if on { "True" } else { "False" };
    let said = |on: bool| if on { message } else { "" };
    format!(
        "observedGeneration: {observed}
phase: {phase}
release: raaaaaaaaaa
conditions:
- type: Ready
  status: \"{ready_status}\"
  reason: {reason}
  message: \"{message}\"
  lastTransitionTime: \"2026-01-01T00:00:00Z\"
- type: Reconciling
  status: \"{}\"
  reason: {reason}
  message: \"{}\"
  lastTransitionTime: \"2026-01-01T00:00:00Z\"
- type: Stalled
  status: \"{}\"
  reason: {reason}
  message: \"{}\"
  lastTransitionTime: \"2026-01-01T00:00:00Z\"
",
        flag(reconciling),
        said(reconciling),
        flag(stalled),
        said(stalled)
    )
}

#[test]
fn running_is_healthy() {
    let s = status(
        2,
        "Running",
        ("True", "Running", "release RBBBBBBBBBB is running"),
        false,
        false,
    );
    assert_eq!(
        health(&app(2, Some(&s))),
        ("Healthy".into(), "release RBBBBBBBBBB is running".into())
    );
}

#[test]
fn rolling_out_or_back_is_progressing() {
    let updating = status(
        3,
        "Updating",
        ("False", "Updating", "rolling out release RBBBBBBBBBB"),
        true,
        false,
    );
    assert_eq!(
        health(&app(3, Some(&updating))),
        (
            "Progressing".into(),
            "rolling out release RBBBBBBBBBB".into()
        )
    );
    let back = status(
        3,
        "RollingBack",
        (
            "False",
            "RollingBack",
            "release RBBBBBBBBBB failed: ProgressDeadlineExceeded; rolling back to RAAAAAAAAAA",
        ),
        true,
        false,
    );
    assert_eq!(health(&app(3, Some(&back))).0, "Progressing");
    // The phase alone is enough, even if a condition lags.
    let phase_only = status(
        3,
        "RollingBack",
        ("False", "RollingBack", "rolling back"),
        false,
        false,
    );
    assert_eq!(health(&app(3, Some(&phase_only))).0, "Progressing");
    // Running the desired release but not all replicas available yet.
    let waiting = status(
        3,
        "Running",
        (
            "False",
            "Updating",
            "waiting for release RBBBBBBBBBB to be available",
        ),
        true,
        false,
    );
    assert_eq!(health(&app(3, Some(&waiting))).0, "Progressing");
}

#[test]
fn a_status_the_operator_has_not_caught_up_with_is_progressing() {
    let old = status(
        2,
        "Running",
        ("True", "Running", "release RAAAAAAAAAA is running"),
        false,
        false,
    );
    let (verdict, message) = health(&app(3, Some(&old)));
    assert_eq!(verdict, "Progressing");
    assert!(message.contains("generation 3"), "{message}");
    assert_eq!(health(&app(1, None)).0, "Progressing", "no status yet");
}

#[test]
fn rolled_back_invalid_or_stuck_releases_are_degraded() {
    let rolled_back = status(
        4,
        "Failed",
        (
            "False",
            "RolledBack",
            "release RBBBBBBBBBB failed: ProgressDeadlineExceeded; rolled back to RAAAAAAAAAA",
        ),
        false,
        true,
    );
    assert_eq!(
        health(&app(4, Some(&rolled_back))),
        (
            "Degraded".into(),
            "release RBBBBBBBBBB failed: ProgressDeadlineExceeded; rolled back to RAAAAAAAAAA"
                .into()
        )
    );
    let invalid = status(
        5,
        "Running",
        ("False", "InvalidRelease", "no such release: RMISSINGREL"),
        false,
        true,
    );
    assert_eq!(
        health(&app(5, Some(&invalid))),
        ("Degraded".into(), "no such release: RMISSINGREL".into())
    );
    // Failed with no earlier release to go back to; the phase alone is enough too.
    let no_conditions = "observedGeneration: 6\nphase: Failed\n";
    assert_eq!(health(&app(6, Some(no_conditions))).0, "Degraded");
}

#[test]
fn an_app_with_nothing_promoted_is_suspended() {
    let pending = status(
        1,
        "Pending",
        ("False", "NoRelease", "no release has been promoted"),
        false,
        false,
    );
    assert_eq!(
        health(&app(1, Some(&pending))),
        ("Suspended".into(), "no release has been promoted".into())
    );
}
