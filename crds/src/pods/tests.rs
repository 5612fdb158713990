use super::*;

/// A container status as the kubelet reports it, from YAML.
fn container(yaml: &str) -> ContainerStatus {
    let base = "name: app\nimage: x\nimageID: ''\n";
    serde_saphyr::from_str(&format!("{base}{yaml}")).expect("a container status")
}

fn pod_with(yaml: &str) -> Pod {
    Pod {
        status: Some(k8s_openapi::api::core::v1::PodStatus {
            container_statuses: Some(vec![container(yaml)]),
            ..Default::default()
        }),
        ..Pod::default()
    }
}

#[test]
fn a_real_crash_loop_between_restarts_is_a_failure() {
    // What real pods show most of the time: terminated with Error, not waiting.
    let between = container(
        "ready: false\nrestartCount: 3\nstate:\n  terminated: {exitCode: 1, reason: Error}\n",
    );
    assert_eq!(
        container_failure(&between),
        Some(Failure::CrashLoop {
            restarts: 3,
            last_exit: "exit code 1".into()
        })
    );
    let starting_again = container(
        "ready: false\nrestartCount: 4\nstate:\n  running: {}\nlastState:\n  terminated: {exitCode: 2, reason: Error}\n",
    );
    assert_eq!(
        container_failure(&starting_again).map(|f| f.describe("web-1")),
        Some("pod web-1 is crash-looping (4 restarts, exit code 2)".into())
    );
    let backing_off = container(
        "ready: false\nrestartCount: 3\nstate:\n  waiting: {reason: CrashLoopBackOff}\nlastState:\n  terminated: {exitCode: 0, reason: Completed}\n",
    );
    assert!(container_failure(&backing_off).is_some());
}

#[test]
fn few_restarts_or_a_recovered_container_are_not_failures() {
    let early =
        container("ready: false\nrestartCount: 2\nstate:\n  waiting: {reason: CrashLoopBackOff}\n");
    assert_eq!(container_failure(&early), None);
    let recovered = container(
        "ready: true\nrestartCount: 5\nstate:\n  running: {}\nlastState:\n  terminated: {exitCode: 1}\n",
    );
    assert_eq!(container_failure(&recovered), None);
    let clean_restart = container(
        "ready: false\nrestartCount: 3\nstate:\n  running: {}\nlastState:\n  terminated: {exitCode: 0}\n",
    );
    assert_eq!(container_failure(&clean_restart), None);
}

#[test]
fn an_out_of_memory_kill_is_said_in_words() {
    let oom = container(
        "ready: false\nrestartCount: 3\nstate:\n  waiting: {reason: CrashLoopBackOff}\nlastState:\n  terminated: {exitCode: 137, reason: OOMKilled}\n",
    );
    assert_eq!(
        container_failure(&oom).map(|f| f.describe("web-1")),
        Some(
            "pod web-1 is crash-looping (3 restarts, killed for exceeding its memory limit)".into()
        )
    );
}

#[test]
fn an_image_that_cannot_be_pulled_fails_after_the_first_retry() {
    let first = pod_with(
        "ready: false\nrestartCount: 0\nstate:\n  waiting: {reason: ErrImagePull, message: not found}\n",
    );
    assert!(in_trouble(&first));
    assert_eq!(pod_failure(&first), None);
    let backoff = container(
        "ready: false\nrestartCount: 0\nstate:\n  waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image \"r/x:nope\"'}\n",
    );
    let failure = container_failure(&backoff).expect("a pull failure");
    assert_eq!(failure.reason(), FailureReason::ImagePull);
    assert_eq!(
        failure.describe("web-1"),
        "pod web-1 cannot pull its image (ImagePullBackOff): Back-off pulling image \"r/x:nope\""
    );
}

#[test]
fn trouble_is_any_sign_that_can_become_a_failure() {
    assert!(in_trouble(&pod_with(
        "ready: false\nrestartCount: 1\nstate:\n  running: {}\n"
    )));
    assert!(!in_trouble(&pod_with(
        "ready: true\nrestartCount: 1\nstate:\n  running: {}\n"
    )));
    assert!(!in_trouble(&pod_with(
        "ready: false\nrestartCount: 0\nstate:\n  waiting: {reason: ContainerCreating}\n"
    )));
}

#[test]
fn a_one_off_process_fails_to_start_by_the_same_image_rule() {
    // The first pull failure is retried by the kubelet, for a rollout and for `convox run` alike.
    let first = container(
        "ready: false\nrestartCount: 0\nstate:\n  waiting: {reason: ErrImagePull, message: not found}\n",
    );
    assert_eq!(container_failure(&first), None);
    assert_eq!(start_failure(&first), None);
    let backoff = container(
        "ready: false\nrestartCount: 0\nstate:\n  waiting: {reason: ImagePullBackOff, message: back-off}\n",
    );
    assert_eq!(
        start_failure(&backoff),
        Some(("ImagePullBackOff".into(), "back-off".into()))
    );
    let no_secret = container(
        "ready: false\nrestartCount: 0\nstate:\n  waiting: {reason: CreateContainerConfigError, message: secret \"r-env\" not found}\n",
    );
    assert_eq!(
        start_failure(&no_secret),
        Some((
            "CreateContainerConfigError".into(),
            "secret \"r-env\" not found".into()
        ))
    );
    let creating = container(
        "ready: false\nrestartCount: 0\nstate:\n  waiting: {reason: ContainerCreating}\n",
    );
    assert_eq!(start_failure(&creating), None);
}

#[test]
fn a_pod_that_cannot_start_for_its_env_secret_lacks_its_config() {
    let waiting = |reason: &str| {
        pod_with(&format!(
            "ready: false\nrestartCount: 0\nstate:\n  waiting: {{reason: {reason}}}\n"
        ))
    };
    assert!(lacks_its_config(&waiting("CreateContainerConfigError")));
    assert!(!lacks_its_config(&waiting("ContainerCreating")));
}
