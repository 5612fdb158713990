//! A client for the test control plane, throwaway namespaces, polling with deadlines,
//! and the control plane's logs when a test fails.

use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition};
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, Resource};
use rand::RngExt;
use serde::de::DeserializeOwned;

/// Pods whose metadata carries this annotation (value `"true"`) run but never become Ready.
pub const NEVER_READY_ANNOTATION: &str = "testenv.slipway.dev/never-ready";
/// Pods whose metadata carries this annotation (value `"true"`) report a container in
/// CrashLoopBackOff whose restartCount rises every few seconds.
pub const CRASHLOOP_ANNOTATION: &str = "testenv.slipway.dev/crashloop";

/// The namespace annotation (of the PodNodeSelector admission plugin) that places its pods.
pub const NODE_SELECTOR_ANNOTATION: &str = "scheduler.alpha.kubernetes.io/node-selector";
/// The selector of the test control plane's real node (containerd, kubelet, kube-proxy).
pub const REAL_NODE_SELECTOR: &str = "testenv.slipway.dev/node=real";

/// Where a test namespace's pods run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// kwok's fake node: pods "run" in a second with no container (the default).
    Kwok,
    /// The real node: containers run, probes and crashes are real.
    Real,
}

impl Node {
    fn namespace_annotations(self) -> Option<std::collections::BTreeMap<String, String>> {
        (self == Node::Real).then(|| {
            [(
                NODE_SELECTOR_ANNOTATION.to_owned(),
                REAL_NODE_SELECTOR.to_owned(),
            )]
            .into()
        })
    }
}

/// How often [`wait_for`] polls.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Lines of each component log printed when a test fails.
const LOG_TAIL_LINES: usize = 80;

/// The workspace root; relative `TESTENV_DIR` and `KUBECONFIG` values are taken from here,
/// because cargo runs tests inside the package directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// The control plane's working dir: `$TESTENV_DIR`, or `target/testenv`.
pub fn testenv_dir() -> PathBuf {
    let dir = std::env::var_os("TESTENV_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("target/testenv"), PathBuf::from);
    workspace_root().join(dir)
}

/// The kubeconfig the tests use: `$KUBECONFIG` (a single file), or the testenv's own.
pub fn kubeconfig_path() -> PathBuf {
    match std::env::var_os("KUBECONFIG").filter(|path| !path.is_empty()) {
        Some(path) => workspace_root().join(path),
        None => testenv_dir().join("kubeconfig"),
    }
}

/// A client for the test control plane. Never falls back to `~/.kube/config` or an
/// in-cluster config, so the tests cannot wander onto a real cluster by accident.
pub async fn client() -> Client {
    let path = kubeconfig_path();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read kubeconfig {}: {err}; start the control plane with `tests/testenv/testenv up`",
            path.display()
        )
    });
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|err| panic!("invalid kubeconfig {}: {err}", path.display()));
    Client::try_from(config).expect("a kube client from the testenv kubeconfig")
}

/// A throwaway namespace with a random name, for one test.
#[derive(Clone)]
pub struct TestNamespace {
    client: Client,
    name: String,
}

impl TestNamespace {
    /// Creates `<prefix>-<random>` and waits for its `default` ServiceAccount, without
    /// which the apiserver refuses Pods. Its pods run on kwok's node.
    pub async fn create(client: &Client, prefix: &str) -> Self {
        Self::create_on(client, prefix, Node::Kwok).await
    }

    /// [`TestNamespace::create`], with the namespace's pods placed on `node`.
    pub async fn create_on(client: &Client, prefix: &str, node: Node) -> Self {
        let name = format!("{prefix}-{}", random_suffix(6));
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([("testenv.slipway.dev/test".to_owned(), prefix.to_owned())].into()),
                annotations: node.namespace_annotations(),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|err| panic!("creating namespace {name}: {err}"));
        let accounts = Api::<ServiceAccount>::namespaced(client.clone(), &name);
        wait_for(
            Duration::from_secs(30),
            &format!("the default ServiceAccount in namespace {name}"),
            || async {
                match accounts.get_opt("default").await {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err("not created yet".to_owned()),
                    Err(err) => Err(err.to_string()),
                }
            },
        )
        .await;
        Self {
            client: client.clone(),
            name,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// An Api for a namespaced resource in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace without waiting for its contents to go.
    pub async fn delete(&self) {
        let result = Api::<Namespace>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::background())
            .await;
        if let Err(err) = result {
            eprintln!("testenv: deleting namespace {}: {err}", self.name);
        }
    }
}

