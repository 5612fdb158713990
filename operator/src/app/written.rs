//! The status this process wrote last, so a pass never decides from an older one.
//!
//! A reconcile reads the App from the watch's store. Right after a pass saved a status (say the
//! failure of a release, and the rollback to the last good one), a Deployment event could start
//! the next pass before the App watch delivered that status: the pass decided from the status
//! before it, saw no failure, promoted the failed release again (`Failed -> Updating` with
//! spec.release unchanged) and wrote that back, until the failure was seen once more
//! (`Failed -> RollingBack -> Failed` within 90 ms). A stored App older than the one the last
//! status patch returned now takes that patch's status.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::ResourceExt;
use slipway_crds::App;
use slipway_crds::app::AppStatus;

/// What each status patch returned (resourceVersion and status), and when, per App uid (one
/// entry per App seen since start).
#[derive(Default)]
pub struct Written(Mutex<HashMap<String, Saved>>);

struct Saved {
    version: Option<String>,
    status: Option<AppStatus>,
    at: Instant,
}

impl Written {
    /// `stored` with the status this process last wrote, when the store is older than that write.
    pub fn fresher(&self, stored: &App) -> App {
        let written = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match written.get(&stored.uid().unwrap_or_default()) {
            Some(ours) if older(stored, ours.version.as_deref()) => {
                let mut app = stored.clone();
                app.status = ours.status.clone();
                app.metadata.resource_version = ours.version.clone();
                app
            }
            _ => stored.clone(),
        }
    }

    /// Remembers the App a status patch returned.
    pub fn saved(&self, returned: App) {
        let mut written = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let saved = Saved {
            version: returned.metadata.resource_version.clone(),
            status: returned.status.clone(),
            at: Instant::now(),
        };
        written.insert(returned.uid().unwrap_or_default(), saved);
    }

    /// How long ago this process last wrote the status of App `uid`, if it has.
    pub fn since(&self, uid: &str) -> Option<Duration> {
        let written = self.0.lock().unwrap_or_else(|p| p.into_inner());
        written.get(uid).map(|saved| saved.at.elapsed())
    }
}

// resourceVersions are etcd revisions on every API server there is; when one does not parse,
// the store is trusted, as before.
fn older(stored: &App, ours: Option<&str>) -> bool {
    let version = |v: Option<&str>| v?.parse::<u64>().ok();
    let stored = version(stored.metadata.resource_version.as_deref());
    matches!((stored, version(ours)), (Some(s), Some(o)) if s < o)
}

#[cfg(test)]
mod tests {
    use slipway_crds::app::AppStatus;
    use slipway_crds::{AppPhase, AppSpec};

    use super::*;

    fn app(version: &str, phase: AppPhase) -> App {
        let mut app = App::new("myapp", AppSpec::default());
        app.metadata.uid = Some("u-1".into());
        app.metadata.resource_version = Some(version.into());
        app.status = Some(AppStatus {
            phase: Some(phase),
            ..AppStatus::default()
        });
        app
    }

    fn phase(app: &App) -> Option<AppPhase> {
        app.status.as_ref().and_then(|s| s.phase)
    }

    #[test]
    fn a_store_older_than_the_last_patch_takes_its_status() {
        let written = Written::default();
        written.saved(app("12", AppPhase::Failed));
        // The store still holds the App from before the patch.
        assert_eq!(
            phase(&written.fresher(&app("10", AppPhase::Updating))),
            Some(AppPhase::Failed)
        );
        // Once it holds the patch or anything newer, it is right.
        assert_eq!(
            phase(&written.fresher(&app("12", AppPhase::Failed))),
            Some(AppPhase::Failed)
        );
        assert_eq!(
            phase(&written.fresher(&app("15", AppPhase::Running))),
            Some(AppPhase::Running)
        );
        let other = Written::default();
        assert_eq!(
            phase(&other.fresher(&app("10", AppPhase::Updating))),
            Some(AppPhase::Updating)
        );
    }
}
