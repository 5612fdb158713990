use slipway_crds::app::{FailureReason, ServiceStatus};
use slipway_crds::{App, AppSpec};

use super::*;

fn next_status(app: &App, seen: &Observation, now: &Time) -> AppStatus {
    report(app, seen, now).status
}

fn at(s: &str) -> Time {
    Time(s.parse().unwrap())
}

fn app(release: &str, status: AppStatus) -> App {
    let mut app = App::new(
        "myapp",
        AppSpec {
            release: Some(release.into()),
            ..AppSpec::default()
        },
    );
    app.metadata.generation = Some(2);
    app.status = Some(status);
    app
}

fn seen(mode: Mode, state: Option<RolloutState>) -> Observation {
    Observation {
        mode,
        state,
        invalid: None,
        services: vec![],
        repository: None,
    }
}

fn running(release: &str) -> AppStatus {
    AppStatus {
        phase: Some(AppPhase::Running),
        release: Some(release.into()),
        ..AppStatus::default()
    }
}

#[test]
fn a_promotion_moves_through_updating_to_running() {
    let t0 = at("2026-01-01T00:00:00Z");
    let t1 = at("2026-01-01T00:01:00Z");
    let a = app("r2", running("r1"));
    let updating = next_status(
        &a,
        &seen(Mode::Promote("r2".into()), Some(RolloutState::Progressing)),
        &t0,
    );
    assert_eq!(updating.phase, Some(AppPhase::Updating));
    assert_eq!(
        updating.release.as_deref(),
        Some("r1"),
        "active only once healthy"
    );
    assert_eq!(updating.rollout.as_ref().unwrap().started, t0);
    assert!(conditions::is_true(&updating.conditions, RECONCILING));
    assert_eq!(
        events(&running("r1"), &updating)[0].note,
        "Status: Running => Updating"
    );

    let a = app("r2", updating.clone());
    let again = next_status(
        &a,
        &seen(Mode::Promote("r2".into()), Some(RolloutState::Progressing)),
        &t1,
    );
    assert_eq!(again, updating, "nothing changes while the rollout goes on");

    let done = next_status(
        &a,
        &seen(Mode::Promote("r2".into()), Some(RolloutState::Complete)),
        &t1,
    );
    assert_eq!(done.phase, Some(AppPhase::Running));
    assert_eq!(done.release.as_deref(), Some("r2"));
    assert!(conditions::is_true(&done.conditions, READY));
    assert_eq!(done.history[0].result, PromotionResult::Succeeded);
    assert_eq!(done.history[0].started, t0);
    assert_eq!(done.history[0].from.as_deref(), Some("r1"));
    assert_eq!(
        events(&updating, &done)[0].note,
        "Status: Updating => Running"
    );
}

#[test]
fn a_failed_promotion_records_the_failure_and_rolls_back() {
    let t0 = at("2026-01-01T00:00:00Z");
    let a = app("r2", running("r1"));
    let failed = RolloutState::Failed {
        reason: FailureReason::CrashLoop,
        message: "pod x is crash-looping (3 restarts)".into(),
    };
    let next = next_status(&a, &seen(Mode::Promote("r2".into()), Some(failed)), &t0);
    assert_eq!(next.phase, Some(AppPhase::RollingBack));
    assert_eq!(
        next.release.as_deref(),
        Some("r1"),
        "never call a failed rollout running"
    );
    let f = next.failed_release.as_ref().unwrap();
    assert_eq!((f.release.as_str(), f.reason.as_str()), ("r2", "CrashLoop"));
    assert_eq!(next.history[0].result, PromotionResult::RolledBack);
    let notes: Vec<_> = events(&running("r1"), &next)
        .into_iter()
        .map(|e| e.note)
        .collect();
    assert_eq!(notes[0], "Status: Running => RollingBack");
    assert!(notes[1].contains("crash-looping"));

    let a = app("r2", next.clone());
    let back = next_status(
        &a,
        &seen(
            Mode::Rollback {
                to: "r1".into(),
                failed: "r2".into(),
            },
            Some(RolloutState::Complete),
        ),
        &t0,
    );
    assert_eq!(back.phase, Some(AppPhase::Failed));
    let ready = conditions::find(&back.conditions, READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reason::ROLLED_BACK)
    );
    assert!(conditions::is_true(&back.conditions, STALLED));
    assert!(
        ready.message.contains("rolled back to r1"),
        "{}",
        ready.message
    );
}

#[test]
fn an_invalid_release_is_reported_without_touching_what_runs() {
    let a = app("nope", running("r1"));
    let mut s = seen(Mode::Steady("r1".into()), Some(RolloutState::Complete));
    s.invalid = Some("no such release: NOPE".into());
    let next = next_status(&a, &s, &at("2026-01-01T00:00:00Z"));
    assert_eq!(next.release.as_deref(), Some("r1"));
    let ready = conditions::find(&next.conditions, READY).unwrap();
    assert_eq!(ready.reason, reason::INVALID_RELEASE);
    assert_eq!(ready.message, "no such release: NOPE");
    let evs = events(&running("r1"), &next);
    assert!(
        evs.iter()
            .any(|e| e.reason == "InvalidRelease" && e.warning)
    );
    let a = app("nope", next.clone());
    assert!(
        events(&next, &next_status(&a, &s, &at("2026-01-01T00:09:00Z"))).is_empty(),
        "reported once"
    );
}

#[test]
fn a_superseded_rollout_is_recorded() {
    let t0 = at("2026-01-01T00:00:00Z");
    let a = app("r2", running("r1"));
    let updating = next_status(
        &a,
        &seen(Mode::Promote("r2".into()), Some(RolloutState::Progressing)),
        &t0,
    );
    let a = app("r3", updating);
    let next = next_status(
        &a,
        &seen(Mode::Promote("r3".into()), Some(RolloutState::Progressing)),
        &t0,
    );
    assert_eq!(next.history[0].result, PromotionResult::Superseded);
    assert_eq!(next.history[0].release, "r2");
    assert_eq!(next.rollout.as_ref().unwrap().release, "r3");
}

#[test]
fn a_change_of_ready_counts_alone_is_told_from_one_that_matters() {
    let web = |ready: i32, release: &str| ServiceStatus {
        name: "web".into(),
        replicas: 3,
        updated: ready,
        ready,
        release: Some(release.into()),
    };
    let before = AppStatus {
        services: vec![web(1, "r2")],
        ..running("r1")
    };
    let counted = AppStatus {
        services: vec![web(2, "r2")],
        ..before.clone()
    };
    assert!(counts_only(&before, &counted));
    assert!(!counts_only(&before, &before), "no change at all");
    let moved = AppStatus {
        phase: Some(AppPhase::Updating),
        ..counted.clone()
    };
    assert!(!counts_only(&before, &moved));
    let other = AppStatus {
        services: vec![web(1, "r3")],
        ..before.clone()
    };
    assert!(!counts_only(&before, &other));
}

#[test]
fn the_promotions_a_pass_ends_are_reported_with_its_status() {
    let t0 = at("2026-01-01T00:00:00Z");
    let a = app("r2", running("r1"));
    let done = report(
        &a,
        &seen(Mode::Promote("r2".into()), Some(RolloutState::Complete)),
        &t0,
    );
    assert_eq!(done.finished.len(), 1);
    assert_eq!(done.finished[0], done.status.history[0]);
    let moving = report(
        &a,
        &seen(Mode::Promote("r2".into()), Some(RolloutState::Progressing)),
        &t0,
    );
    assert!(moving.finished.is_empty());
}
