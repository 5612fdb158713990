//! The App reconcile against a mocked API server (kube's Client over tower-test): the calls a
//! pass makes, from stores filled as the watches would fill them.

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::Resource;
use kube::client::Body;
use kube::runtime::reflector::store::Writer;
use serde_json::{Value, json};
use slipway_crds::app::PromotionResult;
use slipway_crds::env;
use slipway_crds::{AppPhase, ReleaseSpec};

use super::*;
use crate::metrics::Metrics;

const MANIFEST: &str =
    "services:\n  web:\n    image: nginx:1\n    port: 80\n  worker:\n    image: busybox:1\n";

/// One request the operator made: method, path, body.
#[derive(Clone, Debug)]
struct Call {
    method: String,
    path: String,
    body: Value,
}

impl Call {
    fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

/// A namespace as the API server and the operator's watches hold it.
struct Cluster {
    app: App,
    release: Release,
    secret: Value,
    deployments: Writer<Deployment>,
    services: Writer<Service>,
    releases: Writer<Release>,
    pods: Writer<Pod>,
    shared: Arc<AppContext>,
    calls: Arc<Mutex<Vec<Call>>>,
}

fn object<K: serde::de::DeserializeOwned>(value: Value) -> K {
    serde_json::from_value(value).expect("a valid object")
}

impl Cluster {
    /// App `myapp` asking for release `rone` (two services, env FOO=one), which exists.
    fn new() -> Cluster {
        let (secret, reference) =
            env::pinned_secret("myapp", "rone", &[("FOO".into(), "one".into())].into());
        let mut release = Release::new(
            "rone",
            ReleaseSpec {
                app: "myapp".into(),
                manifest: MANIFEST.into(),
                env_secret: Some(reference),
                ..ReleaseSpec::default()
            },
        );
        release.metadata.namespace = Some("ns".into());
        release.metadata.uid = Some("uid-rone".into());
        let app = object(json!({
            "apiVersion": "slipway.dev/v1alpha1", "kind": "App",
            "metadata": { "name": "myapp", "namespace": "ns", "uid": "uid-app",
                "generation": 2, "resourceVersion": "10" },
            "spec": { "release": "rone" },
        }));
        let mut secret = serde_json::to_value(secret).unwrap();
        secret["metadata"]["namespace"] = json!("ns");
        let (mock, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(mock, "ns");
        let (deployment_store, deployments) = reflector::store();
        let (service_store, services) = reflector::store();
        let (release_store, releases) = reflector::store();
        let (pod_store, pods) = reflector::store();
        let listed = futures::future::ready(()).boxed();
        let stores = stores::Stores::new(
            deployment_store,
            service_store,
            release_store,
            pod_store,
            listed,
        );
        let shared = Arc::new(AppContext {
            ctx: Arc::new(Context::new(client, Arc::new(Metrics::default()), None)),
            stores,
            resolutions: Default::default(),
            written: Default::default(),
        });
        let mut cluster = Cluster {
            app,
            release,
            secret,
            deployments,
            services,
            releases,
            pods,
            shared,
            calls: Default::default(),
        };
        cluster.serve(handle);
        cluster.listed(vec![], vec![], vec![]);
        cluster
    }

    /// Answers every request as the API server would for this namespace, recording it.
    fn serve(&mut self, mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>) {
        let calls = self.calls.clone();
        let app = serde_json::to_value(&self.app).unwrap();
        let release = serde_json::to_value(&self.release).unwrap();
        let secret = self.secret.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let method = request.method().to_string();
                let path = request.uri().path().to_string();
                let bytes = request.into_body().collect_bytes().await.unwrap();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                calls.lock().unwrap().push(Call {
                    method: method.clone(),
                    path: path.clone(),
                    body: body.clone(),
                });
                let (code, answer) = answer(&method, &path, body, &app, &release, &secret);
                let mut response = Response::new(Body::from(serde_json::to_vec(&answer).unwrap()));
                *response.status_mut() = code;
                send.send_response(response);
            }
        });
    }

    /// Fills the stores as the watches' first lists would.
    fn listed(&mut self, deployments: Vec<Deployment>, services: Vec<Service>, pods: Vec<Pod>) {
        fn fill<K>(writer: &mut Writer<K>, objects: Vec<K>)
        where
            K: Resource<DynamicType = ()> + Clone,
        {
            writer.apply_watcher_event(&watcher::Event::Init);
            for object in objects {
                writer.apply_watcher_event(&watcher::Event::InitApply(object));
            }
            writer.apply_watcher_event(&watcher::Event::InitDone);
        }
        let mut trimmed = self.release.clone();
        stores::trim_release(&mut trimmed);
        fill(&mut self.deployments, deployments);
        fill(&mut self.services, services);
        fill(&mut self.releases, vec![trimmed]);
        fill(&mut self.pods, pods);
    }

    /// One reconcile pass of the App; the calls it made.
    async fn pass(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clear();
        reconcile_app(&self.app, &self.shared)
            .await
            .expect("the pass succeeds");
        self.calls.lock().unwrap().clone()
    }
}

