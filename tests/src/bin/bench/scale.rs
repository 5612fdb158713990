//! 3. Scale: N Apps of two services created at once until all run, beside the same Deployments
//!    and Services applied straight; the operator's writes, reads, CPU and peak memory; a
//!    restart. Repeated in fresh namespaces, alternating which path goes first.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use slipway_crds::{App, AppPhase};
use slipway_tests::deployment_rolled_out;

use crate::kube::{
    GONE, Watched, create_namespace, delete_namespaces, ensure_pod_capacity, fan_out,
};
use crate::objects::{self, numbered_env, release_name, two_services};
use crate::operator::{Metrics, Operator};
use crate::rbac::Account;

/// How long one size may take to converge before the benchmark gives up.
const CONVERGE: Duration = Duration::from_secs(900);
/// How often the large stores are looked at.
const POLL: Duration = Duration::from_millis(100);
/// How long writes may trail behind the last App turning Running.
const SETTLE: Duration = Duration::from_secs(3);

/// One repetition of one size.
#[derive(Debug, Default, Clone)]
pub struct Rep {
    /// Whether the Slipway path ran before the straight one.
    pub slipway_first: bool,
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
    /// Operator CPU seconds from the Apps' creation until settled.
    pub cpu_seconds: f64,
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
    /// Restart: the new process's CPU seconds until converged and settled.
    pub restart_cpu_seconds: f64,
    /// Restart: the new process's peak memory, MiB (it lists everything at once).
    pub restart_peak_mib: f64,
}

impl Rep {
    /// Slipway over straight.
    pub fn ratio(&self) -> f64 {
        self.slipway.as_secs_f64() / self.straight.as_secs_f64()
    }
}

/// Every repetition of one size.
#[derive(Debug, Default, Clone)]
pub struct Scale {
    /// Apps (each of two services, one replica each).
    pub apps: usize,
    /// Releases in the namespace.
    pub releases: usize,
    /// The repetitions, in the order run.
    pub reps: Vec<Rep>,
    /// The namespaces of the last repetition, left for the caller to delete.
    pub namespaces: Vec<String>,
}

impl Scale {
    /// One figure of every repetition.
    pub fn each(&self, f: impl Fn(&Rep) -> f64) -> Vec<f64> {
        self.reps.iter().map(f).collect()
    }

    /// The highest peak of any process of any repetition, MiB.
    pub fn peak_mib(&self) -> f64 {
        self.each(|r| r.peak_mib.max(r.restart_peak_mib))
            .into_iter()
            .fold(0.0, f64::max)
    }
}

/// Runs one size `repeats` times: `apps` Apps with `releases` releases each, each repetition
/// in namespaces of its own (the previous ones deleted and gone first; the last ones are left).
pub async fn run(
    client: &Client,
    account: &Account,
    apps: usize,
    releases: usize,
    repeats: usize,
) -> Scale {
    let mut out = Scale {
        apps,
        releases: apps * releases,
        reps: vec![],
        namespaces: vec![],
    };
    let mut rendered = vec![];
    let mut previous: Vec<String> = vec![];
    for rep in 0..repeats {
        if !previous.is_empty() {
            delete_namespaces(client, &previous, GONE).await;
        }
        let names = [
            format!("bench-scale-{apps}-{rep}-{}", std::process::id()),
            format!("bench-plain-{apps}-{rep}-{}", std::process::id()),
        ];
        // The straight path applies what the operator rendered, so the first one runs second.
        let slipway_first = rep % 2 == 0 || rendered.is_empty();
        eprintln!(
            "bench: 3. scale, {apps} apps, repetition {} of {repeats}, {} first",
            rep + 1,
            if slipway_first { "Slipway" } else { "straight" }
        );
        let [ns, plain] = &names;
        let setup = Setup {
            client,
            account,
            ns,
            plain,
            apps,
            releases,
        };
        out.reps
            .push(setup.repetition(slipway_first, &mut rendered).await);
        previous = names.to_vec();
    }
    out.namespaces = previous;
    out
}

struct Setup<'a> {
    client: &'a Client,
    account: &'a Account,
    ns: &'a str,
    plain: &'a str,
    apps: usize,
    releases: usize,
}

