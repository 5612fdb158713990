//! `convox scale` and `convox restart` on real pods: scale lives outside releases (a rollback
//! keeps it), and a restart replaces every pod without a new release.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use slipway_crds::Release;
use slipway_crds::env::Env;
use slipway_tests::cli::convox;
use slipway_tests::realnode::testapp_manifest;
use slipway_tests::slipway::{create_app, create_release, running, wait_app};
use slipway_tests::{Node, TestNamespace, operator, pod_ready, wait_for, with_temp_ns_on};

async fn ok(ns: &TestNamespace, args: &[&str]) -> String {
    let run = convox(ns.name(), "myapp", args).await;
    assert!(run.ok(), "convox {args:?}: {}", run.error());
    run.stdout
}

/// The names of the ready web pods, once there are exactly `count` and no others.
async fn ready_web_pods(ns: &TestNamespace, count: usize) -> BTreeSet<String> {
    let what = format!("{count} ready web pods and no others");
    wait_for(std::time::Duration::from_secs(90), &what, || async move {
        let pods = ns
            .api::<Pod>()
            .list(&ListParams::default().labels("slipway.dev/service=web"))
            .await
            .map_err(|e| e.to_string())?;
        let ready: BTreeSet<String> = pods
            .items
            .iter()
            .filter(|p| pod_ready(p) && p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        if ready.len() == count && pods.items.len() == count {
            Ok(ready)
        } else {
            Err(format!("{} pods, {} ready", pods.items.len(), ready.len()))
        }
    })
    .await
}

#[tokio::test]
async fn scale_survives_a_rollback_and_restart_replaces_real_pods_without_a_release() {
    with_temp_ns_on(Node::Real, "real-scale", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        let v1 = testapp_manifest(&[], "");
        let v2 = testapp_manifest(&["TICK=1"], "");
        create_release(&ns, &app, "rfirstfirst", &v1, &Env::new()).await;
        create_release(&ns, &app, "rsecondsecn", &v2, &Env::new()).await;
        ok(&ns, &["releases", "promote", "RFIRSTFIRST"]).await;
        ready_web_pods(&ns, 1).await;

        ok(&ns, &["scale", "web", "--count", "3"]).await;
        ready_web_pods(&ns, 3).await;
        ok(&ns, &["releases", "promote", "RSECONDSECN"]).await;
        ready_web_pods(&ns, 3).await;
        let out = ok(&ns, &["releases", "rollback", "RFIRSTFIRST"]).await;
        let copy = out
            .lines()
            .next()
            .and_then(|l| l.rsplit(", ").next())
            .unwrap_or_default();
        wait_app(
            &ns,
            "myapp",
            "the rollback copy",
            running(&copy.to_lowercase()),
        )
        .await;
        let before = ready_web_pods(&ns, 3).await;

        let releases = ns
            .api::<Release>()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len();
        assert_eq!(ok(&ns, &["restart", "web"]).await, "Restarting web... OK\n");
        let after = wait_for(
            std::time::Duration::from_secs(90),
            "every web pod replaced",
            || {
                let before = before.clone();
                let ns = ns.clone();
                async move {
                    let now = ready_web_pods(&ns, 3).await;
                    if now.is_disjoint(&before) {
                        Ok(now)
                    } else {
                        Err("old pods remain".to_owned())
                    }
                }
            },
        )
        .await;
        assert_eq!(after.len(), 3);
        let now = ns
            .api::<Release>()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len();
        assert_eq!(releases, now, "a restart makes no release");
    })
    .await;
}