/// What the API server answers: the objects it holds, or what was applied, as stored.
fn answer(
    method: &str,
    path: &str,
    body: Value,
    app: &Value,
    release: &Value,
    secret: &Value,
) -> (StatusCode, Value) {
    let not_found = json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "reason": "NotFound", "code": 404, "message": "not found" });
    match (method, path) {
        ("GET", "/apis/slipway.dev/v1alpha1/namespaces/ns/releases/rone") => {
            (StatusCode::OK, release.clone())
        }
        ("GET", "/api/v1/namespaces/ns/secrets/rone-env") => (StatusCode::OK, secret.clone()),
        ("GET", _) => (StatusCode::NOT_FOUND, not_found),
        ("PATCH", "/apis/slipway.dev/v1alpha1/namespaces/ns/apps/myapp/status") => {
            let mut saved = app.clone();
            saved["status"] = body["status"].clone();
            saved["metadata"]["resourceVersion"] = json!("11");
            (StatusCode::OK, saved)
        }
        ("PATCH", _) => {
            let mut applied = body;
            applied["metadata"]["namespace"] = json!("ns");
            applied["metadata"]["uid"] = json!(format!("uid-{}", applied["metadata"]["name"]));
            applied["metadata"]["generation"] = json!(1);
            (StatusCode::OK, applied)
        }
        _ => (StatusCode::CREATED, body),
    }
}

/// The object a call applied, as the API server stores it.
fn stored<K: serde::de::DeserializeOwned>(call: &Call) -> K {
    let mut body = call.body.clone();
    body["metadata"]["namespace"] = json!("ns");
    object(body)
}

fn writes(calls: &[Call]) -> Vec<String> {
    let mut writes: Vec<String> = calls
        .iter()
        .filter(|c| c.is_write())
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    writes.sort();
    writes
}

const STATUS: &str = "PATCH /apis/slipway.dev/v1alpha1/namespaces/ns/apps/myapp/status";
const EVENT: &str = "POST /apis/events.k8s.io/v1/namespaces/ns/events";

