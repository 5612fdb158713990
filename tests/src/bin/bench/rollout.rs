//! 2. Overhead on a rollout: a 3-replica service promoted through Slipway, beside the same
//!    change patched straight into a Deployment; wall time until complete, in pairs. Three
//!    kinds of pods: kwok's, Ready at once; kwok's, Ready a few seconds after they run; and the
//!    real node's, Ready when their HTTP readiness probe passes.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use slipway_crds::App;
use slipway_tests::realnode::testapp_manifest;
use slipway_tests::{NODE_SELECTOR_ANNOTATION, REAL_NODE_SELECTOR, deployment_rolled_out};

use crate::kube::{Watched, create_namespace, fan_out};
use crate::objects::{self, numbered_env, one_service, release_name};
use crate::operator::Operator;
use crate::rbac::Account;
use crate::reaction::{find, wait_running};

const APP: &str = "roll";
const PLAIN: &str = "plain-roll";
const REPLICAS: i32 = 3;
/// The kwok stage that makes pods Ready late (tests/testenv/stages/pod-ready-after.yaml).
const READY_AFTER: &str = "testenv.slipway.dev/ready-after";
/// How long one rollout may take before the benchmark gives up.
const ROLLOUT: Duration = Duration::from_secs(180);

/// The pods a rollout waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum Pods {
    /// kwok's: Ready about as soon as they are bound.
    Instant,
    /// kwok's: Running at once, Ready this long after (a Go duration, `3s`).
    ReadyAfter(String),
    /// The real node's test app: Ready when its HTTP readiness probe passes.
    Real,
}

impl Pods {
    /// The name `BENCH_ONLY` selects these pods by.
    pub fn key(&self) -> &'static str {
        match self {
            Pods::Instant => "rollout",
            Pods::ReadyAfter(_) => "rollout-ready",
            Pods::Real => "rollout-real",
        }
    }

    fn manifest(&self) -> String {
        match self {
            Pods::Instant => one_service(REPLICAS),
            Pods::ReadyAfter(after) => format!(
                "{}    annotations:\n      {READY_AFTER}: \"{after}\"\n",
                one_service(REPLICAS)
            ),
            Pods::Real => testapp_manifest(&[], &format!("    scale:\n      count: {REPLICAS}\n")),
        }
    }
}

/// What the rollout benchmark measured for one kind of pods.
#[derive(Debug)]
pub struct Rollout {
    /// The pods rolled.
    pub pods: Pods,
    /// Promote -> the App reports the release Running.
    pub slipway: Vec<Duration>,
    /// Template patched straight -> the Deployment rolled out.
    pub straight: Vec<Duration>,
    /// slipway / straight, pair by pair.
    pub ratios: Vec<f64>,
    /// Operator CPU seconds over all pairs.
    pub cpu_seconds: f64,
}

impl Rollout {
    /// slipway − straight, pair by pair, in milliseconds.
    pub fn extra_ms(&self) -> Vec<f64> {
        self.slipway
            .iter()
            .zip(&self.straight)
            .map(|(s, p)| (s.as_secs_f64() - p.as_secs_f64()) * 1000.0)
            .collect()
    }
}

/// Runs `pairs` pairs of rollouts of `pods`, alternating which of the two goes first.
pub async fn run(
    client: &Client,
    account: &Account,
    ns: &str,
    pairs: usize,
    pods: Pods,
) -> Rollout {
    create_namespace(client, ns).await;
    if pods == Pods::Real {
        let annotation = json!({ "metadata": { "annotations": { NODE_SELECTOR_ANNOTATION: REAL_NODE_SELECTOR } } });
        Api::<Namespace>::all(client.clone())
            .patch(ns, &PatchParams::default(), &Patch::Merge(&annotation))
            .await
            .expect("placing the namespace on the real node");
    }
    let operator = Operator::start(account, &[ns], &format!("operator-{ns}"));
    operator.wait_ready(Instant::now());
    let manifest = pods.manifest();
    fan_out((0..=pairs).collect(), |i| {
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
    wait_running(&mut apps, &first, ROLLOUT).await;
    let rendered =
        find(&deployments.state(), &format!("{APP}-web")).expect("the rendered Deployment");
    objects::apply(client, ns, &objects::plain_deployment(&rendered, PLAIN)).await;
    wait_rolled_out(&mut deployments, 1).await;

    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let mut out = Rollout {
        pods,
        slipway: vec![],
        straight: vec![],
        ratios: vec![],
        cpu_seconds: 0.0,
    };
    let cpu_before = operator.cpu_seconds();
    for i in 1..=pairs {
        let release = release_name(APP, i);
        let (s, p) = if i % 2 == 0 {
            let s = promote(client, ns, &release, &mut apps).await;
            (s, patch(&api, i, &mut deployments).await)
        } else {
            let p = patch(&api, i, &mut deployments).await;
            (promote(client, ns, &release, &mut apps).await, p)
        };
        out.ratios.push(s.as_secs_f64() / p.as_secs_f64());
        out.slipway.push(s);
        out.straight.push(p);
    }
    out.cpu_seconds = operator.cpu_seconds() - cpu_before;
    out
}

async fn promote(client: &Client, ns: &str, release: &str, apps: &mut Watched<App>) -> Duration {
    let started = Instant::now();
    objects::promote(client, ns, APP, release).await;
    wait_running(apps, release, ROLLOUT).await;
    started.elapsed()
}

async fn patch(api: &Api<Deployment>, i: usize, deployments: &mut Watched<Deployment>) -> Duration {
    let started = Instant::now();
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"slipway.dev/bench-revision": i.to_string()}}}}});
    let patched = api
        .patch(PLAIN, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("patching {PLAIN}: {e}"));
    wait_rolled_out(deployments, patched.metadata.generation.unwrap_or(0)).await;
    started.elapsed()
}

async fn wait_rolled_out(deployments: &mut Watched<Deployment>, generation: i64) {
    deployments
        .until(ROLLOUT, None, "the plain Deployment to roll out", |all| {
            let d = find(all, PLAIN)?;
            (d.metadata.generation.unwrap_or(0) >= generation && deployment_rolled_out(&d).is_ok())
                .then_some(())
        })
        .await;
}
