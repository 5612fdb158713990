//! kstatus conditions (Ready, Reconciling, Stalled), their reasons, and how they are updated.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The desired release serves and is healthy.
pub const READY: &str = "Ready";
/// The operator is working towards the desired release.
pub const RECONCILING: &str = "Reconciling";
/// The operator cannot make progress without a change from a person.
pub const STALLED: &str = "Stalled";

/// Reasons used in conditions and events.
pub mod reason {
    /// Everything desired is running.
    pub const RUNNING: &str = "Running";
    /// The running release has pods that fail (crash-looping, image pull), with nothing to roll back.
    pub const DEGRADED: &str = "Degraded";
    /// A release is rolling out.
    pub const UPDATING: &str = "Updating";
    /// The desired release failed and the last good release was restored.
    pub const ROLLED_BACK: &str = "RolledBack";
    /// The desired release failed and is being rolled back.
    pub const ROLLING_BACK: &str = "RollingBack";
    /// The desired release failed and there was nothing to roll back to, or the rollback failed.
    pub const ROLLOUT_FAILED: &str = "RolloutFailed";
    /// The desired release cannot be used (missing, another app's, bad manifest, missing env).
    pub const INVALID_RELEASE: &str = "InvalidRelease";
    /// No release is set.
    pub const NO_RELEASE: &str = "NoRelease";
}

/// A condition with the given fields, stamped `now`, for `generation`.
pub fn new(
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// Puts `next` into `conditions`, keeping the old `lastTransitionTime` when the status did not change.
pub fn set(conditions: &mut Vec<Condition>, mut next: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == next.type_) {
        Some(current) => {
            if current.status == next.status {
                next.last_transition_time = current.last_transition_time.clone();
            }
            *current = next;
        }
        None => conditions.push(next),
    }
}

/// The condition of a type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether a condition of that type is present with status True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    #[test]
    fn transition_time_is_kept_while_status_is_unchanged() {
        let mut conditions = vec![];
        let t1 = at("2026-01-01T00:00:00Z");
        let t2 = at("2026-01-01T00:05:00Z");
        set(
            &mut conditions,
            new(READY, false, reason::UPDATING, "rolling out", Some(1), &t1),
        );
        set(
            &mut conditions,
            new(
                READY,
                false,
                reason::UPDATING,
                "still rolling",
                Some(2),
                &t2,
            ),
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, t1);
        assert_eq!(conditions[0].message, "still rolling");
        assert_eq!(conditions[0].observed_generation, Some(2));
    }

    #[test]
    fn transition_time_moves_when_status_changes() {
        let mut conditions = vec![];
        let t1 = at("2026-01-01T00:00:00Z");
        let t2 = at("2026-01-01T00:05:00Z");
        set(
            &mut conditions,
            new(READY, false, reason::UPDATING, "", None, &t1),
        );
        set(
            &mut conditions,
            new(READY, true, reason::RUNNING, "", None, &t2),
        );
        assert_eq!(conditions[0].last_transition_time, t2);
        assert!(is_true(&conditions, READY));
        assert!(!is_true(&conditions, STALLED));
    }
}
