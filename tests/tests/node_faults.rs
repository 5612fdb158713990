//! The real node fails under a rollout: the kubelet stopped, then started; containerd
//! restarted; the kubelet gone past the progress deadline. The App is reported honestly at
//! each moment (never `Running` a release whose pods do not run) and recovers by itself.
//! They stop parts of the shared node, so they are ignored by default and run alone
//! (`make cluster` runs them after the other tests, with the control plane faults).
#![cfg(feature = "cluster")]

use std::process::Command;
use std::time::{Duration, Instant};

use slipway_crds::AppPhase;
use slipway_crds::env::Env;
use slipway_tests::realnode::testapp_manifest;
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{Node, TestNamespace, operator, testenv_dir, with_temp_ns_on, workspace_root};

/// `tests/testenv/testenv ACTION COMPONENT` for this test's cluster.
fn testenv(action: &str, component: &str) {
    let out = Command::new(workspace_root().join("tests/testenv/testenv"))
        .args([action, component])
        .env("TESTENV_DIR", testenv_dir())
        .output()
        .expect("run testenv");
    assert!(
        out.status.success(),
        "testenv {action} {component}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn greeting(value: &str) -> Env {
    [("GREETING".to_owned(), value.to_owned())].into()
}

/// The release `myapp` runs first, and the one a test promotes under a fault.
const FIRST: &str = "rfirstfirst";
const SECOND: &str = "rsecondsecn";

/// Runs `myapp` on [`FIRST`], healthy, with [`SECOND`] made and not yet promoted.
async fn running_app(ns: &TestNamespace, deadline: i32) {
    let app = create_app(ns, "myapp", deadline).await;
    let manifest = testapp_manifest(&[], "");
    create_release(ns, &app, FIRST, &manifest, &greeting("one")).await;
    create_release(ns, &app, SECOND, &manifest, &greeting("two")).await;
    promote(ns, "myapp", FIRST).await;
    wait_app(ns, "myapp", "the first release to run", running(FIRST)).await;
}

/// Watches the App for `period` and fails if it ever calls `release` Running.
async fn never_running(ns: &TestNamespace, release: &str, period: Duration) {
    let api = ns.api::<slipway_crds::App>();
    let started = Instant::now();
    while started.elapsed() < period {
        let status = api
            .get("myapp")
            .await
            .expect("get App")
            .status
            .unwrap_or_default();
        assert!(
            !(status.phase == Some(AppPhase::Running)
                && status.release.as_deref() == Some(release)),
            "{release} reported Running while the kubelet that would run its pods is stopped"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
#[ignore = "stops the shared node's kubelet: run alone with --ignored"]
async fn a_kubelet_stopped_mid_rollout_holds_the_rollout_until_it_returns() {
    with_temp_ns_on(Node::Real, "node-kubelet", |ns| async move {
        let _operator = operator::start(ns.name());
        running_app(&ns, 120).await;

        testenv("stop", "kubelet");
        promote(&ns, "myapp", SECOND).await;
        never_running(&ns, SECOND, Duration::from_secs(20)).await;
        testenv("start", "kubelet");
        wait_app(
            &ns,
            "myapp",
            "the rollout to finish once the kubelet is back",
            running(SECOND),
        )
        .await;
    })
    .await;
}

#[tokio::test]
#[ignore = "restarts the shared node's containerd: run alone with --ignored"]
async fn a_containerd_restart_leaves_the_app_running_and_the_next_rollout_works() {
    with_temp_ns_on(Node::Real, "node-containerd", |ns| async move {
        let _operator = operator::start(ns.name());
        running_app(&ns, 120).await;
        testenv("restart", "containerd");
        // The containers outlive containerd (their shims run on): nothing to report.
        let api = ns.api::<slipway_crds::App>();
        for _ in 0..20 {
            let status = api
                .get("myapp")
                .await
                .expect("get App")
                .status
                .unwrap_or_default();
            assert_eq!(
                status.phase,
                Some(AppPhase::Running),
                "after a containerd restart"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        promote(&ns, "myapp", SECOND).await;
        wait_app(&ns, "myapp", "a rollout after the restart", running(SECOND)).await;
    })
    .await;
}

#[tokio::test]
#[ignore = "stops the shared node's kubelet: run alone with --ignored"]
async fn a_kubelet_gone_past_the_deadline_is_a_rollback_and_the_app_recovers() {
    with_temp_ns_on(Node::Real, "node-deadline", |ns| async move {
        let _operator = operator::start(ns.name());
        running_app(&ns, 15).await;

        testenv("stop", "kubelet");
        promote(&ns, "myapp", SECOND).await;
        let rolled_back = wait_app(&ns, "myapp", "a rollback at the deadline", |s| {
            let failed = s
                .failed_release
                .as_ref()
                .map(|f| (f.release.as_str(), f.reason.as_str()));
            if failed == Some((SECOND, "ProgressDeadlineExceeded")) {
                Ok(())
            } else {
                Err("not failed yet".into())
            }
        })
        .await;
        let status = rolled_back.status.unwrap_or_default();
        assert_ne!(
            status.phase,
            Some(AppPhase::Running),
            "a rolled-back app is not Running"
        );
        testenv("start", "kubelet");
        wait_app(&ns, "myapp", "the last good release to serve again", |s| {
            let web = s.services.iter().find(|svc| svc.name == "web");
            match web {
                Some(w) if w.ready >= 1 && w.release.as_deref() == Some(FIRST) => Ok(()),
                _ => Err("the good release's pods are not ready".into()),
            }
        })
        .await;
    })
    .await;
}
