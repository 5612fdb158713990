//! After each restart of the API server, every watch the operator holds delivers again within
//! seconds: a change that only that watch can bring is seen within [`DELIVER`]. Before the fix
//! the App watch stayed deaf for 64 to 127 s after a restart (RELIABILITY.md, "Faults").
//!
//! Restarts the shared API server: ignored by a plain `cargo test`, run alone like `faults`
//! (`cargo test --test deaf -- --ignored`).
#![cfg(feature = "cluster")]

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use slipway_crds::conditions::{self, reason};
use slipway_crds::{App, Build, BuildPhase, BuildSpec, Release, ReleaseSpec, env::Env, labels};
use slipway_tests::operator::Operator;
use slipway_tests::reliability::{Table, full, poll, verdict, write_section};
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{TestNamespace, operator, testenv_dir, with_temp_ns, workspace_root};

/// How soon a watch must deliver a change once the restarted API server answers.
const DELIVER: Duration = Duration::from_secs(15);
const MANIFEST: &str = "services:\n  web:\n    image: nginx:1\n    port: 80\n";

async fn restart_api_server() -> Duration {
    let started = Instant::now();
    let out = tokio::process::Command::new(workspace_root().join("tests/testenv/testenv"))
        .args(["restart", "kube-apiserver"])
        .env("TESTENV_DIR", testenv_dir())
        .output()
        .await
        .expect("testenv runs");
    assert!(
        out.status.success(),
        "testenv restart: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// Seconds until `check` holds, failing the test past [`DELIVER`].
async fn within<F, Fut>(what: &str, check: F) -> String
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    poll(DELIVER, what, check).await;
    format!("{:.1}s", started.elapsed().as_secs_f64())
}

async fn app_status(ns: &TestNamespace) -> Result<slipway_crds::AppStatus, String> {
    let app = ns
        .api::<App>()
        .get("myapp")
        .await
        .map_err(|e| e.to_string())?;
    Ok(app.status.unwrap_or_default())
}

/// `slipway_watch_events_total{watch="<watch>"}` from the operator's /metrics.
async fn watched(operator: &Operator, watch: &str) -> Result<u64, String> {
    let addr = operator.metrics_addr().ok_or("no metrics address yet")?;
    let out = tokio::process::Command::new("curl")
        .args(["-s", &format!("http://{addr}/metrics")])
        .output()
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let prefix = format!("slipway_watch_events_total{{watch=\"{watch}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| {
            let seen: Vec<&str> = text.lines().filter(|l| l.contains("watch")).collect();
            format!("no count for {watch} at {addr}: {seen:?}")
        })
}

async fn uid_of<K>(ns: &TestNamespace, name: &str) -> Result<String, String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let object = ns
        .api::<K>()
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())?;
    object
        .and_then(|o| o.uid())
        .ok_or_else(|| format!("no {name}"))
}

