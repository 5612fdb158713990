//! The one-off pod and the exit status, without a cluster.
use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

fn app() -> App {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "App",
        "metadata": { "name": "myapp", "uid": "uid-1" }, "spec": {}
    }))
    .unwrap()
}

fn release() -> Release {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "Release",
        "metadata": { "name": "rcdefghijkl" },
        "spec": {
            "app": "myapp", "build": "babcdefghij",
            "manifest": "services:\n  web:\n    image: nginx\n    port: 5000\n    scale:\n      cpu: 250\n",
            "images": { "web": "registry/web:2" },
            "env": { "PLAIN": "1" },
            "envSecret": { "name": "rcdefghijkl-env", "keys": ["FOO"], "sha256": "x" }
        }
    }))
    .unwrap()
}

#[test]
fn a_run_pod_has_the_service_image_env_and_no_routing_labels() {
    let words = vec![
        "bin/migrate".to_string(),
        "--step".to_string(),
        "2".to_string(),
    ];
    let pod = run_pod(&app(), &release(), "web", &words, true).unwrap();
    let name = pod.name_any();
    assert!(
        name.starts_with("myapp-web-run-") && name.len() == "myapp-web-run-".len() + 5,
        "{name}"
    );
    let tags = pod.labels();
    assert_eq!(tags[labels::APP], "myapp");
    assert_eq!(tags[labels::RUN_SERVICE], "web");
    assert_eq!(tags[labels::RUN_RELEASE], "rcdefghijkl");
    assert!(!tags.contains_key(labels::SERVICE) && !tags.contains_key(labels::RELEASE));
    assert_eq!(pod.owner_references()[0].uid, "uid-1");
    let spec = pod.spec.unwrap();
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    let c = &spec.containers[0];
    assert_eq!(c.image.as_deref(), Some("registry/web:2"));
    assert_eq!(
        c.command.clone().unwrap(),
        ["sh", "-c", "bin/migrate --step 2"]
    );
    assert_eq!((c.stdin, c.tty), (Some(true), Some(true)));
    let env: Vec<(String, String)> = c
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap()))
        .collect();
    assert!(env.contains(&("RELEASE".into(), "RCDEFGHIJKL".into())));
    assert!(env.contains(&("PLAIN".into(), "1".into())));
    let from = c.env_from.clone().unwrap();
    assert_eq!(from[0].secret_ref.as_ref().unwrap().name, "rcdefghijkl-env");
    assert_eq!(
        c.resources.clone().unwrap().requests.unwrap()["cpu"].0,
        "250m"
    );
}

#[test]
fn a_missing_service_is_named() {
    let err = run_pod(&app(), &release(), "worker", &["true".into()], false).unwrap_err();
    assert_eq!(err.to_string(), "no such service: worker");
}

#[test]
fn exit_codes_come_from_the_final_status() {
    assert_eq!(exit_code(None), 0);
    let success = Status {
        status: Some("Success".into()),
        ..Status::default()
    };
    assert_eq!(exit_code(Some(&success)), 0);
    let failed = Status {
        status: Some("Failure".into()),
        reason: Some("NonZeroExitCode".into()),
        details: Some(StatusDetails {
            causes: Some(vec![StatusCause {
                reason: Some("ExitCode".into()),
                message: Some("3".into()),
                field: None,
            }]),
            ..StatusDetails::default()
        }),
        ..Status::default()
    };
    assert_eq!(exit_code(Some(&failed)), 3);
    let odd = Status {
        status: Some("Failure".into()),
        ..Status::default()
    };
    assert_eq!(exit_code(Some(&odd)), 1);
}

fn waiting(reason: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": "myapp-web-run-abcde" },
        "status": { "containerStatuses": [{
            "name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": { "waiting": { "reason": reason, "message": "m" } }
        }] }
    }))
    .unwrap()
}

#[test]
fn a_process_is_stuck_by_the_rule_a_rollout_follows() {
    // The first failed pull is retried by the kubelet: not a verdict, for the operator either.
    assert_eq!(progress(&waiting("ErrImagePull")), Ok(None));
    assert_eq!(
        progress(&waiting("ImagePullBackOff")),
        Err("ImagePullBackOff: m".to_string())
    );
    assert_eq!(
        progress(&waiting("CreateContainerConfigError")),
        Err("CreateContainerConfigError: m".to_string())
    );
    assert_eq!(progress(&waiting("ContainerCreating")), Ok(None));
    // `convox ps` shows the first failed pull as trouble, as the operator takes a look at it.
    assert!(slipway_crds::pods::in_trouble(&waiting("ErrImagePull")));
    assert_eq!(
        crate::output::process::process_row(&waiting("ErrImagePull")).status,
        "crashed"
    );
}
