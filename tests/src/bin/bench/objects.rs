//! The objects the benchmarks make: manifests, Apps, Releases as the CLI makes them, and
//! plain copies of what the operator rendered, for the straight baselines.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use slipway_crds::{App, AppSpec, Release, ReleaseSpec, env, labels};

/// Field manager of the benchmark's own writes.
pub const MANAGER: &str = "slipway-bench";

/// A convox.yml with a web service (with a port, so a Service too) and a worker.
pub fn two_services(count: i32) -> String {
    format!(
        "services:\n  web:\n    image: nginx:1\n    port: 5000\n    scale:\n      count: {count}\n  worker:\n    image: busybox:1\n    command: bin/work\n    scale:\n      count: {count}\n"
    )
}

/// A convox.yml with one web service of `count` replicas.
pub fn one_service(count: i32) -> String {
    format!(
        "services:\n  web:\n    image: nginx:1\n    port: 5000\n    scale:\n      count: {count}\n"
    )
}

/// The name of release `i` of `app` (object names are lowercase IDs).
pub fn release_name(app: &str, i: usize) -> String {
    format!("r{app}-{i:05}")
}

/// An App pointing at `release`, keeping `history` releases.
pub fn app(name: &str, release: Option<&str>, history: i32) -> App {
    App::new(
        name,
        AppSpec {
            release: release.map(str::to_string),
            release_history_limit: Some(history),
            ..AppSpec::default()
        },
    )
}

/// Creates an App.
pub async fn create_app(client: &Client, ns: &str, app: &App) {
    Api::<App>::namespaced(client.clone(), ns)
        .create(&post(), app)
        .await
        .unwrap_or_else(|e| panic!("creating App {}: {e}", app.name_any()));
}

/// Creates release `name` of `app`; with `pinned`, its env goes into an immutable Secret as
/// the CLI does it, else it stays in the spec as a hand-written release.
pub async fn create_release(
    client: &Client,
    ns: &str,
    app: &str,
    name: &str,
    manifest: &str,
    env: &env::Env,
    pinned: bool,
) {
    let mut spec = ReleaseSpec {
        app: app.to_string(),
        manifest: manifest.to_string(),
        description: format!("bench release {name}"),
        created: Some(slipway_crds::stamp::now_stamp()),
        ..ReleaseSpec::default()
    };
    if pinned {
        let (secret, reference) = env::pinned_secret(app, name, env);
        Api::<Secret>::namespaced(client.clone(), ns)
            .create(&post(), &secret)
            .await
            .unwrap_or_else(|e| panic!("creating the env Secret of {name}: {e}"));
        spec.env_secret = Some(reference);
    } else {
        spec.env = env.clone();
    }
    let mut release = Release::new(name, spec);
    release.metadata.labels = Some(labels::app_labels(app));
    Api::<Release>::namespaced(client.clone(), ns)
        .create(&post(), &release)
        .await
        .unwrap_or_else(|e| panic!("creating Release {name}: {e}"));
}

/// The env of release number `i`: one variable, so every release renders differently.
pub fn numbered_env(i: usize) -> env::Env {
    BTreeMap::from([("BENCH_RELEASE".to_string(), i.to_string())])
}

/// Points App `app` at `release`, as `convox releases promote` does.
pub async fn promote(client: &Client, ns: &str, app: &str, release: &str) {
    let patch = json!({ "spec": { "release": release } });
    Api::<App>::namespaced(client.clone(), ns)
        .patch(app, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("promoting {app} to {release}: {e}"));
}

/// A copy of a rendered Deployment that nothing of Slipway owns or watches: name `name`,
/// selected by the label `slipway.dev/bench=<name>` instead of Slipway's labels.
pub fn plain_deployment(rendered: &Deployment, name: &str) -> Deployment {
    let mut spec = rendered.spec.clone().expect("a rendered spec");
    let selected = BTreeMap::from([("slipway.dev/bench".to_string(), name.to_string())]);
    spec.selector = LabelSelector {
        match_labels: Some(selected.clone()),
        ..LabelSelector::default()
    };
    let template = spec
        .template
        .metadata
        .get_or_insert_with(ObjectMeta::default);
    template.labels = Some(selected.clone());
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(selected),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// A rendered Deployment moved to another namespace as is (labels, template and all).
pub fn moved_deployment(rendered: &Deployment) -> Deployment {
    Deployment {
        metadata: moved_meta(&rendered.metadata),
        spec: rendered.spec.clone(),
        status: None,
    }
}

/// A rendered Service moved to another namespace, without its allocated cluster IPs.
pub fn moved_service(rendered: &Service) -> Service {
    let mut spec = rendered.spec.clone().unwrap_or_default();
    spec.cluster_ip = None;
    spec.cluster_ips = None;
    Service {
        metadata: moved_meta(&rendered.metadata),
        spec: Some(spec),
        status: None,
    }
}

fn moved_meta(meta: &ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        name: meta.name.clone(),
        labels: meta.labels.clone(),
        annotations: meta.annotations.clone(),
        ..ObjectMeta::default()
    }
}

/// Server-side applies `object` into `ns` as the benchmark.
pub async fn apply<K>(client: &Client, ns: &str, object: &K)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let name = object.name_any();
    Api::<K>::namespaced(client.clone(), ns)
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(object),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {name}: {e}"));
}

fn post() -> PostParams {
    PostParams {
        field_manager: Some(MANAGER.to_string()),
        ..PostParams::default()
    }
}