/// Runs `test` in a fresh [`TestNamespace`] and deletes the namespace afterwards. If the
/// test panics, prints the namespace's pods and events and the control plane's logs first,
/// then fails with the test's own panic.
///
/// ```ignore
/// with_temp_ns("rollout", |ns| async move {
///     let deployments = ns.api::<Deployment>();
///     // ...
/// })
/// .await;
/// ```
pub async fn with_temp_ns<F, Fut>(prefix: &str, test: F)
where
    F: FnOnce(TestNamespace) -> Fut,
    Fut: Future<Output = ()>,
{
    with_temp_ns_on(Node::Kwok, prefix, test).await;
}

/// [`with_temp_ns`], with the namespace's pods placed on `node`.
pub async fn with_temp_ns_on<F, Fut>(node: Node, prefix: &str, test: F)
where
    F: FnOnce(TestNamespace) -> Fut,
    Fut: Future<Output = ()>,
{
    let client = client().await;
    let ns = TestNamespace::create_on(&client, prefix, node).await;
    let outcome = AssertUnwindSafe(test(ns.clone())).catch_unwind().await;
    if outcome.is_err() {
        print_namespace(&ns).await;
        print_cluster_logs();
    }
    ns.delete().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Polls `check` until it returns `Ok`, and returns that value. Panics after `timeout`
/// with `what` and the last error `check` gave, which should say what it saw instead.
pub async fn wait_for<T, E, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    poll_every(POLL_INTERVAL, timeout, what, check).await
}

/// [`wait_for`], looking every `interval`.
pub async fn poll_every<T, E, F, Fut>(
    interval: Duration,
    timeout: Duration,
    what: &str,
    mut check: F,
) -> T
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(err) => err,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(interval).await;
    }
}

/// `Ok` once a Deployment's current spec is fully rolled out, the way `kubectl rollout
/// status` decides it; otherwise `Err` describing how far it got.
pub fn deployment_rolled_out(deployment: &Deployment) -> Result<(), String> {
    let generation = deployment.metadata.generation.unwrap_or_default();
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    if let Some(condition) = deployment_condition(deployment, "Progressing")
        && condition.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Err(format!(
            "progress deadline exceeded: {}",
            condition.message.clone().unwrap_or_default()
        ));
    }
    let observed = status.observed_generation.unwrap_or_default();
    let updated = status.updated_replicas.unwrap_or_default();
    let total = status.replicas.unwrap_or_default();
    let available = status.available_replicas.unwrap_or_default();
    if observed < generation {
        Err(format!(
            "generation {generation} not observed yet (observed {observed})"
        ))
    } else if updated < wanted {
        Err(format!("{updated} of {wanted} replicas updated"))
    } else if total > updated {
        Err(format!(
            "{} old replicas pending termination",
            total - updated
        ))
    } else if available < updated {
        Err(format!(
            "{available} of {updated} updated replicas available"
        ))
    } else {
        Ok(())
    }
}

/// The Deployment's condition of the given type, if any.
pub fn deployment_condition<'a>(
    deployment: &'a Deployment,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == type_)
}

/// Whether the Pod's Ready condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|condition| condition.type_ == "Ready" && condition.status == "True")
        })
}

/// Prints the last lines of every control plane component's log to stderr.
pub fn print_cluster_logs() {
    let logs = testenv_dir().join("logs");
    let Ok(entries) = std::fs::read_dir(&logs) else {
        eprintln!("testenv: no component logs in {}", logs.display());
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    paths.sort();
    for path in paths {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|err| format!("(unreadable: {err})"));
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        eprintln!("===== {} (last {} lines) =====", path.display(), tail.len());
        for line in tail {
            eprintln!("{line}");
        }
    }
}

/// Prints the namespace's pods and events to stderr, to see what the test saw.
async fn print_namespace(ns: &TestNamespace) {
    eprintln!("===== namespace {} =====", ns.name());
    match ns.api::<Pod>().list(&ListParams::default()).await {
        Ok(pods) => {
            for pod in pods {
                let phase = pod.status.as_ref().and_then(|status| status.phase.clone());
                eprintln!(
                    "pod {} phase={} ready={}",
                    pod.metadata.name.as_deref().unwrap_or_default(),
                    phase.unwrap_or_default(),
                    pod_ready(&pod)
                );
            }
        }
        Err(err) => eprintln!("listing pods: {err}"),
    }
    match ns.api::<Event>().list(&ListParams::default()).await {
        Ok(events) => {
            for event in events {
                eprintln!(
                    "event {} {}/{}: {} {}",
                    event.type_.unwrap_or_default(),
                    event.involved_object.kind.unwrap_or_default(),
                    event.involved_object.name.unwrap_or_default(),
                    event.reason.unwrap_or_default(),
                    event.message.unwrap_or_default()
                );
            }
        }
        Err(err) => eprintln!("listing events: {err}"),
    }
}

fn random_suffix(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}
