//! The pure decisions of promotion: who owns spec.release, the retry, the outcome, the events.

use k8s_openapi::api::events::v1::Event;
use serde_json::json;
use slipway_crds::App;

use super::*;

fn app(value: serde_json::Value) -> App {
    serde_json::from_value(value).unwrap()
}

fn managed(manager: &str, fields: serde_json::Value) -> serde_json::Value {
    json!({ "manager": manager, "operation": "Apply", "apiVersion": "slipway.dev/v1alpha1", "fieldsType": "FieldsV1", "fieldsV1": fields })
}

fn owned_by(entries: Vec<serde_json::Value>) -> App {
    app(json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "App",
        "metadata": { "name": "myapp", "managedFields": entries },
        "spec": { "release": "rabcdefghij" }
    }))
}

#[test]
fn gitops_managers_of_spec_release_are_detected() {
    let release = json!({ "f:spec": { "f:release": {} } });
    let other = json!({ "f:spec": { "f:progressDeadlineSeconds": {} } });
    assert_eq!(
        foreign_release_owner(&owned_by(vec![managed("convox", release.clone())])),
        None
    );
    assert_eq!(
        foreign_release_owner(&owned_by(vec![managed(
            "kubectl-client-side-apply",
            release.clone()
        )])),
        None
    );
    assert_eq!(
        foreign_release_owner(&owned_by(vec![
            managed("convox", release.clone()),
            managed("argocd-controller", release.clone()),
        ])),
        Some("argocd-controller".into())
    );
    assert_eq!(
        foreign_release_owner(&owned_by(vec![managed("kustomize-controller", other)])),
        None
    );
    assert_eq!(
        foreign_release_owner(&owned_by(vec![managed("kustomize-controller", release)])),
        Some("kustomize-controller".into())
    );
}

fn with_status(spec: serde_json::Value, status: serde_json::Value) -> App {
    app(json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "App",
        "metadata": { "name": "myapp", "generation": 4 },
        "spec": spec, "status": status
    }))
}

#[test]
fn promoting_the_failed_release_bumps_retry() {
    let failed = json!({ "release": "rb", "reason": "CrashLoop", "message": "m", "retry": 2 });
    let a = with_status(
        json!({ "release": "rb", "retry": 2 }),
        json!({ "release": "ra", "failedRelease": failed }),
    );
    assert_eq!(next_retry(&a, "rb"), Some(3));
    assert_eq!(next_retry(&a, "rc"), Some(2));
    let fresh = with_status(
        json!({}),
        json!({ "failedRelease": { "release": "rb", "reason": "x", "message": "m" } }),
    );
    assert_eq!(next_retry(&fresh, "rb"), Some(1));
    assert_eq!(next_retry(&fresh, "rc"), None);
}

#[test]
fn the_outcome_waits_for_the_operator_to_see_the_promotion() {
    let stale = with_status(
        json!({ "release": "rb" }),
        json!({ "observedGeneration": 3, "phase": "Running", "release": "rb" }),
    );
    assert!(judge(&stale, "rb", 4).is_none());
    let done = with_status(
        json!({ "release": "rb" }),
        json!({ "observedGeneration": 4, "phase": "Running", "release": "rb" }),
    );
    assert!(matches!(judge(&done, "rb", 4), Some(Ok(()))));
    let updating = with_status(
        json!({ "release": "rb" }),
        json!({ "observedGeneration": 4, "phase": "Updating", "release": "ra", "rollout": { "release": "rb", "rollback": false, "started": "2026-01-01T00:00:00Z" } }),
    );
    assert!(judge(&updating, "rb", 4).is_none());
}

