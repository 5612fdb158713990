//! 4. CLI: `convox releases` for one app among many apps and releases in the namespace; its
//!    latency and the requests it makes, beside the same app alone in a namespace of its own,
//!    run by run alternately.

use std::time::{Duration, Instant};

use kube::Client;
use slipway_tests::kubeconfig_path;

use crate::kube::{apiserver_requests, create_namespace, fan_out};
use crate::objects::{self, numbered_env, release_name, two_services};
use crate::operator::bin_dir;

/// The app whose releases are listed.
const APP: &str = "app-0000";

/// `convox releases` runs with a given number of releases in the namespace.
#[derive(Debug, Default, Clone)]
pub struct Runs {
    /// Releases in the namespace.
    pub releases: usize,
    /// Apps in the namespace.
    pub apps: usize,
    /// Wall time of each run (process start to exit).
    pub latency: Vec<Duration>,
    /// Requests to Slipway's resources per run, counted by the API server.
    pub requests: f64,
    /// Rows printed (header excluded).
    pub rows: usize,
}

/// What the CLI benchmark measured: one namespace with only the listed app's releases, one with
/// every app's, run by run alternately.
#[derive(Debug, Default)]
pub struct Cli {
    /// Only the listed app's releases in the namespace.
    pub alone: Runs,
    /// All apps' releases.
    pub crowded: Runs,
    /// crowded / alone, each run over the run beside it.
    pub ratios: Vec<f64>,
}

/// Measures `convox releases` for one app of `apps`, each with `per_app` releases: in `ns`
/// with every app's releases, in `ns`-alone with the one app's only; `runs` pairs, alternating
/// which of the two goes first.
pub async fn run(client: &Client, ns: &str, apps: usize, per_app: usize, runs: usize) -> Cli {
    let alone_ns = alone_namespace(ns);
    create_namespace(client, &alone_ns).await;
    create_namespace(client, ns).await;
    fill(client, &alone_ns, &[APP.to_string()], per_app).await;
    let all: Vec<String> = (0..apps).map(|a| format!("app-{a:04}")).collect();
    fill(client, ns, &all, per_app).await;
    let mut out = Cli {
        alone: Runs {
            releases: per_app,
            apps: 1,
            ..Runs::default()
        },
        crowded: Runs {
            releases: apps * per_app,
            apps,
            ..Runs::default()
        },
        ratios: vec![],
    };
    // Warm the file cache and both namespaces' first reads.
    releases_once(&alone_ns).await;
    releases_once(ns).await;
    let (mut alone_requests, mut crowded_requests) = (vec![], vec![]);
    for run in 0..runs {
        let (a, c) = if run % 2 == 0 {
            let a = measure(client, &alone_ns, &mut out.alone, &mut alone_requests).await;
            (
                a,
                measure(client, ns, &mut out.crowded, &mut crowded_requests).await,
            )
        } else {
            let c = measure(client, ns, &mut out.crowded, &mut crowded_requests).await;
            (
                measure(client, &alone_ns, &mut out.alone, &mut alone_requests).await,
                c,
            )
        };
        out.ratios.push(c.as_secs_f64() / a.as_secs_f64());
    }
    out.alone.requests = median(alone_requests);
    out.crowded.requests = median(crowded_requests);
    out
}

/// The namespace of the listed app alone, beside `ns`.
pub fn alone_namespace(ns: &str) -> String {
    format!("{ns}-alone")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

async fn fill(client: &Client, ns: &str, apps: &[String], per_app: usize) {
    fan_out(apps.to_vec(), |app| async move {
        objects::create_app(client, ns, &objects::app(&app, None, 1_000)).await
    })
    .await;
    let manifest = two_services(1);
    let all: Vec<(&String, usize)> = apps
        .iter()
        .flat_map(|a| (0..per_app).map(move |i| (a, i)))
        .collect();
    fan_out(all, |(app, i)| {
        let manifest = &manifest;
        async move {
            let name = release_name(app, i);
            objects::create_release(client, ns, app, &name, manifest, &numbered_env(i), false).await
        }
    })
    .await;
}

/// One run of `convox releases` in `ns`, recorded in `runs`; its latency.
async fn measure(client: &Client, ns: &str, runs: &mut Runs, requests: &mut Vec<f64>) -> Duration {
    let slipway = ["group=\"slipway.dev\""];
    let before = apiserver_requests(client, &slipway).await;
    let started = Instant::now();
    let text = releases_once(ns).await;
    let took = started.elapsed();
    runs.latency.push(took);
    requests.push(apiserver_requests(client, &slipway).await - before);
    runs.rows = text.lines().count().saturating_sub(1);
    took
}

async fn releases_once(ns: &str) -> String {
    let path = bin_dir().join("convox");
    let output = tokio::process::Command::new(&path)
        .args(["releases", "-a", APP, "-n", ns])
        .env("KUBECONFIG", kubeconfig_path())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run `make bench`", path.display()));
    assert!(
        output.status.success(),
        "convox releases failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
