//! History cleanup is level-triggered: expired releases go on the next pass, whatever started
//! it. It ran only on the pass that recorded a promotion, after the status was saved, so an
//! operator killed in between (or releases made after the last promotion) left expired
//! releases and their env Secrets until the next promotion: for a quiet app, for good. The
//! promotions metric is exact: one count per promotion a process records.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{ListParams, PostParams};
use slipway_crds::{App, AppSpec, Release, env};
use slipway_tests::operator::Operator;
use slipway_tests::slipway::{CONVERGE, create_release, promote, running, wait_app};
use slipway_tests::{TestNamespace, operator, wait_for, with_temp_ns};

const MANIFEST: &str = "services:\n  web:\n    image: nginx:1\n";

async fn names<K>(ns: &TestNamespace) -> Result<BTreeSet<String>, String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let list = ns
        .api::<K>()
        .list(&ListParams::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok(list.items.iter().map(|o| o.name_any()).collect())
}

/// `slipway_promotions_total{result="Succeeded"}` of `operator`.
async fn succeeded(operator: &Operator) -> Result<u64, String> {
    let addr = operator.metrics_addr().ok_or("no metrics address yet")?;
    let out = tokio::process::Command::new("curl")
        .args(["-s", &format!("http://{addr}/metrics")])
        .output()
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("slipway_promotions_total{result=\"Succeeded\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0))
}

#[tokio::test]
async fn expired_releases_go_after_a_kill_with_no_promotion_to_follow() {
    with_temp_ns("crash-cleanup", |ns| async move {
        let mut operator = operator::start(ns.name());
        let spec = AppSpec {
            progress_deadline_seconds: Some(60),
            release_history_limit: Some(2),
            ..AppSpec::default()
        };
        let app = ns
            .api::<App>()
            .create(&PostParams::default(), &App::new("myapp", spec))
            .await
            .expect("create App");
        let env = |i: usize| env::Env::from([("N".to_string(), i.to_string())]);
        create_release(&ns, &app, "rcleanzero", MANIFEST, &env(0)).await;
        promote(&ns, "myapp", "rcleanzero").await;
        wait_app(&ns, "myapp", "the first release", running("rcleanzero")).await;

        // Killed once the promotion is saved; four more releases are made while it is down.
        operator.kill();
        for (i, name) in ["rcleanone", "rcleantwo", "rcleanthree", "rcleanfour"]
            .iter()
            .enumerate()
        {
            create_release(&ns, &app, name, MANIFEST, &env(i + 1)).await;
        }
        operator.restart();
        // Two newest kept, and the serving one; no promotion needed for the rest to go.
        let kept: BTreeSet<String> = ["rcleanzero", "rcleanthree", "rcleanfour"]
            .map(String::from)
            .into();
        wait_for(
            CONVERGE,
            "the expired releases and their Secrets to go",
            || async {
                let releases = names::<Release>(&ns).await?;
                let secrets: BTreeSet<String> = names::<Secret>(&ns)
                    .await?
                    .into_iter()
                    .filter(|s| s.ends_with("-env"))
                    .collect();
                let want: BTreeSet<String> = kept.iter().map(|r| env::secret_name(r)).collect();
                if releases == kept && secrets == want {
                    Ok(())
                } else {
                    Err(format!("releases {releases:?}, env Secrets {secrets:?}"))
                }
            },
        )
        .await;

        // One promotion recorded by this process: counted once.
        promote(&ns, "myapp", "rcleanfour").await;
        wait_app(&ns, "myapp", "the newest release", running("rcleanfour")).await;
        wait_for(CONVERGE, "one promotion counted", || async {
            match succeeded(&operator).await? {
                1 => Ok(()),
                n => Err(format!("{n} counted")),
            }
        })
        .await;
        // A few more passes (a resync-free touch of the App) count nothing more.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        assert_eq!(succeeded(&operator).await, Ok(1));
    })
    .await;
}