#[test]
fn a_rollback_of_this_attempt_is_a_failure_an_older_one_is_not() {
    let rolled_back = with_status(
        json!({ "release": "rb", "retry": 1 }),
        json!({ "observedGeneration": 4, "phase": "Failed", "release": "ra", "failedRelease": { "release": "rb", "reason": "CrashLoop", "message": "m", "retry": 1 } }),
    );
    assert!(matches!(
        judge(&rolled_back, "rb", 4),
        Some(Err(Error::RolledBack))
    ));
    let retrying = with_status(
        json!({ "release": "rb", "retry": 2 }),
        json!({ "observedGeneration": 4, "phase": "Updating", "release": "ra", "failedRelease": { "release": "rb", "reason": "CrashLoop", "message": "m", "retry": 1 } }),
    );
    assert!(judge(&retrying, "rb", 4).is_none());
    let superseded = with_status(
        json!({ "release": "rc" }),
        json!({ "observedGeneration": 4 }),
    );
    let err = judge(&superseded, "rb", 4).unwrap().unwrap_err();
    assert_eq!(err.to_string(), "rb was superseded by rc");
}

#[test]
fn a_release_the_operator_cannot_use_fails_at_once_with_its_reason() {
    let ready = |reason: &str| {
        json!([{ "type": "Ready", "status": "False", "reason": reason,
        "message": "release rb: required env: TOKEN", "lastTransitionTime": "2026-01-01T00:00:00Z" }])
    };
    let invalid = with_status(
        json!({ "release": "rb" }),
        json!({ "observedGeneration": 4, "phase": "Running", "release": "ra", "conditions": ready("InvalidRelease") }),
    );
    let err = judge(&invalid, "rb", 4).unwrap().unwrap_err();
    assert_eq!(err.to_string(), "release rb: required env: TOKEN");
    let updating = with_status(
        json!({ "release": "rb" }),
        json!({ "observedGeneration": 4, "phase": "Updating", "release": "ra", "conditions": ready("Updating") }),
    );
    assert!(judge(&updating, "rb", 4).is_none());
}

fn event(kind: &str, name: &str) -> Event {
    serde_json::from_value(json!({
        "metadata": { "name": "e", "uid": "u" },
        "eventTime": "2026-01-01T00:00:51.000000Z",
        "regarding": { "kind": kind, "name": name },
        "note": "n"
    }))
    .unwrap()
}

#[test]
fn only_events_of_the_app_and_its_workloads_are_shown() {
    let deployments = vec!["web-main".to_string()];
    let show = |kind: &str, name: &str| event_object(&event(kind, name), "web", &deployments);
    assert_eq!(show("App", "web").as_deref(), Some("app/web"));
    assert_eq!(show("Deployment", "web-main").as_deref(), Some("web-main"));
    assert_eq!(
        show("ReplicaSet", "web-main-745f845dc").as_deref(),
        Some("web-main-745f845dc")
    );
    assert_eq!(
        show("Pod", "web-main-745f845dc-rzl2q").as_deref(),
        Some("web-main-745f845dc-rzl2q")
    );
    assert_eq!(show("App", "web-api"), None);
    assert_eq!(show("Deployment", "web-api-main"), None);
    assert_eq!(show("Pod", "web-api-main-745f845dc-rzl2q"), None);
    assert_eq!(
        show("Pod", "web-main-run-qwldt"),
        None,
        "a convox run process"
    );
    assert_eq!(
        event_time(&event("App", "web")).unwrap().to_string(),
        "2026-01-01T00:00:51Z"
    );
}

#[test]
fn deployments_come_from_the_manifest_and_the_status() {
    let a = with_status(
        json!({}),
        json!({ "services": [{ "name": "worker", "replicas": 1, "updated": 1, "ready": 1 }] }),
    );
    let release: slipway_crds::Release = serde_json::from_value(json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "Release",
        "metadata": { "name": "rb" },
        "spec": { "app": "myapp", "manifest": "services:\n  web:\n    image: nginx\n" }
    }))
    .unwrap();
    assert_eq!(
        deployment_names(&a, &release),
        ["myapp-web", "myapp-worker"]
    );
}
