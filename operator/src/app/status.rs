//! Status: what was decided and observed becomes the next AppStatus and its Events (pure).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use slipway_crds::app::{
    AppPhase, AppStatus, FailedRelease, HISTORY_ENTRIES, Promotion, PromotionResult, Rollout,
    ServiceStatus,
};
use slipway_crds::conditions::{self, READY, RECONCILING, STALLED, reason};
use slipway_crds::{App, id};

use super::decide::Mode;
use super::rollout::RolloutState;

/// What one reconcile pass saw.
#[derive(Clone, Debug)]
pub struct Observation {
    /// What was decided.
    pub mode: Mode,
    /// The rollout of the rendered release; None when nothing could be rendered.
    pub state: Option<RolloutState>,
    /// Why the desired (or the rendered) release is unusable, if it is.
    pub invalid: Option<String>,
    /// What each service runs.
    pub services: Vec<ServiceStatus>,
    /// Where the app's source builds push, if the cluster has a builder.
    pub repository: Option<String>,
}

/// The next status of `app`.
pub fn next_status(app: &App, seen: &Observation, now: &Time) -> AppStatus {
    let old = app.status.clone().unwrap_or_default();
    let mut next = AppStatus {
        observed_generation: app.metadata.generation,
        services: seen.services.clone(),
        repository: seen.repository.clone(),
        ..old.clone()
    };
    let generation = app.metadata.generation;
    let display = |r: &str| id::display_id(r);
    // The message and reason for Ready, and whether progress needs a person (Stalled).
    let (ready, why, message, stalled): (bool, &str, String, bool) = match (&seen.mode, &seen.state)
    {
        (Mode::Idle, _) => {
            next.phase = Some(AppPhase::Pending);
            next.rollout = None;
            (
                false,
                reason::NO_RELEASE,
                "no release has been promoted".into(),
                false,
            )
        }
        (Mode::Stuck(failed), _) => {
            next.phase = Some(AppPhase::Failed);
            next.rollout = None;
            let msg = failure_message(&old, failed);
            (
                false,
                reason::ROLLOUT_FAILED,
                format!("{msg}; there is no earlier release to roll back to"),
                true,
            )
        }
        (Mode::Steady(release), state) => {
            finish_superseded(&mut next, release, now);
            next.phase = Some(AppPhase::Running);
            next.rollout = None;
            match state {
                Some(RolloutState::Complete) => (
                    true,
                    reason::RUNNING,
                    format!("release {} is running", display(release)),
                    false,
                ),
                Some(RolloutState::Failed { message, .. }) => {
                    (false, reason::DEGRADED, message.clone(), false)
                }
                _ => (
                    false,
                    reason::UPDATING,
                    format!("waiting for release {} to be available", display(release)),
                    false,
                ),
            }
        }
        (Mode::Promote(release), state) => {
            finish_superseded(&mut next, release, now);
            promote(&mut next, app, release, state.as_ref(), now)
        }
        (Mode::Rollback { to, failed }, state) => {
            let msg = failure_message(&old, failed);
            match state {
                Some(RolloutState::Complete) => {
                    next.phase = Some(AppPhase::Failed);
                    next.rollout = None;
                    (
                        false,
                        reason::ROLLED_BACK,
                        format!("{msg}; rolled back to {}", display(to)),
                        true,
                    )
                }
                Some(RolloutState::Failed { message, .. }) => {
                    next.phase = Some(AppPhase::Failed);
                    next.rollout = None;
                    (
                        false,
                        reason::ROLLOUT_FAILED,
                        format!(
                            "{msg}; the rollback to {} failed too: {message}",
                            display(to)
                        ),
                        true,
                    )
                }
                _ => {
                    next.phase = Some(AppPhase::RollingBack);
                    start_rollout(&mut next, to, Some(failed), true, now);
                    (
                        false,
                        reason::ROLLING_BACK,
                        format!("{msg}; rolling back to {}", display(to)),
                        false,
                    )
                }
            }
        }
    };
    let (ready, why, message, stalled) = match &seen.invalid {
        Some(invalid) => (false, reason::INVALID_RELEASE, invalid.clone(), true),
        None => (ready, why, message, stalled),
    };
    let reconciling = !ready && !stalled && next.phase != Some(AppPhase::Pending);
    let conds = &mut next.conditions;
    conditions::set(
        conds,
        conditions::new(READY, ready, why, message.clone(), generation, now),
    );
    conditions::set(
        conds,
        conditions::new(
            RECONCILING,
            reconciling,
            why,
            if reconciling {
                message.clone()
            } else {
                String::new()
            },
            generation,
            now,
        ),
    );
    conditions::set(
        conds,
        conditions::new(
            STALLED,
            stalled,
            why,
            if stalled { message } else { String::new() },
            generation,
            now,
        ),
    );
    next
}

fn failure_message(old: &AppStatus, failed: &str) -> String {
    match &old.failed_release {
        Some(f) if f.release == failed => {
            format!("release {} failed: {}", id::display_id(failed), f.message)
        }
        _ => format!("release {} failed", id::display_id(failed)),
    }
}

