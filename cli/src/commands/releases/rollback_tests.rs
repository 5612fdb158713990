//! `convox releases rollback` against a mock API server (tower-test): the requests it makes, in
//! order, until the copy runs; no Secret is read or written.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::commands::mockapi::{ApiServer, Seen, answer, expect, next, pair};
use crate::output::Term;

const APP: &str = "/apis/slipway.dev/v1alpha1/namespaces/default/apps/myapp";
const APPS: &str = "/apis/slipway.dev/v1alpha1/namespaces/default/apps";
const RELEASES: &str = "/apis/slipway.dev/v1alpha1/namespaces/default/releases";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn app(release: &str, generation: i64, status: Value) -> Value {
    json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "App",
        "metadata": {
            "name": "myapp", "namespace": "default", "uid": "uid-myapp",
            "resourceVersion": "10", "generation": generation
        },
        "spec": { "release": release },
        "status": status
    })
}

fn running(release: &str, generation: i64) -> Value {
    json!({ "observedGeneration": generation, "phase": "Running", "release": release })
}

fn release(name: &str, created: &str, env_secret: Value) -> Value {
    json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "Release",
        "metadata": { "name": name, "namespace": "default", "uid": format!("uid-{name}") },
        "spec": {
            "app": "myapp", "build": "bsourcesour",
            "manifest": "services:\n  web:\n    image: nginx\n",
            "images": { "web": "nginx:1" },
            "envSecret": env_secret,
            "description": "build bsourcesour",
            "created": created
        }
    })
}

fn source() -> Value {
    let secret = json!({ "name": "rsourcesour-env", "keys": ["FOO"], "sha256": "abc" });
    release("rsourcesour", "2026-01-01T00:00:00.000000000Z", secret)
}

fn list(api_version: &str, kind: &str, items: Vec<Value>) -> Value {
    json!({
        "apiVersion": api_version, "kind": kind,
        "metadata": { "resourceVersion": "20" }, "items": items
    })
}

/// Answers the watches of a rollout being followed, in whatever order they come: the App's
/// list shows the copy running, events and pods none; watches stay open. Returns what was asked.
async fn follow(server: &mut ApiServer, copy: &str) -> Vec<Seen> {
    let mut seen = vec![];
    let mut open = vec![];
    while let Some((request, send)) = next(server).await {
        let watch = request.query.contains("watch=true");
        match (request.method.as_str(), request.path.as_str()) {
            _ if watch => open.push(send),
            ("GET", APPS) => {
                let app = app(copy, 4, running(copy, 4));
                answer(send, &list("slipway.dev/v1alpha1", "AppList", vec![app]));
            }
            ("GET", EVENTS) => answer(send, &list("events.k8s.io/v1", "EventList", vec![])),
            ("GET", PODS) => answer(send, &list("v1", "PodList", vec![])),
            _ => answer(send, &json!({ "kind": "Status", "code": 404 })),
        }
        seen.push(request);
    }
    seen
}

