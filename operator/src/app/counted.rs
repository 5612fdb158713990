//! The promotions metric, counted once per history entry.
//!
//! A promotion is counted when the status that records it is saved. Comparing with the App the
//! reconcile started from was not enough: after a pass that saved the status but failed later,
//! the next pass may start from the same stale App (the watch had not caught up), save the same
//! status again and count the same promotion twice. So the newest entry counted is remembered.

use std::collections::HashMap;
use std::sync::Mutex;

use slipway_crds::app::{AppStatus, Promotion};

/// The newest history entry already counted, per App uid.
#[derive(Default)]
pub struct Counted(Mutex<HashMap<String, Promotion>>);

impl Counted {
    /// The entries of `saved` not counted yet for App `uid`, whose status was `before`.
    pub fn added(&self, uid: &str, before: &AppStatus, saved: &AppStatus) -> Vec<Promotion> {
        let mut newest = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mark = newest
            .get(uid)
            .cloned()
            .or_else(|| before.history.first().cloned());
        let added = new_entries(&saved.history, mark.as_ref());
        if let Some(first) = saved.history.first() {
            newest.insert(uid.to_string(), first.clone());
        }
        added
    }
}

// History is newest first: what stands before the mark was added since.
fn new_entries(history: &[Promotion], mark: Option<&Promotion>) -> Vec<Promotion> {
    history
        .iter()
        .take_while(|p| Some(*p) != mark)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(releases: &[&str]) -> AppStatus {
        let history = releases
            .iter()
            .map(|r| {
                serde_json::from_value(serde_json::json!({
                    "release": r, "result": "Succeeded",
                    "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:01Z",
                }))
                .unwrap()
            })
            .collect();
        AppStatus {
            history,
            ..AppStatus::default()
        }
    }

    fn names(entries: Vec<Promotion>) -> Vec<String> {
        entries.into_iter().map(|p| p.release).collect()
    }

    #[test]
    fn a_status_saved_twice_from_a_stale_app_counts_once() {
        let counted = Counted::default();
        let (old, new) = (status(&["rone"]), status(&["rtwo", "rone"]));
        assert_eq!(names(counted.added("u", &old, &new)), ["rtwo"]);
        // The same stale App again, the same status saved again: nothing new.
        assert!(counted.added("u", &old, &new).is_empty());
        let newer = status(&["rthree", "rtwo", "rone"]);
        assert_eq!(names(counted.added("u", &new, &newer)), ["rthree"]);
        // Another App is counted on its own.
        assert_eq!(names(counted.added("v", &old, &new)), ["rtwo"]);
        assert_eq!(
            names(counted.added("w", &AppStatus::default(), &old)),
            ["rone"]
        );
    }
}
