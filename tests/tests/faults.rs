//! The control plane fails under a rollout: kube-apiserver restarted, then etcd restarted under
//! it. The operator's watches must recover and every rollout complete, with nothing duplicated.
//!
//! These tests stop the API server that every other test uses, so they are ignored by a plain
//! `cargo test`: `make cluster` and `make reliability` run them alone, after the other tests,
//! with `cargo test --test faults -- --ignored`.
#![cfg(feature = "cluster")]

use std::time::{Duration, Instant};

use slipway_crds::{AppPhase, env::Env};
use slipway_tests::reliability::{
    Table, full, objects_at_rest, rollout_picture, verdict, write_section,
};
use slipway_tests::slipway::{CONVERGE, create_app, create_release, promote, running, wait_app};
use slipway_tests::{TestNamespace, operator, testenv_dir, wait_for, with_temp_ns, workspace_root};

/// Rolls web one pod at a time, so that the restart lands in the middle of the rollout.
const MANIFEST: &str = "services:
  web:
    image: nginx:1
    port: 5000
    deployment:
      minimum: 50
      maximum: 100
    scale:
      count: 4
  worker:
    image: busybox:1
";
/// How long a rollout may take once the control plane is back (restarts included).
const RECOVER: Duration = Duration::from_secs(180);

/// `tests/testenv/testenv restart <component>` for this test's control plane.
async fn restart(component: &str) -> Duration {
    let started = Instant::now();
    let out = tokio::process::Command::new(workspace_root().join("tests/testenv/testenv"))
        .args(["restart", component])
        .env("TESTENV_DIR", testenv_dir())
        .output()
        .await
        .expect("testenv runs");
    assert!(
        out.status.success(),
        "testenv restart {component}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

fn env(round: usize) -> Env {
    [("ROUND".to_string(), round.to_string())].into()
}

async fn updating(ns: &TestNamespace, release: &str) {
    wait_app(
        ns,
        "myapp",
        &format!("{release} to start rolling out"),
        |s| match (&s.rollout, s.phase) {
            (Some(r), Some(AppPhase::Updating)) if r.release == release => Ok(()),
            _ => Err("not rolling out yet".into()),
        },
    )
    .await;
}

async fn at_rest(ns: &TestNamespace, release: &str) {
    wait_for(RECOVER, &format!("{release} to run"), || {
        let ns = ns.clone();
        async move {
            let app = ns
                .api::<slipway_crds::App>()
                .get("myapp")
                .await
                .map_err(|e| e.to_string())?;
            let status = app.status.unwrap_or_default();
            // The cluster's side too: was the rollout stuck there, or only in the App's status?
            match running(release)(&status) {
                Ok(()) => Ok(()),
                Err(e) => Err(format!(
                    "{e}; App status {status:?}\n  {}",
                    rollout_picture(&ns, "myapp").await
                )),
            }
        }
    })
    .await;
    wait_for(CONVERGE, &format!("only {release}'s objects"), || {
        objects_at_rest(ns, "myapp", release)
    })
    .await;
}

#[tokio::test]
#[ignore = "restarts the shared API server and etcd: run alone, after the other cluster tests (make cluster)"]
async fn api_server_and_etcd_restarts_mid_rollout_are_survived() {
    with_temp_ns("faults", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 600).await;
        let releases = ["rfaultzeroo", "rfaultonebb", "rfaulttwocc", "rfaultthree"];
        for (i, r) in releases.iter().enumerate() {
            create_release(&ns, &app, r, MANIFEST, &env(i)).await;
        }
        promote(&ns, "myapp", releases[0]).await;
        at_rest(&ns, releases[0]).await;
        let mut table = Table::new(&["fault", "during", "down for", "then", "pass"]);

        for (component, release) in [("kube-apiserver", releases[1]), ("etcd", releases[2])] {
            promote(&ns, "myapp", release).await;
            updating(&ns, release).await;
            let took = restart(component).await;
            at_rest(&ns, release).await;
            table.row(&[
                format!("`testenv restart {component}`"),
                format!("the rollout of {release} (phase Updating)"),
                format!("{}s", took.as_secs()),
                format!("{release} rolled out; objects exact"),
                verdict(true),
            ]);
        }
        // A promotion now is seen at once only if the App watch came back (the resync is 5 min).
        promote(&ns, "myapp", releases[3]).await;
        wait_app(
            &ns,
            "myapp",
            "a promotion after the restarts",
            running(releases[3]),
        )
        .await;
        at_rest(&ns, releases[3]).await;
        table.row(&[
            "(after both)".into(),
            format!("promote {}", releases[3]),
            "-".into(),
            "seen through the recovered watches and rolled out".into(),
            verdict(true),
        ]);
        let status = ns
            .api::<slipway_crds::App>()
            .get("myapp")
            .await
            .unwrap()
            .status
            .unwrap();
        let promoted: Vec<&str> = status
            .history
            .iter()
            .rev()
            .map(|p| p.release.as_str())
            .collect();
        assert_eq!(promoted, releases, "one history entry per promotion");
        if full() {
            write_section(
                "faults",
                &format!(
                    "### Control plane restarts under a rollout\n\n{}",
                    table.markdown()
                ),
            );
        }
    })
    .await;
}
