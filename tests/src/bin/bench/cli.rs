//! 4. CLI: `convox releases` for one app among many apps and releases in the namespace; its
//!    latency and the requests it makes, with few and with many other apps' releases.

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

/// What the CLI benchmark measured: first with only the listed app's releases, then with
/// every app's.
#[derive(Debug, Default)]
pub struct Cli {
    /// Only the listed app's releases in the namespace.
    pub alone: Runs,
    /// All apps' releases.
    pub crowded: Runs,
}

/// Measures `convox releases` for one app of `apps`, each with `per_app` releases.
pub async fn run(client: &Client, ns: &str, apps: usize, per_app: usize, runs: usize) -> Cli {
    create_namespace(client, ns).await;
    fill(client, ns, &[APP.to_string()], per_app).await;
    let alone = measure(client, ns, runs, 1, per_app).await;
    let others: Vec<String> = (1..apps).map(|a| format!("app-{a:04}")).collect();
    fill(client, ns, &others, per_app).await;
    let crowded = measure(client, ns, runs, apps, apps * per_app).await;
    Cli { alone, crowded }
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

async fn measure(client: &Client, ns: &str, runs: usize, apps: usize, releases: usize) -> Runs {
    let mut out = Runs {
        releases,
        apps,
        ..Runs::default()
    };
    releases_once(ns).await; // warm the file cache
    let slipway = ["group=\"slipway.dev\""];
    let mut requests = vec![];
    for _ in 0..runs {
        let before = apiserver_requests(client, &slipway).await;
        let started = Instant::now();
        let text = releases_once(ns).await;
        out.latency.push(started.elapsed());
        requests.push(apiserver_requests(client, &slipway).await - before);
        out.rows = text.lines().count().saturating_sub(1);
    }
    requests.sort_by(f64::total_cmp);
    out.requests = requests[requests.len() / 2];
    out
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
