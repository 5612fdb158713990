//! Deciding what to render: the desired, running and failed releases become one Mode (pure).

use slipway_crds::AppSpec;
use slipway_crds::app::AppStatus;

/// What the operator does for an App on this pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No release to run.
    Idle,
    /// Keep the running release as it is.
    Steady(String),
    /// Roll out the desired release.
    Promote(String),
    /// Return to the last good release because the desired one failed.
    Rollback {
        /// The last good release.
        to: String,
        /// The release that failed.
        failed: String,
    },
    /// The desired release failed and there is no good release to return to.
    Stuck(String),
}

impl Mode {
    /// The release to render, if any.
    pub fn release(&self) -> Option<&str> {
        match self {
            Mode::Steady(r) | Mode::Promote(r) | Mode::Rollback { to: r, .. } => Some(r),
            Mode::Idle | Mode::Stuck(_) => None,
        }
    }
}

/// Decides the mode; `desired_valid` says whether spec.release resolved to a usable release.
pub fn decide(spec: &AppSpec, status: &AppStatus, desired_valid: bool) -> Mode {
    let good = status.release.clone();
    let keep = || good.clone().map(Mode::Steady).unwrap_or(Mode::Idle);
    let Some(desired) = spec.release.clone() else {
        return keep();
    };
    let blocked = status
        .failed_release
        .as_ref()
        .is_some_and(|f| f.release == desired && f.retry == spec.retry);
    if blocked {
        return match good {
            Some(to) if to != desired => Mode::Rollback {
                to,
                failed: desired,
            },
            _ => Mode::Stuck(desired),
        };
    }
    if !desired_valid {
        return keep();
    }
    if good.as_deref() == Some(desired.as_str()) {
        Mode::Steady(desired)
    } else {
        Mode::Promote(desired)
    }
}

#[cfg(test)]
mod tests {
    use slipway_crds::app::FailedRelease;

    use super::*;

    fn spec(release: Option<&str>, retry: Option<i64>) -> AppSpec {
        AppSpec {
            release: release.map(String::from),
            retry,
            ..AppSpec::default()
        }
    }

    fn status(release: Option<&str>, failed: Option<(&str, Option<i64>)>) -> AppStatus {
        AppStatus {
            release: release.map(String::from),
            failed_release: failed.map(|(r, retry)| FailedRelease {
                release: r.into(),
                reason: slipway_crds::app::FailureReason::CrashLoop,
                message: String::new(),
                retry,
            }),
            ..AppStatus::default()
        }
    }

    #[test]
    fn a_new_desired_release_is_promoted() {
        assert_eq!(
            decide(&spec(Some("r2"), None), &status(Some("r1"), None), true),
            Mode::Promote("r2".into())
        );
        assert_eq!(
            decide(&spec(Some("r1"), None), &status(None, None), true),
            Mode::Promote("r1".into())
        );
    }

    #[test]
    fn the_running_release_is_kept() {
        assert_eq!(
            decide(&spec(Some("r1"), None), &status(Some("r1"), None), true),
            Mode::Steady("r1".into())
        );
        assert_eq!(
            decide(&spec(None, None), &status(Some("r1"), None), true),
            Mode::Steady("r1".into())
        );
        assert_eq!(
            decide(&spec(None, None), &status(None, None), true),
            Mode::Idle
        );
    }

    #[test]
    fn an_invalid_desired_release_changes_nothing_that_runs() {
        assert_eq!(
            decide(&spec(Some("bad"), None), &status(Some("r1"), None), false),
            Mode::Steady("r1".into())
        );
        assert_eq!(
            decide(&spec(Some("bad"), None), &status(None, None), false),
            Mode::Idle
        );
    }

    #[test]
    fn a_failed_release_is_not_retried_until_retry_changes() {
        let failed = status(Some("r1"), Some(("r2", None)));
        let rollback = Mode::Rollback {
            to: "r1".into(),
            failed: "r2".into(),
        };
        assert_eq!(decide(&spec(Some("r2"), None), &failed, true), rollback);
        assert_eq!(
            decide(&spec(Some("r2"), Some(1)), &failed, true),
            Mode::Promote("r2".into())
        );
        assert_eq!(
            decide(&spec(Some("r3"), None), &failed, true),
            Mode::Promote("r3".into())
        );
    }

    #[test]
    fn a_failed_first_release_is_stuck() {
        let failed = status(None, Some(("r1", None)));
        assert_eq!(
            decide(&spec(Some("r1"), None), &failed, true),
            Mode::Stuck("r1".into())
        );
    }
}
