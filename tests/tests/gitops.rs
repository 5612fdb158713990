//! GitOps on the real control plane: an App and its Releases applied server-side by a GitOps
//! tool (as Argo CD does, field manager `argocd-controller`) stay exactly as git wrote them
//! through promotions, an automatic rollback and history cleanup; what the operator makes
//! carries no tracking labels; a tracked Release is never cleaned up; the CLI does not fight git.
#![cfg(feature = "cluster")]

#[path = "support/argocd.rs"]
mod argocd;

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};
use slipway_crds::conditions::{READY, find, reason};
use slipway_crds::{App, AppPhase, Release, env, labels};
use slipway_tests::operator::binary;
use slipway_tests::slipway::{CONVERGE, create_release, running, wait_app};
use slipway_tests::{NEVER_READY_ANNOTATION, TestNamespace, operator, wait_for, with_temp_ns};

/// Argo CD's field manager for server-side apply.
const GITOPS: &str = "argocd-controller";

const MANIFEST: &str = "services:
  web:
    image: nginx:1
    port: 5000
";

/// Argo CD's tracking: the instance label and the tracking-id annotation.
fn tracking(ns: &str, kind: &str, name: &str) -> (Value, Value) {
    (
        json!({ "app.kubernetes.io/instance": "shop-gitops" }),
        json!({ "argocd.argoproj.io/tracking-id": format!("shop-gitops:slipway.dev/{kind}:{ns}/{name}") }),
    )
}

/// The App as git has it.
fn git_app(ns: &str, release: &str) -> Value {
    let (labels, annotations) = tracking(ns, "App", "shop");
    json!({
        "apiVersion": "slipway.dev/v1alpha1",
        "kind": "App",
        "metadata": { "name": "shop", "labels": labels, "annotations": annotations },
        "spec": { "release": release, "progressDeadlineSeconds": 10, "releaseHistoryLimit": 1 },
    })
}

/// A Release as git has it. It also carries the labels the CLI puts on its releases (as if
/// exported from the cluster into git), so only its tracking keeps history cleanup away.
fn git_release(ns: &str, name: &str, manifest: &str) -> Value {
    let (mut labels, annotations) = tracking(ns, "Release", name);
    labels[labels::MANAGED_BY] = json!(labels::MANAGED_BY_SLIPWAY);
    labels[labels::APP] = json!("shop");
    json!({
        "apiVersion": "slipway.dev/v1alpha1",
        "kind": "Release",
        "metadata": { "name": name, "labels": labels, "annotations": annotations },
        "spec": {
            "app": "shop",
            "manifest": manifest,
            "env": { "GREETING": format!("hello from {name}") },
            "description": format!("{name}, from git"),
        },
    })
}

fn dynamic<K: Resource<DynamicType = ()>>(ns: &TestNamespace) -> Api<DynamicObject> {
    Api::namespaced_with(
        ns.client().clone(),
        ns.name(),
        &ApiResource::erase::<K>(&()),
    )
}

/// `kubectl apply --server-side --force-conflicts --field-manager=argocd-controller`.
async fn git_apply(api: &Api<DynamicObject>, manifest: &Value) -> DynamicObject {
    let name = manifest["metadata"]["name"].as_str().unwrap();
    api.patch(
        name,
        &PatchParams::apply(GITOPS).force(),
        &Patch::Apply(manifest),
    )
    .await
    .unwrap_or_else(|e| panic!("git apply of {name}: {e}"))
}

/// What git decides about an object: spec, labels, annotations and its managed fields entry.
fn git_view(obj: &DynamicObject) -> Value {
    let entry = obj
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|f| f.manager.as_deref() == Some(GITOPS));
    json!({
        "generation": obj.metadata.generation,
        "spec": obj.data["spec"],
        "labels": obj.metadata.labels,
        "annotations": obj.metadata.annotations,
        "managed": entry.map(|e| json!({ "fields": e.fields_v1, "time": e.time, "op": e.operation })),
    })
}