/// Plays the API server up to the promotion: asserts each request and its body; returns the
/// copy's name and what was asked while the rollout was followed.
async fn serve(mut server: ApiServer) -> (String, Vec<Seen>) {
    let current = release(
        "rcurrentcur",
        "2026-01-02T00:00:00.000000000Z",
        json!({ "name": "rcurrentcur-env", "keys": [], "sha256": "def" }),
    );
    let before = app("rcurrentcur", 3, running("rcurrentcur", 3));
    expect(&mut server, "GET", APP, before.clone()).await;
    let rolled_back_to = format!("{RELEASES}/rsourcesour");
    expect(&mut server, "GET", &rolled_back_to, source()).await;
    // The copy is committed as the env head, as every release the CLI makes.
    expect(&mut server, "GET", APP, before.clone()).await;
    let releases = list(
        "slipway.dev/v1alpha1",
        "ReleaseList",
        vec![current, source()],
    );
    let (query, _) = expect(&mut server, "GET", RELEASES, releases).await;
    assert!(query.contains("fieldSelector=spec.app%3Dmyapp"), "{query}");

    let (created, send) = next(&mut server).await.expect("the copy");
    let request = (created.method.as_str(), created.path.as_str());
    assert_eq!(request, ("POST", RELEASES));
    assert!(
        created.query.contains("fieldManager=convox"),
        "{}",
        created.query
    );
    let copy = created.body["metadata"]["name"]
        .as_str()
        .expect("a name")
        .to_string();
    answer(send, &created.body);
    let meta = &created.body["metadata"];
    assert_eq!(
        meta["labels"],
        json!({ "app.kubernetes.io/managed-by": "slipway", "slipway.dev/app": "myapp" })
    );
    assert_eq!(
        meta["annotations"],
        json!({ "slipway.dev/env-base": "rcurrentcur", "slipway.dev/env-after": "" })
    );
    let owner = json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "App", "name": "myapp", "uid": "uid-myapp"
    });
    assert_eq!(meta["ownerReferences"], json!([owner]));
    let spec = &created.body["spec"];
    assert_eq!(
        spec["envSecret"],
        source()["spec"]["envSecret"],
        "the source's Secret, shared"
    );
    assert_eq!(spec.get("env"), None, "no value in the copy");
    assert_eq!(spec["rollbackOf"], "rsourcesour");
    assert_eq!(spec["description"], "rollback to RSOURCESOUR");
    assert_eq!(spec["images"], json!({ "web": "nginx:1" }));
    assert_eq!(spec["build"], "bsourcesour");

    let (query, body) = expect(&mut server, "PATCH", APP, before.clone()).await;
    assert!(query.contains("fieldManager=convox"), "{query}");
    let head = json!({ "resourceVersion": "10", "annotations": { "slipway.dev/env-head": copy } });
    assert_eq!(body, json!({ "metadata": head }));

    // The promotion: the App read again, the events seen so far, spec.release applied.
    expect(&mut server, "GET", APP, before).await;
    let events = list("meta.k8s.io/v1", "PartialObjectMetadataList", vec![]);
    expect(&mut server, "GET", EVENTS, events).await;
    let promoted = app(&copy, 4, running("rcurrentcur", 3));
    let (query, body) = expect(&mut server, "PATCH", APP, promoted).await;
    assert!(query.contains("fieldManager=convox"), "{query}");
    assert!(query.contains("force=true"), "{query}");
    assert_eq!(
        body,
        json!({
            "apiVersion": "slipway.dev/v1alpha1", "kind": "App",
            "metadata": { "name": "myapp" }, "spec": { "release": copy }
        })
    );
    let followed = follow(&mut server, &copy).await;
    (copy, followed)
}

#[tokio::test]
async fn rollback_copies_the_release_with_its_secret_and_promotes_the_copy() {
    let (ctx, server) = pair();
    let server = tokio::spawn(serve(server));
    let (mut term, out) = Term::buffer(false);
    let opts = PromoteOpts::default();
    let run = rollback(&ctx, &mut term, "RSOURCESOUR", false, &opts);
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the rollback ends once the copy runs")
        .unwrap();
    drop(ctx);
    let (copy, followed) = server.await.unwrap();

    // Following the rollout: the App, the events and the copy's pods are listed, then watched.
    let listed: Vec<(&str, &str)> = followed
        .iter()
        .filter(|r| !r.query.contains("watch=true"))
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    for watched in [APPS, EVENTS, PODS] {
        assert!(listed.contains(&("GET", watched)), "{watched}: {listed:?}");
    }
    assert_eq!(listed.len(), 3, "nothing else is asked: {listed:?}");
    let query = |path: &str| {
        let found = followed.iter().find(|r| r.path == path);
        found.map(|r| r.query.clone()).unwrap_or_default()
    };
    assert!(query(APPS).contains("fieldSelector=metadata.name%3Dmyapp"));
    let pods = query(PODS);
    assert!(
        pods.contains(&format!("slipway.dev%2Frelease%3D{copy}")),
        "{pods}"
    );
    assert!(followed.iter().all(|r| !r.path.contains("/secrets")));
    let id = display_id(&copy);
    assert_eq!(
        out.text(),
        format!("Rolling back to RSOURCESOUR... OK, {id}\nPromoting {id}... \nOK\n")
    );
}
