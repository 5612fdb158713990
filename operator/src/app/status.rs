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

/// What one pass reports: the next status, the Events it deserves, the promotions it finished.
#[derive(Clone, Debug)]
pub struct Report {
    /// The App's next status.
    pub status: AppStatus,
    /// The Events the change from the present status deserves.
    pub events: Vec<AppEvent>,
    /// The promotions this pass ended (the new entries of the history), newest first.
    pub finished: Vec<Promotion>,
}

/// How the App stands, as its Ready, Reconciling and Stalled conditions say it.
struct Verdict {
    ready: bool,
    reason: &'static str,
    message: String,
    /// Progress needs a person.
    stalled: bool,
}

impl Verdict {
    fn running(message: String) -> Verdict {
        Verdict {
            ready: true,
            reason: reason::RUNNING,
            message,
            stalled: false,
        }
    }

    fn moving(reason: &'static str, message: String) -> Verdict {
        Verdict {
            ready: false,
            reason,
            message,
            stalled: false,
        }
    }

    fn stalled(reason: &'static str, message: String) -> Verdict {
        Verdict {
            ready: false,
            reason,
            message,
            stalled: true,
        }
    }
}

/// The next status being made, and the promotions it ended.
struct Draft {
    status: AppStatus,
    finished: Vec<Promotion>,
}

/// What `app` should report after a pass that saw `seen`.
pub fn report(app: &App, seen: &Observation, now: &Time) -> Report {
    let old = app.status.clone().unwrap_or_default();
    let mut next = Draft {
        status: AppStatus {
            observed_generation: app.metadata.generation,
            services: seen.services.clone(),
            repository: seen.repository.clone(),
            ..old.clone()
        },
        finished: vec![],
    };
    let verdict = match &seen.invalid {
        Some(invalid) => {
            // What runs still moves on; only the verdict is the invalid release's.
            verdict(&mut next, app, &old, seen, now);
            Verdict::stalled(reason::INVALID_RELEASE, invalid.clone())
        }
        None => verdict(&mut next, app, &old, seen, now),
    };
    let mut status = next.status;
    set_conditions(&mut status, &verdict, app.metadata.generation, now);
    Report {
        events: events(&old, &status),
        status,
        finished: next.finished,
    }
}

/// Moves phase, release, rollout and history on by what was seen; says how the App stands.
fn verdict(
    next: &mut Draft,
    app: &App,
    old: &AppStatus,
    seen: &Observation,
    now: &Time,
) -> Verdict {
    let display = |r: &str| id::display_id(r);
    match (&seen.mode, &seen.state) {
        (Mode::Idle, _) => {
            next.status.phase = Some(AppPhase::Pending);
            next.status.rollout = None;
            Verdict::moving(reason::NO_RELEASE, "no release has been promoted".into())
        }
        (Mode::Stuck(failed), _) => {
            next.status.phase = Some(AppPhase::Failed);
            next.status.rollout = None;
            let msg = failure_message(old, failed);
            Verdict::stalled(
                reason::ROLLOUT_FAILED,
                format!("{msg}; there is no earlier release to roll back to"),
            )
        }
        (Mode::Steady(release), state) => {
            finish_superseded(next, release, now);
            next.status.phase = Some(AppPhase::Running);
            next.status.rollout = None;
            match state {
                Some(RolloutState::Complete) => {
                    Verdict::running(format!("release {} is running", display(release)))
                }
                Some(RolloutState::Failed { message, .. }) => {
                    Verdict::moving(reason::DEGRADED, message.clone())
                }
                _ => Verdict::moving(
                    reason::UPDATING,
                    format!("waiting for release {} to be available", display(release)),
                ),
            }
        }
        (Mode::Promote(release), state) => {
            finish_superseded(next, release, now);
            promote(next, app, release, state.as_ref(), now)
        }
        (Mode::Rollback { to, failed }, state) => {
            let msg = failure_message(old, failed);
            match state {
                Some(RolloutState::Complete) => {
                    next.status.phase = Some(AppPhase::Failed);
                    next.status.rollout = None;
                    Verdict::stalled(
                        reason::ROLLED_BACK,
                        format!("{msg}; rolled back to {}", display(to)),
                    )
                }
                Some(RolloutState::Failed { message, .. }) => {
                    next.status.phase = Some(AppPhase::Failed);
                    next.status.rollout = None;
                    Verdict::stalled(
                        reason::ROLLOUT_FAILED,
                        format!(
                            "{msg}; the rollback to {} failed too: {message}",
                            display(to)
                        ),
                    )
                }
                _ => {
                    next.status.phase = Some(AppPhase::RollingBack);
                    start_rollout(&mut next.status, to, Some(failed), true, now);
                    Verdict::moving(
                        reason::ROLLING_BACK,
                        format!("{msg}; rolling back to {}", display(to)),
                    )
                }
            }
        }
    }
}

