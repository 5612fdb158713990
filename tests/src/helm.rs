//! helm (built by `tests/testenv/testenv build`) against the test control plane, and the
//! server-side dry run of what it renders.

use std::path::PathBuf;
use std::process::Command;

use kube::api::{DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{Scope, pinned_kind};
use kube::{Api, Client};

use crate::cluster::{kubeconfig_path, testenv_dir, workspace_root};

/// The chart's folder.
pub fn chart() -> PathBuf {
    workspace_root().join("charts/slipway")
}

/// The helm binary: `$HELM`, else the one `testenv build` cached.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HELM").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let testenv = workspace_root().join("tests/testenv/testenv");
    let out = Command::new(&testenv)
        .args(["path", "helm"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", testenv.display()));
    assert!(
        out.status.success(),
        "no helm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// What a helm command did.
pub struct Outcome {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs helm with `args` against the test control plane, with its own config and cache dirs.
pub fn run(args: &[&str]) -> Outcome {
    let home = testenv_dir().join("helm");
    let out = Command::new(binary())
        .args(args)
        .env("KUBECONFIG", kubeconfig_path())
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("helm runs");
    Outcome {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs helm and returns its output; panics with its errors if it fails.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.ok,
        "helm {} failed:\n{}\n{}",
        args.join(" "),
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// `helm template` of the chart as release `release` in `namespace` with `--set` values.
pub fn template(release: &str, namespace: &str, sets: &[&str]) -> Vec<serde_json::Value> {
    let chart = chart();
    let mut args = vec![
        "template",
        release,
        chart.to_str().expect("a UTF-8 path"),
        "--namespace",
        namespace,
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    let yaml = ok(&args);
    serde_saphyr::from_multiple::<serde_json::Value>(&yaml)
        .unwrap_or_else(|e| panic!("helm template printed invalid YAML: {e}\n{yaml}"))
        .into_iter()
        .filter(|doc| !doc.is_null())
        .collect()
}

/// The objects of `kind` among `objects`.
pub fn of_kind<'a>(objects: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// The object of `kind` named `name` among `objects`.
pub fn named<'a>(
    objects: &'a [serde_json::Value],
    kind: &str,
    name: &str,
) -> Option<&'a serde_json::Value> {
    of_kind(objects, kind)
        .into_iter()
        .find(|o| o["metadata"]["name"] == name)
}

/// The args of the operator container of the chart's Deployment among `objects`.
pub fn container_args(objects: &[serde_json::Value]) -> Vec<String> {
    let deployment = &of_kind(objects, "Deployment")[0];
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    serde_json::from_value(args.clone()).expect("container args")
}

/// Server-side applies each object as a dry run (`kubectl apply --server-side --dry-run=server
/// --validate=strict`): the API server validates and admits it, refuses any field its schema
/// lacks, and stores nothing.
pub async fn dry_run_apply(client: &Client, objects: &[serde_json::Value]) -> Result<(), String> {
    server_side_apply(client, objects, true).await
}

/// Server-side applies each object for real (the fixtures a test installs, such as CRDs).
pub async fn apply(client: &Client, objects: &[serde_json::Value]) -> Result<(), String> {
    server_side_apply(client, objects, false).await
}

async fn server_side_apply(
    client: &Client,
    objects: &[serde_json::Value],
    dry_run: bool,
) -> Result<(), String> {
    for object in objects {
        let obj: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
        let types = obj
            .types
            .clone()
            .ok_or("an object without apiVersion and kind")?;
        let (group, version) = match types.api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", types.api_version.as_str()),
        };
        let gvk = GroupVersionKind::gvk(group, version, &types.kind);
        let (resource, caps) = pinned_kind(client, &gvk)
            .await
            .map_err(|e| format!("{}: {e}", types.kind))?;
        let name = obj
            .metadata
            .name
            .clone()
            .ok_or("an object without a name")?;
        let api: Api<DynamicObject> = match (caps.scope, &obj.metadata.namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
            (Scope::Namespaced, None) => {
                return Err(format!("{} {name} has no namespace", types.kind));
            }
            (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
        };
        // Forced, as `--force-conflicts`: an older copy applied by another manager (the CRDs
        // testenv installed) must not hide what the API server thinks of this one.
        let params = PatchParams::apply("slipway-chart-test")
            .force()
            .validation_strict();
        let params = if dry_run { params.dry_run() } else { params };
        api.patch(&name, &params, &Patch::Apply(&obj))
            .await
            .map_err(|e| format!("{} {name} was refused: {e}", types.kind))?;
    }
    Ok(())
}

/// A chart installed with `helm install`; uninstalled when dropped, so its cluster-wide
/// objects (ClusterRoles and their bindings) do not outlive the test.
pub struct Installed {
    /// The Helm release name.
    pub release: String,
    /// The namespace it was installed into.
    pub namespace: String,
    /// What `helm install` printed (the NOTES among it).
    pub output: String,
}

/// `helm install <release> charts/slipway --namespace <namespace> --set ... --wait`.
pub fn install(release: &str, namespace: &str, sets: &[&str]) -> Installed {
    let chart = chart();
    let mut args = vec![
        "install",
        release,
        chart.to_str().expect("a UTF-8 path"),
        "--namespace",
        namespace,
        "--wait",
        "--timeout",
        "3m",
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    let output = ok(&args);
    Installed {
        release: release.to_string(),
        namespace: namespace.to_string(),
        output,
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let out = run(&["uninstall", &self.release, "--namespace", &self.namespace]);
        if !out.ok {
            eprintln!("helm uninstall {}: {}", self.release, out.stderr);
        }
    }
}
