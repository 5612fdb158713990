//! 1. Reaction: from the write of `App.spec.release` to every Deployment of the app carrying
//!    the new pod template, beside the same change patched straight into both Deployments.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use slipway_crds::{App, AppPhase, labels};

use crate::kube::{Watched, create_namespace, fan_out};
use crate::objects::{self, numbered_env, release_name, two_services};
use crate::operator::Operator;
use crate::rbac::Account;

/// How long one step may take before the benchmark gives up.
const STEP: Duration = Duration::from_secs(60);
const APP: &str = "react";
const PLAIN: [&str; 2] = ["plain-web", "plain-worker"];
const REVISION: &str = "slipway.dev/bench-revision";

/// What the reaction benchmark measured.
#[derive(Debug, Default)]
pub struct Reaction {
    /// App PATCH sent -> both Deployments seen (on a watch) with the new template.
    pub slipway: Vec<Duration>,
    /// The App PATCH's own round trip.
    pub app_patch: Vec<Duration>,
    /// Both Deployments patched straight (at once) -> both seen with the new template.
    pub straight: Vec<Duration>,
    /// One Deployment PATCH's own round trip.
    pub deployment_patch: Vec<Duration>,
    /// slipway / straight, each promote over the straight patch measured beside it.
    pub ratios: Vec<f64>,
    /// Operator CPU seconds over all promotes (and the straight patches between them).
    pub cpu_seconds: f64,
    /// Operator API writes per promote, all of it (apply, status, events, cleanup).
    pub writes: f64,
    /// Operator API reads (get, list) per promote.
    pub reads: f64,
    /// App reconciles per promote.
    pub reconciles: f64,
}

/// Promotes one app of two services `promotes` times; see [`Reaction`].
pub async fn run(client: &Client, account: &Account, ns: &str, promotes: usize) -> Reaction {
    create_namespace(client, ns).await;
    let operator = Operator::start(account, &[ns], &format!("operator-{ns}"));
    operator.wait_ready(Instant::now());
    let manifest = two_services(0);
    fan_out((0..=promotes).collect(), |i| {
        let manifest = &manifest;
        async move {
            let name = release_name(APP, i);
            objects::create_release(client, ns, APP, &name, manifest, &numbered_env(i), true).await
        }
    })
    .await;
    let mut apps = Watched::<App>::start(Api::namespaced(client.clone(), ns)).await;
    let mut deployments = Watched::<Deployment>::start(Api::namespaced(client.clone(), ns)).await;
    let first = release_name(APP, 0);
    objects::create_app(client, ns, &objects::app(APP, Some(&first), 100_000)).await;
    wait_running(&mut apps, &first, STEP).await;

    let rendered = deployments.state();
    for (plain, service) in PLAIN.iter().zip(["web", "worker"]) {
        let d = find(&rendered, &format!("{APP}-{service}")).expect("a rendered Deployment");
        objects::apply(client, ns, &objects::plain_deployment(&d, plain)).await;
    }
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let mut out = Reaction::default();
    let before = operator.metrics();
    let cpu_before = operator.cpu_seconds();
    for i in 1..=promotes {
        let release = release_name(APP, i);
        if i % 2 == 0 {
            slipway(client, ns, &release, &mut apps, &mut deployments, &mut out).await;
            straight(&api, i, &mut deployments, &mut out).await;
        } else {
            straight(&api, i, &mut deployments, &mut out).await;
            slipway(client, ns, &release, &mut apps, &mut deployments, &mut out).await;
        }
        let (s, p) = (out.slipway[i - 1], out.straight[i - 1]);
        out.ratios.push(s.as_secs_f64() / p.as_secs_f64());
    }
    out.cpu_seconds = operator.cpu_seconds() - cpu_before;
    let after = operator.metrics();
    let per = |f: fn(&crate::operator::Metrics) -> f64| (f(&after) - f(&before)) / promotes as f64;
    out.writes = per(|m| m.writes());
    out.reads = per(|m| m.reads());
    out.reconciles = per(|m| m.app_reconciles());
    out
}

async fn slipway(
    client: &Client,
    ns: &str,
    release: &str,
    apps: &mut Watched<App>,
    deployments: &mut Watched<Deployment>,
    out: &mut Reaction,
) {
    let started = Instant::now();
    objects::promote(client, ns, APP, release).await;
    out.app_patch.push(started.elapsed());
    let names = [format!("{APP}-web"), format!("{APP}-worker")];
    deployments
        .until(STEP, None, "the new template on every Deployment", |all| {
            names
                .iter()
                .all(|n| find(all, n).is_some_and(|d| template_label(&d) == Some(release)))
                .then_some(())
        })
        .await;
    out.slipway.push(started.elapsed());
    // Settle before the next measurement, so one does not run inside the other.
    wait_running(apps, release, STEP).await;
}

async fn straight(
    api: &Api<Deployment>,
    i: usize,
    deployments: &mut Watched<Deployment>,
    out: &mut Reaction,
) {
    let revision = i.to_string();
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {REVISION: revision}}}}});
    let patch_one = |name: &'static str| {
        let patch = &patch;
        async move {
            let started = Instant::now();
            api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .unwrap_or_else(|e| panic!("patching {name}: {e}"));
            started.elapsed()
        }
    };
    let started = Instant::now();
    let (a, b) = futures::join!(patch_one(PLAIN[0]), patch_one(PLAIN[1]));
    out.deployment_patch.extend([a, b]);
    deployments
        .until(
            STEP,
            None,
            "the patched template on both Deployments",
            |all| {
                PLAIN
                    .iter()
                    .all(|n| {
                        find(all, n).is_some_and(|d| template_annotation(&d) == Some(&revision))
                    })
                    .then_some(())
            },
        )
        .await;
    out.straight.push(started.elapsed());
    deployments
        .until(STEP, None, "the plain Deployments observed", |all| {
            PLAIN
                .iter()
                .all(|n| find(all, n).is_some_and(|d| observed(&d)))
                .then_some(())
        })
        .await;
}

/// Waits (up to `timeout`) until the App serves `release`, healthy.
pub async fn wait_running(apps: &mut Watched<App>, release: &str, timeout: Duration) {
    apps.until(timeout, None, &format!("the App to run {release}"), |all| {
        all.iter()
            .any(|a| {
                let s = a.status.clone().unwrap_or_default();
                s.release.as_deref() == Some(release) && s.phase == Some(AppPhase::Running)
            })
            .then_some(())
    })
    .await;
}

/// The object called `name`.
pub fn find<K: kube::Resource>(all: &[Arc<K>], name: &str) -> Option<Arc<K>> {
    all.iter()
        .find(|o| o.meta().name.as_deref() == Some(name))
        .cloned()
}

fn template_label(d: &Deployment) -> Option<&str> {
    let meta = d.spec.as_ref()?.template.metadata.as_ref()?;
    meta.labels
        .as_ref()?
        .get(labels::RELEASE)
        .map(String::as_str)
}

fn template_annotation(d: &Deployment) -> Option<&String> {
    let meta = d.spec.as_ref()?.template.metadata.as_ref()?;
    meta.annotations.as_ref()?.get(REVISION)
}

/// Whether the Deployment controller has seen the Deployment's latest spec.
pub fn observed(d: &Deployment) -> bool {
    let observed = d.status.as_ref().and_then(|s| s.observed_generation);
    observed.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}