#[tokio::test]
#[ignore = "restarts the shared API server: run alone, after the other cluster tests (make cluster)"]
async fn every_watch_delivers_again_within_seconds_after_each_api_server_restart() {
    with_temp_ns("deaf", |ns| async move {
        let operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 600).await;
        let rounds = if full() { 10 } else { 4 };
        let name = |i: usize| format!("rdeaf{i:06}");
        let round_env = |i: usize| Env::from([("ROUND".to_string(), i.to_string())]);
        create_release(&ns, &app, &name(0), MANIFEST, &round_env(0)).await;
        promote(&ns, "myapp", &name(0)).await;
        wait_app(&ns, "myapp", "the first release", running(&name(0))).await;
        let mut table = Table::new(&[
            "restart", "down for", "apps", "releases", "builds", "env owners", "deployments",
            "services", "pods", "pass",
        ]);
        for round in 1..=rounds {
            let release = name(round);
            let down = restart_api_server().await;
            // apps: a promotion of a release not made yet is reported invalid.
            promote(&ns, "myapp", &release).await;
            let apps = within("the App watch", || async {
                let status = app_status(&ns).await?;
                let ready = conditions::find(&status.conditions, conditions::READY);
                match ready {
                    Some(c) if c.reason == reason::INVALID_RELEASE && c.message.contains(release.as_str()) => Ok(()),
                    other => Err(format!("ready: {other:?}")),
                }
            })
            .await;
            // releases: making it starts the rollout; only the Release watch says it exists.
            create_release(&ns, &app, &release, MANIFEST, &round_env(round)).await;
            let releases = within("the Release watch", || async {
                let status = app_status(&ns).await?;
                let seen = status.rollout.as_ref().map(|r| r.release.as_str()) == Some(release.as_str())
                    || status.release.as_deref() == Some(release.as_str());
                if seen { Ok(()) } else { Err("not rolling it out".into()) }
            })
            .await;
            // builds: a Build becomes Complete.
            let build = format!("bdeaf{round:06}");
            let spec = BuildSpec { app: "myapp".into(), manifest: MANIFEST.into(), ..BuildSpec::default() };
            ns.api::<Build>().create(&PostParams::default(), &Build::new(&build, spec)).await.expect("create Build");
            let builds = within("the Build watch", || async {
                let b = ns.api::<Build>().get(&build).await.map_err(|e| e.to_string())?;
                match b.status.and_then(|s| s.phase) {
                    Some(BuildPhase::Complete) => Ok(()),
                    phase => Err(format!("phase {phase:?}")),
                }
            })
            .await;
            // env owners: a release naming another's Secret (as a rollback does) becomes an owner.
            let source = ns.api::<Release>().get(&release).await.expect("the release");
            let copy = format!("{release}-copy");
            let mut shared = Release::new(&copy, ReleaseSpec { created: Some(slipway_crds::stamp::now_stamp()), ..source.spec.clone() });
            shared.metadata.labels = Some(labels::app_labels("myapp"));
            let copy_uid = ns.api::<Release>().create(&PostParams::default(), &shared).await.expect("create copy").uid().unwrap_or_default();
            let secret = slipway_crds::env::secret_name(&release);
            let owners = within("the env owner watch", || async {
                let s = ns.api::<Secret>().get_metadata(&secret).await.map_err(|e| e.to_string())?;
                if s.owner_references().iter().any(|o| o.uid == copy_uid) { Ok(()) } else { Err("not an owner yet".into()) }
            })
            .await;
            // deployments: an image changed by hand is set back; services: one deleted is made again.
            let edit = serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "spec": { "template": { "spec": { "containers": [{ "name": "main", "image": "nginx:2" }] } } },
            });
            ns.api::<Deployment>()
                .patch("myapp-web", &PatchParams::apply("deaf-test").force(), &Patch::Apply(&edit))
                .await
                .expect("edit the Deployment");
            let deployments = within("the Deployment watch", || async {
                let d = ns.api::<Deployment>().get("myapp-web").await.map_err(|e| e.to_string())?;
                let images: Vec<Option<String>> = d
                    .spec
                    .and_then(|s| s.template.spec)
                    .map(|s| s.containers.into_iter().map(|c| c.image).collect())
                    .unwrap_or_default();
                if images == [Some("nginx:1".to_string())] {
                    Ok(())
                } else {
                    Err(format!("images {images:?}"))
                }
            })
            .await;
            let before = uid_of::<Service>(&ns, "myapp-web").await.expect("web Service");
            ns.api::<Service>().delete("myapp-web", &DeleteParams::background()).await.expect("delete Service");
            let services = within("the Service watch", || async {
                match uid_of::<Service>(&ns, "myapp-web").await { Ok(uid) if uid != before => Ok(()), other => Err(format!("{other:?}")) }
            })
            .await;
            // pods: a pod deleted by hand is an event the pod watch delivers.
            let pods_before = watched(&operator, "pods").await.expect("the pod watch delivered pods");
            let params = ListParams::default().labels(&format!("{}=myapp", labels::APP));
            if let Some(pod) = ns.api::<Pod>().list(&params).await.expect("pods").items.first() {
                let _ = ns.api::<Pod>().delete(&pod.name_any(), &DeleteParams::default()).await;
            }
            let pods = within("the Pod watch", || async {
                let now = watched(&operator, "pods").await?;
                if now > pods_before { Ok(()) } else { Err(format!("{now} events")) }
            })
            .await;
            wait_app(&ns, "myapp", "the round's release to run", running(&release)).await;
            table.row(&[
                round.to_string(),
                format!("{}s", down.as_secs()),
                apps, releases, builds, owners, deployments, services, pods,
                verdict(true),
            ]);
        }
        println!("{}", table.markdown());
        if full() {
            write_section(
                "deaf",
                &format!(
                    "### Every watch after each API server restart: {rounds} restarts, seen within {} s\n\nSeconds from the change to the operator's reaction (the watch that alone can bring it).\n\n{}",
                    DELIVER.as_secs(),
                    table.markdown()
                ),
            );
        }
    })
    .await;
}