/// The live object equals what git wrote, and re-applying git changes nothing (Argo CD's
/// server-side diff is empty); nobody but git owns its spec or metadata.
async fn as_git_wrote_it(api: &Api<DynamicObject>, manifest: &Value) {
    let name = manifest["metadata"]["name"].as_str().unwrap();
    let live = api.get(name).await.unwrap();
    assert_eq!(
        live.data["spec"], manifest["spec"],
        "{name}: spec as in git"
    );
    assert_eq!(
        json!(live.metadata.labels),
        manifest["metadata"]["labels"],
        "{name}: labels as in git"
    );
    assert_eq!(
        json!(live.metadata.annotations),
        manifest["metadata"]["annotations"],
        "{name}: annotations as in git"
    );
    let dry = api
        .patch(
            name,
            &PatchParams::apply(GITOPS).force().dry_run(),
            &Patch::Apply(manifest),
        )
        .await
        .unwrap();
    assert_eq!(
        git_view(&dry),
        git_view(&live),
        "{name}: a server-side diff under {GITOPS} is empty"
    );
    for entry in live.metadata.managed_fields.iter().flatten() {
        let manager = entry.manager.as_deref().unwrap_or_default();
        assert!(
            manager == GITOPS || entry.subresource.as_deref() == Some("status"),
            "{name}: {manager} owns fields outside status: {:?}",
            entry.fields_v1
        );
    }
}

