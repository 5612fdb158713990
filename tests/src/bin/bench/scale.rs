//! 3. Scale: N Apps of two services created at once until all run, beside the same Deployments
//!    and Services applied straight; the operator's writes, reads and peak memory; a restart.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use slipway_crds::{App, AppPhase};
use slipway_tests::deployment_rolled_out;

use crate::kube::{Watched, create_namespace, delete_namespaces, ensure_pod_capacity, fan_out};
use crate::objects::{self, numbered_env, release_name, two_services};
use crate::operator::{Metrics, Operator};

/// How long one size may take to converge before the benchmark gives up.
const CONVERGE: Duration = Duration::from_secs(900);
/// How often the large stores are looked at.
const POLL: Duration = Duration::from_millis(100);
/// How long writes may trail behind the last App turning Running.
const SETTLE: Duration = Duration::from_secs(3);

/// What one size of the scale benchmark measured.
#[derive(Debug, Default, Clone)]
pub struct Scale {
    /// Apps (each of two services, one replica each).
    pub apps: usize,
    /// Releases in the namespace.
    pub releases: usize,
    /// Apps created (at once) -> every App Running.
    pub slipway: Duration,
    /// The same Deployments and Services applied (at once) -> every Deployment rolled out.
    pub straight: Duration,
    /// Operator writes per App, until settled.
    pub writes: f64,
    /// Operator reads (get, list) per App.
    pub reads: f64,
    /// App reconciles per App.
    pub reconciles: f64,
    /// Operator peak resident memory (VmHWM), MiB.
    pub peak_mib: f64,
    /// Restart: process started -> /readyz ok.
    pub restart_ready: Duration,
    /// Restart: process started -> every App reconciled (reconciles >= Apps).
    pub restart_converged: Duration,
    /// Restart: writes issued by the new process once converged and settled.
    pub restart_writes: f64,
    /// Restart: reads issued by the new process, per App.
    pub restart_reads: f64,
    /// Restart: the new process's peak memory, MiB (it lists everything at once).
    pub restart_peak_mib: f64,
}

/// Runs one size: `apps` Apps with `releases` releases each.
pub async fn run(client: &Client, apps: usize, releases: usize) -> Scale {
    let run = std::process::id();
    let (ns, plain) = (
        format!("bench-scale-{apps}-{run}"),
        format!("bench-plain-{apps}-{run}"),
    );
    create_namespace(client, &ns).await;
    create_namespace(client, &plain).await;
    ensure_pod_capacity(client, 4 * apps + 10).await;
    let mut operator = Operator::start(&[&ns], &format!("operator-{ns}"));
    operator.wait_ready(Instant::now());
    let names: Vec<String> = (0..apps).map(|a| format!("a{a:04}")).collect();
    let manifest = two_services(1);
    let all: Vec<(&String, usize)> = names
        .iter()
        .flat_map(|a| (0..releases).map(move |i| (a, i)))
        .collect();
    fan_out(all, |(app, i)| {
        let (ns, manifest) = (&ns, &manifest);
        async move {
            // The newest release is made as the CLI makes it; older ones are never rendered.
            let pinned = i + 1 == releases;
            let name = release_name(app, i);
            objects::create_release(client, ns, app, &name, manifest, &numbered_env(i), pinned)
                .await
        }
    })
    .await;

    let mut out = Scale {
        apps,
        releases: apps * releases,
        ..Scale::default()
    };
    let mut watched = Watched::<App>::start(Api::namespaced(client.clone(), &ns)).await;
    let before = operator.metrics();
    let started = Instant::now();
    fan_out(names.clone(), |app| {
        let ns = &ns;
        async move {
            let newest = release_name(&app, releases - 1);
            objects::create_app(client, ns, &objects::app(&app, Some(&newest), 50)).await
        }
    })
    .await;
    watched
        .until(CONVERGE, Some(POLL), "every App to run", |all| {
            (all.len() == apps && all.iter().all(|a| running(a, releases))).then_some(())
        })
        .await;
    out.slipway = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let after = operator.metrics();
    let per_app = |f: fn(&Metrics) -> f64| (f(&after) - f(&before)) / apps as f64;
    (out.writes, out.reads, out.reconciles) = (
        per_app(Metrics::writes),
        per_app(Metrics::reads),
        per_app(Metrics::app_reconciles),
    );
    out.peak_mib = operator.peak_mib();
    drop(watched);

    out.straight = straight(client, &ns, &plain, apps).await;
    restart(&mut operator, &ns, apps, &mut out).await;
    drop(operator);
    if std::env::var_os("BENCH_KEEP").is_none() {
        delete_namespaces(client, &[ns, plain], Duration::from_secs(300)).await;
    }
    out
}

fn running(app: &App, releases: usize) -> bool {
    let status = app.status.clone().unwrap_or_default();
    let newest = release_name(&app.name_any(), releases - 1);
    status.release.as_deref() == Some(newest.as_str()) && status.phase == Some(AppPhase::Running)
}

/// Applies copies of everything the operator made in `from` into `to`; time until rolled out.
async fn straight(client: &Client, from: &str, to: &str, apps: usize) -> Duration {
    let deployments = Api::<Deployment>::namespaced(client.clone(), from)
        .list(&ListParams::default())
        .await
        .expect("list rendered Deployments");
    let services = Api::<Service>::namespaced(client.clone(), from)
        .list(&ListParams::default())
        .await
        .expect("list rendered Services");
    let mut watched = Watched::<Deployment>::start(Api::namespaced(client.clone(), to)).await;
    let started = Instant::now();
    let writes: Vec<Write> = deployments
        .items
        .iter()
        .map(|d| Write::Deployment(Box::new(objects::moved_deployment(d))))
        .chain(
            services
                .items
                .iter()
                .map(|s| Write::Service(Box::new(objects::moved_service(s)))),
        )
        .collect();
    fan_out(writes, |write| async move {
        match write {
            Write::Deployment(d) => objects::apply(client, to, d.as_ref()).await,
            Write::Service(s) => objects::apply(client, to, s.as_ref()).await,
        }
    })
    .await;
    let count = deployments.items.len();
    assert_eq!(count, 2 * apps, "two rendered Deployments per App");
    watched
        .until(
            CONVERGE,
            Some(POLL),
            "every plain Deployment to roll out",
            |all| {
                (all.len() == count && all.iter().all(|d| deployment_rolled_out(d).is_ok()))
                    .then_some(())
            },
        )
        .await;
    started.elapsed()
}

enum Write {
    Deployment(Box<Deployment>),
    Service(Box<Service>),
}

/// Kills the operator with everything converged and measures the new process.
async fn restart(operator: &mut Operator, ns: &str, apps: usize, out: &mut Scale) {
    operator.kill();
    let started = Instant::now();
    *operator = Operator::start(&[ns], &format!("operator-{ns}"));
    out.restart_ready = operator.wait_ready(started);
    let deadline = Instant::now() + CONVERGE;
    while operator.metrics().app_reconciles() < apps as f64 {
        assert!(
            Instant::now() < deadline,
            "the restarted operator did not reconcile every App"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out.restart_converged = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let metrics = operator.metrics();
    out.restart_writes = metrics.writes();
    out.restart_reads = metrics.reads() / apps as f64;
    out.restart_peak_mib = operator.peak_mib();
}
