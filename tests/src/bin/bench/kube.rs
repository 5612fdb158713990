//! Cluster helpers for the benchmarks: watched stores, fake nodes, the API server's own
//! counters, many writes at once and namespaces that go away.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Node, NodeStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::operator::parse_metrics;

/// Requests in flight when the benchmark writes many objects "at once".
pub const FAN_OUT: usize = 32;
/// Pods one fake node takes.
const PODS_PER_NODE: usize = 1000;

/// A store kept up to date by a watch, and a signal on every change.
pub struct Watched<K: Resource + Clone + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    store: reflector::Store<K>,
    changed: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl<K> Watched<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    /// Starts watching `api` and waits for the initial list.
    pub async fn start(api: Api<K>) -> Self {
        let (store, writer) = reflector::store();
        let (tx, changed) = watch::channel(0u64);
        let events = reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .touched_objects();
        let task = tokio::spawn(async move {
            let mut events = std::pin::pin!(events);
            while events.next().await.is_some() {
                tx.send_modify(|n| *n += 1);
            }
        });
        store
            .wait_until_ready()
            .await
            .expect("the watch's initial list");
        Watched {
            store,
            changed,
            task,
        }
    }

    /// The objects now.
    pub fn state(&self) -> Vec<Arc<K>> {
        self.store.state()
    }

    /// Waits until `check` over the objects says `Some`; looks on every change, or at most
    /// every `poll` when one is given (large stores). Panics after `timeout`.
    pub async fn until<T>(
        &mut self,
        timeout: Duration,
        poll: Option<Duration>,
        what: &str,
        check: impl Fn(&[Arc<K>]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        self.changed.mark_changed();
        loop {
            let waited = tokio::time::timeout_at(deadline, self.changed.changed()).await;
            assert!(
                waited.is_ok(),
                "timed out after {timeout:?} waiting for {what}"
            );
            if let Some(found) = check(&self.store.state()) {
                return found;
            }
            if let Some(poll) = poll {
                tokio::time::sleep(poll).await;
            }
        }
    }
}

impl<K: Resource + Clone + 'static> Drop for Watched<K>
where
    K::DynamicType: Eq + Hash + Clone,
{
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `write` over `items` with [`FAN_OUT`] in flight; returns when all are done.
pub async fn fan_out<T, F, Fut>(items: Vec<T>, write: F)
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = ()>,
{
    stream::iter(items.into_iter().map(write))
        .buffer_unordered(FAN_OUT)
        .collect::<Vec<()>>()
        .await;
}

/// Creates namespace `name` and waits for its default ServiceAccount.
pub async fn create_namespace(client: &Client, name: &str) {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some([("slipway.dev/bench".to_string(), "true".to_string())].into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
    let accounts =
        Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(client.clone(), name);
    let deadline = Instant::now() + Duration::from_secs(30);
    while accounts.get_opt("default").await.ok().flatten().is_none() {
        assert!(
            Instant::now() < deadline,
            "no default ServiceAccount in {name}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long namespaces may take to go away (10,000 Releases and 2,000 Deployments take minutes).
pub const GONE: Duration = Duration::from_secs(900);

/// Deletes namespaces without waiting until they are gone.
pub async fn start_deleting(client: &Client, names: &[String]) {
    let api = Api::<Namespace>::all(client.clone());
    for name in names {
        let _ = api.delete(name, &DeleteParams::background()).await;
    }
}

/// Deletes namespaces and waits (up to `timeout`) until they are gone; returns whether they are.
pub async fn delete_namespaces(client: &Client, names: &[String], timeout: Duration) -> bool {
    let api = Api::<Namespace>::all(client.clone());
    start_deleting(client, names).await;
    let deadline = Instant::now() + timeout;
    loop {
        let mut left = 0;
        for name in names {
            if api.get_opt(name).await.ok().flatten().is_some() {
                left += 1;
            }
        }
        if left == 0 {
            return true;
        }
        if Instant::now() > deadline {
            eprintln!("bench: {left} namespaces still terminating; going on");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Adds fake kwok nodes until kwok's nodes can hold `pods` more pods than the cluster holds
/// now (the real node takes only the pods of namespaces placed on it).
pub async fn ensure_pod_capacity(client: &Client, pods: usize) {
    let nodes = Api::<Node>::all(client.clone());
    let existing = nodes
        .list_metadata(&ListParams::default().labels("type=kwok"))
        .await
        .expect("list Nodes")
        .items
        .len();
    let pods_now = Api::<k8s_openapi::api::core::v1::Pod>::all(client.clone())
        .list_metadata(&ListParams::default())
        .await
        .expect("list Pods")
        .items
        .len();
    let wanted = (pods + pods_now).div_ceil(PODS_PER_NODE);
    let added: Vec<String> = (existing..wanted)
        .map(|i| format!("kwok-bench-{i}"))
        .collect();
    for name in &added {
        nodes
            .create(&PostParams::default(), &fake_node(name))
            .await
            .unwrap_or_else(|e| panic!("creating Node {name}: {e}"));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in &added {
        while !node_ready(&nodes, name).await {
            assert!(
                Instant::now() < deadline,
                "Node {name} did not become Ready"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn fake_node(name: &str) -> Node {
    let resources = [
        ("cpu", "32"),
        ("memory", "256Gi"),
        ("pods", &PODS_PER_NODE.to_string()),
    ]
    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())));
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            annotations: Some([("kwok.x-k8s.io/node".to_string(), "fake".to_string())].into()),
            labels: Some(
                [("type", "kwok"), ("kubernetes.io/hostname", name)]
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .into(),
            ),
            ..ObjectMeta::default()
        },
        status: Some(NodeStatus {
            allocatable: Some(resources.clone().into()),
            capacity: Some(resources.into()),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

async fn node_ready(nodes: &Api<Node>, name: &str) -> bool {
    let Ok(node) = nodes.get(name).await else {
        return false;
    };
    node.status
        .and_then(|s| s.conditions)
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The API server's request counter (`apiserver_request_total`) summed over series whose
/// labels contain each of `labels`.
pub async fn apiserver_requests(client: &Client, labels: &[&str]) -> f64 {
    let request = http::Request::get("/metrics")
        .body(vec![])
        .expect("a request");
    let text = client
        .request_text(request)
        .await
        .expect("apiserver /metrics");
    parse_metrics(&text)
        .iter()
        .filter(|(series, _)| {
            let (n, l) = series.split_once('{').unwrap_or((series, ""));
            n == "apiserver_request_total" && labels.iter().all(|want| l.contains(want))
        })
        .map(|(_, v)| v)
        .sum()
}