fn promote(
    next: &mut AppStatus,
    app: &App,
    release: &str,
    state: Option<&RolloutState>,
    now: &Time,
) -> (bool, &'static str, String, bool) {
    let display = id::display_id(release);
    let from = next.release.clone();
    match state {
        Some(RolloutState::Complete) => {
            record(
                next,
                release,
                from.as_deref(),
                PromotionResult::Succeeded,
                None,
                now,
            );
            next.phase = Some(AppPhase::Running);
            next.release = Some(release.to_string());
            next.rollout = None;
            next.failed_release = None;
            (
                true,
                reason::RUNNING,
                format!("release {display} is running"),
                false,
            )
        }
        Some(RolloutState::Failed {
            reason: cause,
            message,
        }) => {
            let result = if from.is_some() {
                PromotionResult::RolledBack
            } else {
                PromotionResult::Failed
            };
            record(next, release, from.as_deref(), result, Some(message), now);
            next.failed_release = Some(FailedRelease {
                release: release.to_string(),
                reason: *cause,
                message: message.clone(),
                retry: app.spec.retry,
            });
            match from {
                Some(good) => {
                    next.phase = Some(AppPhase::RollingBack);
                    start_rollout(next, &good, Some(release), true, now);
                    (
                        false,
                        reason::ROLLING_BACK,
                        format!(
                            "release {display} failed: {message}; rolling back to {}",
                            id::display_id(&good)
                        ),
                        false,
                    )
                }
                None => {
                    next.phase = Some(AppPhase::Failed);
                    next.rollout = None;
                    (
                        false,
                        reason::ROLLOUT_FAILED,
                        format!(
                            "release {display} failed: {message}; there is no earlier release to roll back to"
                        ),
                        true,
                    )
                }
            }
        }
        _ => {
            next.phase = Some(AppPhase::Updating);
            start_rollout(next, release, from.as_deref(), false, now);
            (
                false,
                reason::UPDATING,
                format!("rolling out release {display}"),
                false,
            )
        }
    }
}

// Keeps the start time of a rollout already under way, so status does not change on every pass.
fn start_rollout(
    next: &mut AppStatus,
    release: &str,
    from: Option<&str>,
    rollback: bool,
    now: &Time,
) {
    let same = next
        .rollout
        .as_ref()
        .is_some_and(|r| r.release == release && r.rollback == rollback);
    if !same {
        next.rollout = Some(Rollout {
            release: release.to_string(),
            from: from.map(String::from),
            rollback,
            started: now.clone(),
        });
    }
}

// A promotion in flight that is no longer what the App wants ends as Superseded.
fn finish_superseded(next: &mut AppStatus, release: &str, now: &Time) {
    if let Some(rollout) = next.rollout.clone()
        && !rollout.rollback
        && rollout.release != release
    {
        record(
            next,
            &rollout.release,
            rollout.from.as_deref(),
            PromotionResult::Superseded,
            None,
            now,
        );
        next.rollout = None;
    }
}

fn record(
    next: &mut AppStatus,
    release: &str,
    from: Option<&str>,
    result: PromotionResult,
    reason: Option<&String>,
    now: &Time,
) {
    let started = next
        .rollout
        .as_ref()
        .filter(|r| r.release == release)
        .map_or_else(|| now.clone(), |r| r.started.clone());
    next.history.insert(
        0,
        Promotion {
            release: release.to_string(),
            from: from.map(String::from),
            result,
            started,
            finished: now.clone(),
            reason: reason.cloned(),
        },
    );
    next.history.truncate(HISTORY_ENTRIES);
}

/// An Event to publish on the App.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppEvent {
    /// Whether it is a warning.
    pub warning: bool,
    /// Short PascalCase reason.
    pub reason: &'static str,
    /// What happened.
    pub note: String,
}

/// The Events that the change from `old` to `new` deserves.
pub fn events(old: &AppStatus, new: &AppStatus) -> Vec<AppEvent> {
    let mut events = vec![];
    let phase = |s: &AppStatus| s.phase.unwrap_or(AppPhase::Pending);
    if phase(old) != phase(new) {
        events.push(AppEvent {
            warning: matches!(phase(new), AppPhase::Failed | AppPhase::RollingBack),
            reason: "StatusChanged",
            note: format!("Status: {} => {}", phase(old), phase(new)),
        });
    }
    if new.failed_release != old.failed_release
        && let Some(failed) = &new.failed_release
    {
        events.push(AppEvent {
            warning: true,
            reason: "RolloutFailed",
            note: format!(
                "release {} failed: {}",
                id::display_id(&failed.release),
                failed.message
            ),
        });
    }
    let ready = |s: &AppStatus| conditions::find(&s.conditions, READY).cloned();
    if let Some(cond) = ready(new)
        && cond.reason == reason::INVALID_RELEASE
        && ready(old).map(|c| (c.reason, c.message))
            != Some((cond.reason.clone(), cond.message.clone()))
    {
        events.push(AppEvent {
            warning: true,
            reason: "InvalidRelease",
            note: cond.message,
        });
    }
    events
}

#[cfg(test)]
mod tests;
