//! Slipway on real pods (the test control plane's real node): failure modes as a kubelet and
//! containerd really show them, the chart's operator from its own image, HTTP through
//! Services, the image against the Dockerfile, and builds from source with BuildKit.
#![cfg(feature = "cluster")]

mod build;
mod chart;
mod failures;
mod http;
mod image;
mod scale;

use slipway_crds::AppPhase;
use slipway_crds::app::AppStatus;
use slipway_crds::conditions::{READY, find, reason};

/// Whether the App was rolled back from `release` for `cause`, back to `good`, and says so.
pub fn rolled_back<'a>(
    release: &'a str,
    cause: &'a str,
    good: &'a str,
) -> impl Fn(&AppStatus) -> Result<(), String> + 'a {
    move |s: &AppStatus| {
        let failed = s
            .failed_release
            .as_ref()
            .map(|f| (f.release.as_str(), f.reason.as_str()));
        let ready = find(&s.conditions, READY).map(|c| (c.status.as_str(), c.reason.as_str()));
        if failed == Some((release, cause))
            && s.phase == Some(AppPhase::Failed)
            && s.release.as_deref() == Some(good)
            && ready == Some(("False", reason::ROLLED_BACK))
        {
            Ok(())
        } else {
            Err(format!("not rolled back from {release} for {cause} yet"))
        }
    }
}
