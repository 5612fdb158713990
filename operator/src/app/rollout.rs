//! Rollout observation: live Deployments and Pods of a release become one state (pure).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use slipway_crds::app::FailureReason;
use slipway_crds::{labels, pods};

/// How far the rollout of a release has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutState {
    /// Still moving (or not yet observed by the Deployment controller).
    Progressing,
    /// Every Deployment runs the release with all replicas updated and available.
    Complete,
    /// The release cannot become healthy.
    Failed {
        /// ProgressDeadlineExceeded, CrashLoop or ImagePull.
        reason: FailureReason,
        /// What happened, naming the service.
        message: String,
    },
}

/// Observes the rollout of `release` across `deployments` (exactly those of the plan) and the app's `pods`.
pub fn observe(release: &str, deployments: &[Option<&Deployment>], pods: &[Pod]) -> RolloutState {
    if let Some(failed) = failing_pod(release, pods) {
        return failed;
    }
    let mut complete = true;
    for deployment in deployments {
        match deployment.map(|d| deployment_state(release, d)) {
            None => complete = false,
            Some(RolloutState::Complete) => {}
            Some(RolloutState::Progressing) => complete = false,
            Some(failed) => return failed,
        }
    }
    if complete {
        RolloutState::Complete
    } else {
        RolloutState::Progressing
    }
}

fn deployment_state(release: &str, deployment: &Deployment) -> RolloutState {
    let (Some(spec), Some(status)) = (&deployment.spec, &deployment.status) else {
        return RolloutState::Progressing;
    };
    let rendered_release = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .and_then(|l| l.get(labels::RELEASE));
    // A status that has not seen the latest spec says nothing about this release.
    let observed =
        status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0);
    if rendered_release.map(String::as_str) != Some(release) || !observed {
        return RolloutState::Progressing;
    }
    let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing"
            && c.status == "False"
            && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    if deadline_exceeded {
        return RolloutState::Failed {
            reason: FailureReason::ProgressDeadlineExceeded,
            message: format!(
                "{name} made no progress for {}s",
                spec.progress_deadline_seconds.unwrap_or(600)
            ),
        };
    }
    let want = spec.replicas.unwrap_or(1);
    let done = status.updated_replicas.unwrap_or(0) == want
        && status.replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) == want;
    if done {
        RolloutState::Complete
    } else {
        RolloutState::Progressing
    }
}

fn failing_pod(release: &str, pods: &[Pod]) -> Option<RolloutState> {
    let of_release = pods.iter().filter(|p| {
        p.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::RELEASE))
            .map(String::as_str)
            == Some(release)
            && p.metadata.deletion_timestamp.is_none()
    });
    of_release.into_iter().find_map(|pod| {
        let failure = pods::pod_failure(pod)?;
        Some(RolloutState::Failed {
            reason: failure.reason(),
            message: failure.describe(pod.metadata.name.as_deref().unwrap_or_default()),
        })
    })
}

#[cfg(test)]
mod tests;
