//! Status never steps backwards around an automatic rollback: every version of the App's
//! status is watched while a crash-looping release is rolled back, with the operator killed
//! and started again at moments around it; once the App reported the release `Failed`, no
//! later version (same spec.release, same retry) may say `Updating` or `RollingBack` again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use slipway_crds::{App, AppPhase, env::Env};
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{operator, with_temp_ns};

const GOOD: &str = "services:\n  web:\n    image: nginx:1\n    port: 5000\n";

fn crashing() -> String {
    format!(
        "services:\n  web:\n    image: nginx:2\n    port: 5000\n    annotations:\n      - {}=true\n",
        slipway_tests::CRASHLOOP_ANNOTATION
    )
}

/// One status version: (resourceVersion, spec.release, retry, phase, failed release).
type Version = (
    String,
    Option<String>,
    Option<i64>,
    Option<AppPhase>,
    Option<String>,
);

/// The first step backwards in `versions`, if any.
fn backwards(versions: &[Version]) -> Option<String> {
    let mut failed: Option<(Option<String>, Option<i64>)> = None;
    for (rv, desired, retry, phase, failed_release) in versions {
        if let Some(key) = &failed
            && key == &(desired.clone(), *retry)
            && matches!(phase, Some(AppPhase::Updating | AppPhase::RollingBack))
        {
            return Some(format!(
                "version {rv}: {phase:?} after Failed of {desired:?}"
            ));
        }
        if *phase == Some(AppPhase::Failed) && failed_release == desired {
            failed = Some((desired.clone(), *retry));
        }
    }
    None
}

async fn watch_versions(apps: kube::Api<App>, into: Arc<Mutex<Vec<Version>>>) {
    let config = watcher::Config::default().fields("metadata.name=myapp");
    let mut stream = watcher(apps, config).applied_objects().boxed();
    while let Some(Ok(app)) = stream.next().await {
        let status = app.status.clone().unwrap_or_default();
        into.lock().unwrap().push((
            app.metadata.resource_version.clone().unwrap_or_default(),
            app.spec.release.clone(),
            app.spec.retry,
            status.phase,
            status.failed_release.map(|f| f.release),
        ));
    }
}

#[tokio::test]
async fn status_never_steps_back_through_kills_around_a_rollback() {
    with_temp_ns("crash-backwards", |ns| async move {
        let mut operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        create_release(&ns, &app, "rgoodgood", GOOD, &Env::new()).await;
        promote(&ns, "myapp", "rgoodgood").await;
        wait_app(&ns, "myapp", "the good release", running("rgoodgood")).await;
        let versions = Arc::new(Mutex::new(Vec::new()));
        let watching = tokio::spawn(watch_versions(ns.api::<App>(), versions.clone()));
        // Round 0 without a kill; then kills 0.3 s, 1 s and 2 s after the failure is recorded,
        // and one while it rolls back.
        for (round, kill_after) in [None, Some(300), Some(1000), Some(2000), Some(0)]
            .into_iter()
            .enumerate()
        {
            let bad = format!("rbadround{round}");
            create_release(&ns, &app, &bad, &crashing(), &Env::new()).await;
            promote(&ns, "myapp", &bad).await;
            // The phase that starts each kill's clock, as the watch of every status version
            // saw it: a rollback to pods that still run can end within a poll's interval.
            let phase = if kill_after == Some(0) {
                AppPhase::RollingBack
            } else {
                AppPhase::Failed
            };
            let reached = |v: &Version| v.1.as_deref() == Some(bad.as_str()) && v.3 == Some(phase);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
            while !versions.lock().unwrap().iter().any(reached) {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "round {round}: no status version said {phase:?}: {:?}",
                    versions.lock().unwrap()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if let Some(ms) = kill_after {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                operator.restart();
            }
            wait_app(&ns, "myapp", "the rollback to end", |s| {
                if s.phase == Some(AppPhase::Failed) && s.release.as_deref() == Some("rgoodgood") {
                    Ok(())
                } else {
                    Err(format!("phase {:?}", s.phase))
                }
            })
            .await;
            // Passes after the end (a resync, the pods settling) must not step back either.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let seen = versions.lock().unwrap().clone();
            assert_eq!(backwards(&seen), None, "round {round}: {seen:?}");
        }
        watching.abort();
    })
    .await;
}

#[test]
fn a_step_back_is_found() {
    let v = |rv: &str, phase| {
        (
            rv.to_string(),
            Some("rbad".to_string()),
            None,
            Some(phase),
            Some("rbad".to_string()),
        )
    };
    let fine = [
        v("1", AppPhase::RollingBack),
        v("2", AppPhase::Failed),
        v("3", AppPhase::Failed),
    ];
    assert_eq!(backwards(&fine), None);
    let back = [
        v("1", AppPhase::Failed),
        v("2", AppPhase::RollingBack),
        v("3", AppPhase::Failed),
    ];
    assert!(backwards(&back).unwrap().starts_with("version 2"));
}
