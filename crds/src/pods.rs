//! Which pod states are trouble: the one rule the operator (to fail a rollout) and the CLI (to
//! show and explain pods) share.

use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Pod};

use crate::app::FailureReason;

/// Restarts after which a crash-looping container fails its rollout.
pub const CRASH_LOOP_RESTARTS: i32 = 3;

/// Waiting reasons of a container that cannot get its image and will not without a change.
const IMAGE_FAILURE_REASONS: [&str; 3] =
    ["ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"];
/// The first failed pull, retried by the kubelet: trouble, not yet a verdict.
const IMAGE_FIRST_FAILURE: &str = "ErrImagePull";
/// Waiting reason of a container the kubelet waits to restart.
const CRASH_LOOP_REASON: &str = "CrashLoopBackOff";

/// Waiting reason of a container whose env Secret (or a key of it) is missing.
const CONFIG_ERROR: &str = "CreateContainerConfigError";

/// How the kubelet's waiting reasons end when it cannot create or start a container from its
/// spec (`CreateContainerConfigError`: a missing Secret or key; `RunContainerError`, …).
const CREATE_FAILURE_SUFFIX: &str = "Error";

/// Why a container cannot become healthy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Its image cannot be pulled: the kubelet's reason and message.
    ImagePull { reason: String, message: String },
    /// It keeps exiting: restarts so far and how it last ended, in words.
    CrashLoop { restarts: i32, last_exit: String },
}

impl Failure {
    /// The short reason recorded in status and Events.
    pub fn reason(&self) -> FailureReason {
        match self {
            Failure::ImagePull { .. } => FailureReason::ImagePull,
            Failure::CrashLoop { .. } => FailureReason::CrashLoop,
        }
    }

    /// What happened to `pod`, in words.
    pub fn describe(&self, pod: &str) -> String {
        match self {
            Failure::ImagePull { reason, message } if message.is_empty() => {
                format!("pod {pod} cannot pull its image ({reason})")
            }
            Failure::ImagePull { reason, message } => {
                format!("pod {pod} cannot pull its image ({reason}): {message}")
            }
            Failure::CrashLoop {
                restarts,
                last_exit,
            } => format!("pod {pod} is crash-looping ({restarts} restarts, {last_exit})"),
        }
    }
}

/// The failure of a container, if it has one: its image cannot be pulled, or it has restarted
/// [`CRASH_LOOP_RESTARTS`] times and is not ready. Real pods spend most of a crash loop
/// `terminated` or starting again, not `waiting: CrashLoopBackOff`, so every phase counts.
pub fn container_failure(container: &ContainerStatus) -> Option<Failure> {
    let state = container.state.as_ref();
    let waiting = state.and_then(|s| s.waiting.as_ref());
    let waiting_reason = waiting
        .and_then(|w| w.reason.as_deref())
        .unwrap_or_default();
    if IMAGE_FAILURE_REASONS.contains(&waiting_reason) {
        return Some(Failure::ImagePull {
            reason: waiting_reason.to_owned(),
            message: waiting.and_then(|w| w.message.clone()).unwrap_or_default(),
        });
    }
    if container.restart_count < CRASH_LOOP_RESTARTS || container.ready {
        return None;
    }
    let terminated = state.and_then(|s| s.terminated.as_ref());
    let last = terminated.or_else(|| container.last_state.as_ref()?.terminated.as_ref());
    let crashing = waiting_reason == CRASH_LOOP_REASON
        || terminated.is_some()
        || last.is_some_and(|t| t.exit_code != 0);
    crashing.then(|| Failure::CrashLoop {
        restarts: container.restart_count,
        last_exit: last.map_or_else(|| "exited".to_owned(), exit_in_words),
    })
}

/// Why a one-off process's container cannot start, as the kubelet's reason and message: its
/// image cannot be pulled (judged as for a rollout: not at the first pull, which is retried)
/// or its container cannot be made. A crash is no such case: a one-off process ends with a code.
pub fn start_failure(container: &ContainerStatus) -> Option<(String, String)> {
    if let Some(Failure::ImagePull { reason, message }) = container_failure(container) {
        return Some((reason, message));
    }
    let waiting = container.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    (reason.ends_with(CREATE_FAILURE_SUFFIX) && reason != IMAGE_FIRST_FAILURE).then(|| {
        (
            reason.to_owned(),
            waiting.message.clone().unwrap_or_default(),
        )
    })
}

/// Whether a container of `pod` cannot start because its config (the env Secret) is missing or
/// wrong: the moment a damaged env Secret of a running release matters.
pub fn lacks_its_config(pod: &Pod) -> bool {
    container_statuses(pod)
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
        .any(|reason| reason == CONFIG_ERROR)
}

/// The first failing container of `pod`.
pub fn pod_failure(pod: &Pod) -> Option<Failure> {
    container_statuses(pod).find_map(container_failure)
}

/// Whether `pod` shows a sign of trouble that may become a [`Failure`]: a container that
/// cannot get its image, waits to restart, or restarted and is not ready.
pub fn in_trouble(pod: &Pod) -> bool {
    container_statuses(pod).any(|c| {
        let reason = c
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref())
            .unwrap_or_default();
        IMAGE_FAILURE_REASONS.contains(&reason)
            || reason == IMAGE_FIRST_FAILURE
            || reason == CRASH_LOOP_REASON
            || (c.restart_count > 0 && !c.ready)
    })
}

fn container_statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
}

fn exit_in_words(terminated: &ContainerStateTerminated) -> String {
    match terminated.reason.as_deref() {
        Some("OOMKilled") => "killed for exceeding its memory limit".to_owned(),
        _ if terminated.signal.is_some_and(|s| s != 0) => {
            format!("killed by signal {}", terminated.signal.unwrap_or_default())
        }
        _ => format!("exit code {}", terminated.exit_code),
    }
}

#[cfg(test)]
mod tests;