impl Setup<'_> {
    async fn repetition(&self, slipway_first: bool, rendered: &mut Vec<Write>) -> Rep {
        let (client, ns, apps) = (self.client, self.ns, self.apps);
        create_namespace(client, ns).await;
        create_namespace(client, self.plain).await;
        ensure_pod_capacity(client, 4 * apps + 10).await;
        let mut operator = Operator::start(self.account, &[ns], &format!("operator-{ns}"));
        operator.wait_ready(Instant::now());
        self.create_releases().await;
        let mut out = Rep {
            slipway_first,
            ..Rep::default()
        };
        if slipway_first {
            self.slipway(&operator, &mut out).await;
            if rendered.is_empty() {
                *rendered = rendered_objects(client, ns).await;
            }
            out.straight = straight(client, self.plain, rendered, apps).await;
        } else {
            out.straight = straight(client, self.plain, rendered, apps).await;
            self.slipway(&operator, &mut out).await;
        }
        restart(&mut operator, self.account, ns, apps, &mut out).await;
        out
    }

    async fn create_releases(&self) {
        let (client, ns, releases) = (self.client, self.ns, self.releases);
        let names: Vec<String> = (0..self.apps).map(app_name).collect();
        let manifest = two_services(1);
        let all: Vec<(&String, usize)> = names
            .iter()
            .flat_map(|a| (0..releases).map(move |i| (a, i)))
            .collect();
        fan_out(all, |(app, i)| {
            let manifest = &manifest;
            async move {
                // The newest release is made as the CLI makes it; older ones are never rendered.
                let pinned = i + 1 == releases;
                let name = release_name(app, i);
                objects::create_release(client, ns, app, &name, manifest, &numbered_env(i), pinned)
                    .await
            }
        })
        .await;
    }

    /// Creates every App at once and waits until all run; the operator's cost meanwhile.
    async fn slipway(&self, operator: &Operator, out: &mut Rep) {
        let (client, ns, apps, releases) = (self.client, self.ns, self.apps, self.releases);
        let mut watched = Watched::<App>::start(Api::namespaced(client.clone(), ns)).await;
        let before = operator.metrics();
        let cpu_before = operator.cpu_seconds();
        let started = Instant::now();
        fan_out((0..apps).map(app_name).collect(), |app| async move {
            let newest = release_name(&app, releases - 1);
            objects::create_app(client, ns, &objects::app(&app, Some(&newest), 50)).await
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
        out.cpu_seconds = operator.cpu_seconds() - cpu_before;
        let per_app = |f: fn(&Metrics) -> f64| (f(&after) - f(&before)) / apps as f64;
        (out.writes, out.reads, out.reconciles) = (
            per_app(Metrics::writes),
            per_app(Metrics::reads),
            per_app(Metrics::app_reconciles),
        );
        out.peak_mib = operator.peak_mib();
    }
}

fn app_name(a: usize) -> String {
    format!("a{a:04}")
}

fn running(app: &App, releases: usize) -> bool {
    let status = app.status.clone().unwrap_or_default();
    let newest = release_name(&app.name_any(), releases - 1);
    status.release.as_deref() == Some(newest.as_str()) && status.phase == Some(AppPhase::Running)
}

/// Copies of everything the operator rendered in `from`, for another namespace.
async fn rendered_objects(client: &Client, from: &str) -> Vec<Write> {
    let deployments = Api::<Deployment>::namespaced(client.clone(), from)
        .list(&ListParams::default())
        .await
        .expect("list rendered Deployments");
    let services = Api::<Service>::namespaced(client.clone(), from)
        .list(&ListParams::default())
        .await
        .expect("list rendered Services");
    deployments
        .items
        .iter()
        .map(|d| Write::Deployment(Box::new(objects::moved_deployment(d))))
        .chain(
            services
                .items
                .iter()
                .map(|s| Write::Service(Box::new(objects::moved_service(s)))),
        )
        .collect()
}

/// Applies `objects` into `to` at once; time until every Deployment rolled out.
async fn straight(client: &Client, to: &str, objects: &[Write], apps: usize) -> Duration {
    let count = objects
        .iter()
        .filter(|w| matches!(w, Write::Deployment(_)))
        .count();
    assert_eq!(count, 2 * apps, "two rendered Deployments per App");
    let mut watched = Watched::<Deployment>::start(Api::namespaced(client.clone(), to)).await;
    let started = Instant::now();
    fan_out(objects.iter().collect(), |write| async move {
        match write {
            Write::Deployment(d) => objects::apply(client, to, d.as_ref()).await,
            Write::Service(s) => objects::apply(client, to, s.as_ref()).await,
        }
    })
    .await;
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

/// One object of the straight path.
pub enum Write {
    /// A rendered Deployment, moved.
    Deployment(Box<Deployment>),
    /// A rendered Service, moved.
    Service(Box<Service>),
}

/// Kills the operator with everything converged and measures the new process.
async fn restart(operator: &mut Operator, account: &Account, ns: &str, apps: usize, out: &mut Rep) {
    operator.kill();
    let started = Instant::now();
    *operator = Operator::start(account, &[ns], &format!("operator-{ns}"));
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
    out.restart_cpu_seconds = operator.cpu_seconds();
    out.restart_peak_mib = operator.peak_mib();
}
