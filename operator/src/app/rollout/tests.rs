use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

use slipway_crds::pods::in_trouble;

use super::*;

fn deployment(yaml: &str) -> Deployment {
    serde_saphyr::from_str(yaml).unwrap()
}

fn pod(yaml: &str) -> Pod {
    serde_saphyr::from_str(yaml).unwrap()
}

const COMPLETE: &str = r#"
metadata: {name: myapp-web, generation: 3}
spec:
  replicas: 2
  progressDeadlineSeconds: 60
  selector: {matchLabels: {slipway.dev/app: myapp}}
  template:
    metadata: {labels: {slipway.dev/release: rtwo}}
status:
  observedGeneration: 3
  replicas: 2
  updatedReplicas: 2
  availableReplicas: 2
"#;

#[test]
fn complete_when_every_replica_is_updated_and_available() {
    let d = deployment(COMPLETE);
    assert_eq!(observe("rtwo", &[Some(&d)], &[]), RolloutState::Complete);
}

#[test]
fn progressing_while_the_generation_is_not_observed() {
    let d = deployment(&COMPLETE.replace("observedGeneration: 3", "observedGeneration: 2"));
    assert_eq!(observe("rtwo", &[Some(&d)], &[]), RolloutState::Progressing);
}

#[test]
fn progressing_while_old_replicas_remain_or_the_template_is_another_release() {
    let surging =
        deployment(&COMPLETE.replace("  replicas: 2\n  updated", "  replicas: 3\n  updated"));
    assert_eq!(
        observe("rtwo", &[Some(&surging)], &[]),
        RolloutState::Progressing
    );
    assert_eq!(
        observe("rthree", &[Some(&deployment(COMPLETE))], &[]),
        RolloutState::Progressing
    );
    assert_eq!(observe("rtwo", &[None], &[]), RolloutState::Progressing);
}

#[test]
fn the_progress_deadline_fails_the_rollout() {
    let yaml = format!(
        "{COMPLETE}  conditions:\n  - {{type: Progressing, status: \"False\", reason: ProgressDeadlineExceeded}}\n"
    )
    .replace("availableReplicas: 2", "availableReplicas: 0");
    match observe("rtwo", &[Some(&deployment(&yaml))], &[]) {
        RolloutState::Failed { reason, message } => {
            assert_eq!(reason, FailureReason::ProgressDeadlineExceeded);
            assert_eq!(message, "myapp-web made no progress for 60s");
        }
        other => panic!("expected failure, got {other:?}"),
    }
}

const CRASHING: &str = r#"
metadata: {name: myapp-web-abc, labels: {slipway.dev/release: rtwo}}
status:
  containerStatuses:
  - name: main
    image: nginx
    imageID: ""
    ready: false
    restartCount: RESTARTS
    state: {waiting: {reason: CrashLoopBackOff}}
"#;

#[test]
fn a_crash_loop_fails_the_rollout_past_the_restart_limit() {
    let d = deployment(COMPLETE);
    let few = pod(&CRASHING.replace("RESTARTS", "1"));
    assert_eq!(observe("rtwo", &[Some(&d)], &[few]), RolloutState::Complete);
    let many = pod(&CRASHING.replace("RESTARTS", "3"));
    assert!(matches!(
        observe("rtwo", &[Some(&d)], std::slice::from_ref(&many)),
        RolloutState::Failed {
            reason: FailureReason::CrashLoop,
            ..
        }
    ));
    assert_eq!(
        observe("rone", &[], &[many]),
        RolloutState::Complete,
        "pods of other releases do not count"
    );
}

#[test]
fn an_image_that_cannot_be_pulled_fails_the_rollout() {
    let p = pod(&CRASHING
        .replace("CrashLoopBackOff", "ImagePullBackOff")
        .replace("RESTARTS", "0"));
    assert!(matches!(
        observe("rtwo", &[], &[p]),
        RolloutState::Failed {
            reason: FailureReason::ImagePull,
            ..
        }
    ));
}

#[test]
fn only_pods_in_trouble_call_for_a_look() {
    assert!(in_trouble(&pod(&CRASHING.replace("RESTARTS", "1"))));
    let pulling = CRASHING.replace("CrashLoopBackOff", "ImagePullBackOff");
    assert!(in_trouble(&pod(&pulling.replace("RESTARTS", "0"))));
    let starting = CRASHING.replace("CrashLoopBackOff", "ContainerCreating");
    assert!(!in_trouble(&pod(&starting.replace("RESTARTS", "0"))));
    let running = "metadata: {name: myapp-web-abc}\nstatus: {phase: Running}\n";
    assert!(!in_trouble(&pod(running)));
}
