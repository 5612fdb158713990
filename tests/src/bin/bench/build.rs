//! 6. Builds from source: `convox build` of a two-service app on the real node, every layer
//!    built again (`--no-cache`) beside the unchanged source built with the registry's layer
//!    cache, in pairs alternating which goes first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use slipway_crds::App;
use slipway_tests::kubeconfig_path;
use slipway_tests::realnode::{builder_flags, image, push_endpoint};

use crate::kube::create_namespace;
use crate::objects;
use crate::operator::{Operator, bin_dir};
use crate::rbac::Account;

const APP: &str = "built";

/// What the build benchmark measured: wall time of `convox build`, start to exit.
#[derive(Debug, Default)]
pub struct Builds {
    /// Every layer built again.
    pub cold: Vec<Duration>,
    /// The same source again, layers from the registry's cache.
    pub cached: Vec<Duration>,
    /// cached / cold, pair by pair.
    pub ratios: Vec<f64>,
}

/// Runs `pairs` pairs of builds in namespace `ns` on the real node.
pub async fn run(client: &Client, account: &Account, ns: &str, pairs: usize) -> Builds {
    create_namespace(client, ns).await;
    let annotation = json!({ "metadata": { "annotations": {
        "scheduler.alpha.kubernetes.io/node-selector": "testenv.slipway.dev/node=real" } } });
    Api::<Namespace>::all(client.clone())
        .patch(ns, &PatchParams::default(), &Patch::Merge(&annotation))
        .await
        .expect("placing the namespace on the real node");
    let operator =
        Operator::start_with(account, &[ns], &format!("operator-{ns}"), &builder_flags());
    operator.wait_ready(Instant::now());
    objects::create_app(client, ns, &objects::app(APP, None, 10)).await;
    let apps: Api<App> = Api::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(30);
    while apps
        .get(APP)
        .await
        .ok()
        .and_then(|a| a.status?.repository)
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the operator reported no repository"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dir = write_source(ns);
    // The first build fills the registry's cache; it is not counted.
    build(ns, &dir, false);
    let mut builds = Builds::default();
    for pair in 0..pairs {
        let (cold, cached) = if pair % 2 == 0 {
            let cold = build(ns, &dir, true);
            (cold, build(ns, &dir, false))
        } else {
            let cached = build(ns, &dir, false);
            (build(ns, &dir, true), cached)
        };
        builds
            .ratios
            .push(cached.as_secs_f64() / cold.as_secs_f64());
        builds.cold.push(cold);
        builds.cached.push(cached);
    }
    let _ = std::fs::remove_dir_all(&dir);
    builds
}

/// A web service whose steps write a 20 MiB layer and a small one, and a worker.
fn write_source(ns: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slipway-bench-{ns}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("worker")).expect("the source folder");
    let web = format!(
        "FROM {}\nRUN head -c 20971520 /dev/urandom > /blob\nCOPY . /src\nRUN ls -R /src > /greeting\n",
        image("testapp")
    );
    let worker = format!("FROM {}\nRUN echo worker > /says\n", image("busybox"));
    for (path, text) in [
        ("Dockerfile", web),
        ("worker/Dockerfile", worker),
        (
            "convox.yml",
            "services:\n  web:\n    build: .\n    port: 8080\n  worker:\n    build: worker\n"
                .into(),
        ),
    ] {
        std::fs::write(dir.join(path), text).expect("writing the source");
    }
    dir
}

/// One `convox build`, timed from start to exit.
fn build(ns: &str, dir: &Path, no_cache: bool) -> Duration {
    let (key, value) = push_endpoint();
    let mut command = Command::new(bin_dir().join("convox"));
    command
        .args(["-n", ns, "-a", APP, "build"])
        .arg(dir)
        .env("KUBECONFIG", kubeconfig_path())
        .env(key, value);
    if no_cache {
        command.arg("--no-cache");
    }
    let started = Instant::now();
    let out = command.output().expect("running convox build");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "convox build failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}