fn tracking_keys(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Vec<String> {
    [&meta.labels, &meta.annotations]
        .into_iter()
        .flatten()
        .flat_map(|m| m.keys())
        .filter(|k| labels::is_tracking_key(k))
        .cloned()
        .collect()
}

async fn assert_no_tracking_on_what_the_operator_made(ns: &TestNamespace) {
    let mine = ListParams::default().labels(&format!("{}=shop", labels::APP));
    let mut seen = 0;
    for d in ns.api::<Deployment>().list(&mine).await.unwrap() {
        let template = d
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .clone()
            .unwrap_or_default();
        assert_eq!(
            tracking_keys(&d.metadata),
            Vec::<String>::new(),
            "Deployment {}",
            d.name_any()
        );
        assert_eq!(
            tracking_keys(&template),
            Vec::<String>::new(),
            "pod template of {}",
            d.name_any()
        );
        seen += 1;
    }
    for s in ns.api::<Service>().list(&mine).await.unwrap() {
        assert_eq!(
            tracking_keys(&s.metadata),
            Vec::<String>::new(),
            "Service {}",
            s.name_any()
        );
        seen += 1;
    }
    for s in ns.api::<Secret>().list(&mine).await.unwrap() {
        assert_eq!(
            tracking_keys(&s.metadata),
            Vec::<String>::new(),
            "Secret {}",
            s.name_any()
        );
        seen += 1;
    }
    assert!(
        seen >= 3,
        "a Deployment, a Service and env Secrets were made, saw {seen}"
    );
}

async fn argo_health(ns: &TestNamespace) -> (String, String) {
    let app = ns.api::<App>().get("shop").await.unwrap();
    argocd::health(&serde_json::to_value(&app).unwrap())
}

#[tokio::test]
async fn git_owned_objects_stay_as_git_wrote_them_and_tracked_releases_are_kept() {
    with_temp_ns("gitops", |ns| async move {
        let _operator = operator::start(ns.name());
        let apps = dynamic::<App>(&ns);
        let releases = dynamic::<Release>(&ns);
        let n = ns.name();

        // A release the CLI made long ago: untracked, so history cleanup may delete it.
        let app = git_apply(&apps, &git_app(n, "shop-v1")).await;
        let app: App = serde_json::from_value(serde_json::to_value(app).unwrap()).unwrap();
        create_release(&ns, &app, "rclimadeold", MANIFEST, &env::Env::new()).await;
        tokio::time::sleep(Duration::from_secs(2)).await;

        let never_ready =
            format!("{MANIFEST}    annotations:\n      - {NEVER_READY_ANNOTATION}=true\n");
        let git_releases = [
            git_release(n, "shop-v1", MANIFEST),
            git_release(n, "shop-v2", &MANIFEST.replace("nginx:1", "nginx:2")),
            git_release(n, "shop-v3", &never_ready),
        ];
        for release in &git_releases {
            git_apply(&releases, release).await;
        }
        wait_app(&ns, "shop", "shop-v1 to run", running("shop-v1")).await;
        assert_eq!(argo_health(&ns).await.0, "Healthy");

        // A git commit promotes shop-v2.
        git_apply(&apps, &git_app(n, "shop-v2")).await;
        wait_app(&ns, "shop", "shop-v2 to run", running("shop-v2")).await;

        // The next commit names a release that never becomes ready: the operator rolls back.
        let last_commit = git_app(n, "shop-v3");
        git_apply(&apps, &last_commit).await;
        wait_app(&ns, "shop", "the automatic rollback to shop-v2", |s| {
            let ready = find(&s.conditions, READY).map(|c| c.reason.as_str());
            match (&s.phase, s.release.as_deref(), ready) {
                (Some(AppPhase::Failed), Some("shop-v2"), Some(reason::ROLLED_BACK)) => Ok(()),
                _ => Err("not rolled back yet".to_string()),
            }
        })
        .await;
        let (health, message) = argo_health(&ns).await;
        assert_eq!(health, "Degraded", "{message}");
        assert!(message.contains("rolled back to shop-v2"), "{message}");

        // History cleanup ran (limit 1): the old CLI release went, every tracked one stayed,
        // shop-v1 too, which nothing but its tracking protects.
        let plain = ns.api::<Release>();
        wait_for(
            CONVERGE,
            "history cleanup to delete the untracked release",
            || {
                let plain = plain.clone();
                async move {
                    match plain.get_opt("rclimadeold").await {
                        Ok(None) => Ok(()),
                        Ok(Some(_)) => Err("still there".to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                }
            },
        )
        .await;
        for release in &git_releases {
            as_git_wrote_it(&releases, release).await;
        }
        as_git_wrote_it(&apps, &last_commit).await;
        assert_no_tracking_on_what_the_operator_made(&ns).await;

        // The CLI does not move spec.release away from git: it says what to commit instead.
        let out = Command::new(binary("convox"))
            .args(["releases", "promote", "shop-v1", "-a", "shop", "-n", n])
            .env("KUBECONFIG", slipway_tests::kubeconfig_path())
            .output()
            .expect("convox runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "convox refused: {stderr}");
        assert!(stderr.contains(&format!("managed by {GITOPS}")), "{stderr}");
        assert!(
            stderr.contains("kind: App") && stderr.contains("  release: shop-v1"),
            "{stderr}"
        );
        as_git_wrote_it(&apps, &last_commit).await;

        // A CLI rollback of a tracked release is refused the same way; the copy it made for
        // the commit to name carries none of the source's tracking.
        let out = Command::new(binary("convox"))
            .args(["releases", "rollback", "shop-v1", "-a", "shop", "-n", n])
            .env("KUBECONFIG", slipway_tests::kubeconfig_path())
            .output()
            .expect("convox runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "convox refused: {stderr}");
        assert!(stderr.contains(&format!("managed by {GITOPS}")), "{stderr}");
        let copies: Vec<Release> = plain
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|r| r.spec.rollback_of.as_deref() == Some("shop-v1"))
            .collect();
        assert_eq!(copies.len(), 1, "one copy of shop-v1");
        assert_eq!(tracking_keys(&copies[0].metadata), Vec::<String>::new());
        as_git_wrote_it(&apps, &last_commit).await;
    })
    .await;
}
