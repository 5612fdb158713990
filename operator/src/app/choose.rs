//! Choose: resolve the desired release, decide what to do, and resolve the release to render.

use kube::ResourceExt;
use slipway_crds::{App, pods};

use super::AppContext;
use super::decide::{self, Mode};
use super::error::AppError;
use super::resolve::{Lookup, Resolution};
use super::stores::Live;

/// What a pass chose to render, and why the desired release cannot run, if it cannot.
pub struct Choice {
    /// What to do.
    pub mode: Mode,
    /// The release to render (the desired one, or the one to keep or return to).
    pub target: Option<Resolution>,
    /// Why the desired (or the target) release cannot run, in words.
    pub invalid: Option<String>,
}

impl Choice {
    /// The env Secret of the release to render, which cleanup must not take from it.
    pub fn secret_in_use(&self) -> Option<&str> {
        match &self.target {
            Some(Resolution::Usable(target)) => Some(&target.plan.env_secret),
            _ => None,
        }
    }
}

/// Resolves the desired release, decides what to do, and resolves the release to render.
pub async fn choose(
    app: &App,
    shared: &AppContext,
    namespace: &str,
    live: &Live,
) -> Result<Choice, AppError> {
    let name = &app.name_any();
    let intent = super::intent(app).unwrap_or_default();
    // A pod that cannot start for its config may mean a damaged env Secret: look afresh.
    let fresh = live.pods.iter().any(pods::lacks_its_config);
    let lookup = |release: &str| {
        let stored = shared.stores.release(namespace, release);
        let release = release.to_string();
        async move {
            let lookup = Lookup {
                client: &shared.ctx.client,
                namespace,
                app: name,
                progress_deadline: app.spec.progress_deadline(),
                intent,
                fresh,
                stored: stored.as_deref(),
            };
            shared.resolutions.resolve(&lookup, &release).await
        }
    };
    let desired = match &app.spec.release {
        Some(release) => Some(lookup(release).await?),
        None => None,
    };
    let status = app.status.clone().unwrap_or_default();
    let mut invalid = desired.as_ref().and_then(Resolution::invalid).cloned();
    let mode = decide::decide(&app.spec, &status, invalid.is_none());
    let target = match (mode.release(), desired) {
        (None, _) => None,
        (Some(release), Some(desired)) if app.spec.release.as_deref() == Some(release) => {
            Some(desired)
        }
        (Some(release), _) => Some(lookup(release).await?),
    };
    if let Some(Resolution::Unusable(e)) = &target {
        invalid = Some(e.clone());
    }
    Ok(Choice {
        mode,
        target,
        invalid: invalid.map(|i| i.0),
    })
}
