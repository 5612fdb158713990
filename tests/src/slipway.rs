//! Slipway objects for cluster tests: Apps, Releases made as the CLI makes them, promotion.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use slipway_crds::app::AppStatus;
use slipway_crds::env::{self, Env};
use slipway_crds::{App, AppSpec, Release, ReleaseSpec, labels};

use crate::cluster::{TestNamespace, wait_for};

/// How long a test waits for the operator to converge.
pub const CONVERGE: Duration = Duration::from_secs(90);

/// Creates an App with a progress deadline of `deadline` seconds.
pub async fn create_app(ns: &TestNamespace, name: &str, deadline: i32) -> App {
    let app = App::new(
        name,
        AppSpec {
            progress_deadline_seconds: Some(deadline),
            ..AppSpec::default()
        },
    );
    ns.api::<App>()
        .create(&PostParams::default(), &app)
        .await
        .expect("create App")
}

/// Makes a release of `app` the way the CLI does: env in an immutable Secret, labels, owner.
pub async fn create_release(
    ns: &TestNamespace,
    app: &App,
    name: &str,
    manifest: &str,
    env: &Env,
) -> Release {
    let app_name = app.metadata.name.clone().unwrap_or_default();
    let (secret, reference) = env::pinned_secret(&app_name, name, env);
    ns.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .expect("create env Secret");
    let mut release = Release::new(
        name,
        ReleaseSpec {
            app: app_name.clone(),
            manifest: manifest.to_string(),
            env_secret: Some(reference),
            description: format!("test release {name}"),
            created: Some(slipway_crds::stamp::now_stamp()),
            ..ReleaseSpec::default()
        },
    );
    release.metadata.labels = Some(labels::app_labels(&app_name));
    ns.api::<Release>()
        .create(&PostParams::default(), &release)
        .await
        .expect("create Release")
}

/// Points the App at `release` (what `convox releases promote` does).
pub async fn promote(ns: &TestNamespace, app: &str, release: &str) {
    let patch = json!({ "spec": { "release": release } });
    ns.api::<App>()
        .patch(app, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("promote");
}

/// Waits until the App's status satisfies `check`, which says what it saw otherwise.
pub async fn wait_app<F>(ns: &TestNamespace, app: &str, what: &str, check: F) -> App
where
    F: Fn(&AppStatus) -> Result<(), String>,
{
    let api = ns.api::<App>();
    wait_for(CONVERGE, what, || {
        let api = api.clone();
        let check = &check;
        async move {
            let app = api.get(app).await.map_err(|e| e.to_string())?;
            let status = app.status.clone().unwrap_or_default();
            check(&status).map_err(|e| format!("{e}; status: {}", brief(&status)))?;
            Ok::<_, String>(app)
        }
    })
    .await
}

/// Whether the App runs `release`, healthy.
pub fn running(release: &str) -> impl Fn(&AppStatus) -> Result<(), String> + '_ {
    move |s: &AppStatus| {
        let ready =
            slipway_crds::conditions::is_true(&s.conditions, slipway_crds::conditions::READY);
        if s.release.as_deref() == Some(release)
            && ready
            && s.phase == Some(slipway_crds::AppPhase::Running)
        {
            Ok(())
        } else {
            Err(format!("not yet running {release}"))
        }
    }
}

fn brief(status: &AppStatus) -> String {
    let ready = slipway_crds::conditions::find(&status.conditions, slipway_crds::conditions::READY);
    format!(
        "phase={:?} release={:?} failed={:?} ready={:?}",
        status.phase,
        status.release,
        status
            .failed_release
            .as_ref()
            .map(|f| (&f.release, &f.reason)),
        ready.map(|c| (&c.status, &c.reason, &c.message))
    )
}