/// `deployment` as the Deployment controller reports it once every replica runs its template.
fn rolled_out(call: &Call) -> Deployment {
    let mut d = call.body.clone();
    d["metadata"]["namespace"] = json!("ns");
    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
    d["status"] = json!({ "observedGeneration": 1, "replicas": replicas,
        "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas });
    object(d)
}

fn status_of(calls: &[Call]) -> AppStatus {
    let patch = calls
        .iter()
        .find(|c| format!("{} {}", c.method, c.path) == STATUS)
        .expect("a status patch");
    object(patch.body["status"].clone())
}

#[tokio::test]
async fn a_promote_applies_once_reports_once_and_a_converged_app_writes_nothing() {
    let mut cluster = Cluster::new();

    // First pass: the release's objects are applied, and the rollout reported once.
    let calls = cluster.pass().await;
    let applied: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method == "PATCH" && c.path.starts_with("/apis/apps/v1/"))
        .collect();
    let mut names: Vec<&str> = applied
        .iter()
        .map(|c| c.path.rsplit('/').next().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["myapp-web", "myapp-worker"]);
    let updating = status_of(&calls);
    assert_eq!(updating.phase, Some(AppPhase::Updating));
    assert_eq!(
        writes(&calls),
        [
            "PATCH /api/v1/namespaces/ns/services/myapp-web",
            "PATCH /apis/apps/v1/namespaces/ns/deployments/myapp-web",
            "PATCH /apis/apps/v1/namespaces/ns/deployments/myapp-worker",
            STATUS,
            EVENT,
        ],
        "the applies, one status patch and its Event"
    );

    // The Deployments roll out: one status patch says Running, nothing is applied again.
    let deployments = applied.iter().map(|c| rolled_out(c)).collect();
    let service = calls
        .iter()
        .find(|c| c.path.ends_with("/services/myapp-web"))
        .map(stored)
        .unwrap();
    cluster.listed(deployments, vec![service], vec![]);
    cluster.app.status = Some(updating);
    let calls = cluster.pass().await;
    assert_eq!(writes(&calls), [STATUS, EVENT]);
    let running = status_of(&calls);
    assert_eq!(running.phase, Some(AppPhase::Running));
    assert_eq!(running.history[0].result, PromotionResult::Succeeded);

    // Converged: no write, and the release is not read again either.
    cluster.app.status = Some(running);
    let calls = cluster.pass().await;
    assert!(calls.is_empty(), "a converged App costs no call: {calls:?}");

    // A person touches the App: its release and env Secret are checked afresh, nothing written.
    cluster
        .app
        .labels_mut()
        .insert("touched".into(), "yes".into());
    let calls = cluster.pass().await;
    let mut reads: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
    reads.sort();
    assert_eq!(
        reads,
        [
            "/api/v1/namespaces/ns/secrets/rone-env",
            "/apis/slipway.dev/v1alpha1/namespaces/ns/releases/rone",
        ]
    );
    assert!(writes(&calls).is_empty());
}

#[tokio::test]
async fn an_invalid_release_is_reported_in_status_and_nothing_else_is_written() {
    let mut cluster = Cluster::new();
    cluster.app.spec.release = Some("rnosuchrele".into());
    let calls = cluster.pass().await;
    assert_eq!(writes(&calls), [STATUS, EVENT]);
    let status = status_of(&calls);
    let ready = slipway_crds::conditions::find(&status.conditions, "Ready").unwrap();
    assert_eq!(ready.reason, "InvalidRelease");
    assert_eq!(ready.message, "no such release: RNOSUCHRELE");
}

#[tokio::test]
async fn a_failed_rollout_is_saved_and_the_rollback_looked_at_at_once() {
    let mut cluster = Cluster::new();
    let calls = cluster.pass().await;
    // The App ran rzero before; rone's web pods crash-loop.
    let mut updating = status_of(&calls);
    updating.release = Some("rzero".into());
    cluster.app.status = Some(updating);
    let crashing: Pod = object(json!({
        "metadata": { "name": "myapp-web-1", "namespace": "ns",
            "labels": { "slipway.dev/app": "myapp", "slipway.dev/release": "rone" } },
        "status": { "containerStatuses": [{ "name": "main", "image": "nginx:1", "imageID": "",
            "ready": false, "restartCount": 3,
            "state": { "waiting": { "reason": "CrashLoopBackOff" } },
            "lastState": { "terminated": { "exitCode": 1 } } }] },
    }));
    let applied = |kind: &str| {
        calls
            .iter()
            .filter(|c| c.method == "PATCH" && c.path.contains(kind))
            .collect::<Vec<_>>()
    };
    let deployments = applied("/deployments/").into_iter().map(stored).collect();
    let services = applied("/services/").into_iter().map(stored).collect();
    cluster.listed(deployments, services, vec![crashing]);
    cluster.calls.lock().unwrap().clear();
    let action = reconcile_app(&cluster.app, &cluster.shared).await.unwrap();
    let calls = cluster.calls.lock().unwrap().clone();
    let failed = status_of(&calls);
    assert_eq!(failed.phase, Some(AppPhase::RollingBack));
    assert_eq!(failed.failed_release.as_ref().unwrap().release, "rone");
    assert_eq!(failed.history[0].result, PromotionResult::RolledBack);
    // Its own status write brings no pass, so the pass asks for the next one now.
    assert_eq!(action, Action::requeue(Duration::ZERO));
}