// Ready, Reconciling (moving on its own) and Stalled (needs a person), from one verdict.
fn set_conditions(status: &mut AppStatus, verdict: &Verdict, generation: Option<i64>, now: &Time) {
    let reconciling = !verdict.ready && !verdict.stalled && status.phase != Some(AppPhase::Pending);
    let message_if = |on: bool| {
        if on {
            verdict.message.clone()
        } else {
            String::new()
        }
    };
    let conds = &mut status.conditions;
    for (kind, on, message) in [
        (READY, verdict.ready, verdict.message.clone()),
        (RECONCILING, reconciling, message_if(reconciling)),
        (STALLED, verdict.stalled, message_if(verdict.stalled)),
    ] {
        conditions::set(
            conds,
            conditions::new(kind, on, verdict.reason, message, generation, now),
        );
    }
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
    next: &mut Draft,
    app: &App,
    release: &str,
    state: Option<&RolloutState>,
    now: &Time,
) -> Verdict {
    let display = id::display_id(release);
    let from = next.status.release.clone();
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
            let status = &mut next.status;
            status.phase = Some(AppPhase::Running);
            status.release = Some(release.to_string());
            status.rollout = None;
            status.failed_release = None;
            Verdict::running(format!("release {display} is running"))
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
            next.status.failed_release = Some(FailedRelease {
                release: release.to_string(),
                reason: *cause,
                message: message.clone(),
                retry: app.spec.retry,
            });
            match from {
                Some(good) => {
                    next.status.phase = Some(AppPhase::RollingBack);
                    start_rollout(&mut next.status, &good, Some(release), true, now);
                    Verdict::moving(
                        reason::ROLLING_BACK,
                        format!(
                            "release {display} failed: {message}; rolling back to {}",
                            id::display_id(&good)
                        ),
                    )
                }
                None => {
                    next.status.phase = Some(AppPhase::Failed);
                    next.status.rollout = None;
                    Verdict::stalled(
                        reason::ROLLOUT_FAILED,
                        format!(
                            "release {display} failed: {message}; there is no earlier release to roll back to"
                        ),
                    )
                }
            }
        }
        _ => {
            next.status.phase = Some(AppPhase::Updating);
            start_rollout(&mut next.status, release, from.as_deref(), false, now);
            Verdict::moving(reason::UPDATING, format!("rolling out release {display}"))
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
fn finish_superseded(next: &mut Draft, release: &str, now: &Time) {
    if let Some(rollout) = next.status.rollout.clone()
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
        next.status.rollout = None;
    }
}

fn record(
    next: &mut Draft,
    release: &str,
    from: Option<&str>,
    result: PromotionResult,
    reason: Option<&String>,
    now: &Time,
) {
    let started = next
        .status
        .rollout
        .as_ref()
        .filter(|r| r.release == release)
        .map_or_else(|| now.clone(), |r| r.started.clone());
    let promotion = Promotion {
        release: release.to_string(),
        from: from.map(String::from),
        result,
        started,
        finished: now.clone(),
        reason: reason.cloned(),
    };
    next.status.history.insert(0, promotion.clone());
    next.status.history.truncate(HISTORY_ENTRIES);
    next.finished.insert(0, promotion);
}

/// Whether `new` differs from `old` only in how many replicas are updated and ready: such a
/// change is written at most once a while during a rollout, not once per pod.
pub fn counts_only(old: &AppStatus, new: &AppStatus) -> bool {
    if old == new || old.services.len() != new.services.len() {
        return false;
    }
    let mut counted = new.clone();
    for (service, before) in counted.services.iter_mut().zip(&old.services) {
        if service.name == before.name {
            service.updated = before.updated;
            service.ready = before.ready;
        }
    }
    &counted == old
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
