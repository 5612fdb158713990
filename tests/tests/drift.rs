//! Hands on what the operator runs: pods evicted and deleted by a person in the middle of a
//! rollout, pods marked NotReady by the node lifecycle controller (as after an API server
//! restart), and a Deployment edited or deleted by hand. The rollout must end as if nothing
//! happened (no failure, no rollback, one promotion recorded), and drift must be put back with a
//! Warning Event on the App that says what was restored.
#![cfg(feature = "cluster")]

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{DeleteParams, EvictParams, ListParams, Patch, PatchParams};
use serde_json::json;
use slipway_crds::{App, env::Env, labels};
use slipway_tests::realnode::testapp_manifest;
use slipway_tests::reliability::{objects_at_rest, template_release};
use slipway_tests::slipway::{CONVERGE, create_app, create_release, promote, running, wait_app};
use slipway_tests::{Node, TestNamespace, operator, wait_for, with_temp_ns, with_temp_ns_on};

/// Rolls web one pod at a time over ten (no surge), so the rollout has many steps to act in.
const MANIFEST: &str = "services:
  web:
    image: nginx:1
    port: 5000
    deployment:
      minimum: 90
      maximum: 100
    scale:
      count: 10
  worker:
    image: busybox:1
";

fn env(value: &str) -> Env {
    [("ROUND".to_string(), value.to_string())].into()
}

/// The pods of web that are not being deleted, by release.
async fn web_pods(ns: &TestNamespace) -> Vec<(String, String)> {
    let selector = format!("{}=myapp,{}=web", labels::APP, labels::SERVICE);
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels(&selector))
        .await
        .expect("list pods");
    pods.items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            let release = p.labels().get(labels::RELEASE).cloned().unwrap_or_default();
            (p.name_any(), release)
        })
        .collect()
}

/// Evicts a pod of `old` (as a node drain does) and deletes one of `new` (as a person does)
/// while pods of both run, which is the middle of the rollout by definition. A pod the
/// ReplicaSet removed first is not counted: another is taken.
async fn hands_on_pods_mid_rollout(ns: &TestNamespace, old: &str, new: &str) {
    let api = ns.api::<Pod>();
    let (mut evicted, mut deleted) = (false, false);
    let gone = |r: &kube::Result<()>| matches!(r, Err(kube::Error::Api(e)) if e.code == 404);
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while !(evicted && deleted) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for pods of both releases"
        );
        let pods = web_pods(ns).await;
        let of = |r: &str| {
            pods.iter()
                .find(|(_, rel)| rel == r)
                .map(|(n, _)| n.clone())
        };
        match (of(old), of(new)) {
            (Some(old_pod), Some(new_pod)) => {
                if !evicted {
                    let r = api
                        .evict(&old_pod, &EvictParams::default())
                        .await
                        .map(|_| ());
                    assert!(r.is_ok() || gone(&r), "evict {old_pod}: {r:?}");
                    evicted = r.is_ok();
                }
                if !deleted {
                    let r = api
                        .delete(&new_pod, &DeleteParams::default())
                        .await
                        .map(|_| ());
                    assert!(r.is_ok() || gone(&r), "delete {new_pod}: {r:?}");
                    deleted = r.is_ok();
                }
            }
            (None, Some(_)) => {
                panic!("the rollout ended before a pod of each release went: {pods:?}")
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn pods_evicted_and_deleted_by_hand_mid_rollout_do_not_disturb_it() {
    with_temp_ns("drift-pods", |ns| async move {
        hands_on_a_rollout(&ns, MANIFEST).await;
    })
    .await;
}

/// The same on the real node, where the kubelet stops the containers of the pods that go.
#[tokio::test]
async fn pods_evicted_and_deleted_by_hand_mid_rollout_on_the_real_node_do_not_disturb_it() {
    with_temp_ns_on(Node::Real, "drift-real-pods", |ns| async move {
        let extra =
            "    deployment:\n      minimum: 60\n      maximum: 100\n    scale:\n      count: 3\n";
        hands_on_a_rollout(&ns, &testapp_manifest(&[], extra)).await;
    })
    .await;
}

/// Promotes a second release of `manifest` and takes a pod of each release away mid-rollout;
/// the rollout must end as if nothing happened.
async fn hands_on_a_rollout(ns: &TestNamespace, manifest: &str) {
    let _operator = operator::start(ns.name());
    let app = create_app(ns, "myapp", 120).await;
    create_release(ns, &app, "rpodsone", manifest, &env("1")).await;
    create_release(ns, &app, "rpodstwo", manifest, &env("2")).await;
    promote(ns, "myapp", "rpodsone").await;
    wait_app(ns, "myapp", "the first release to run", running("rpodsone")).await;

    promote(ns, "myapp", "rpodstwo").await;
    hands_on_pods_mid_rollout(ns, "rpodsone", "rpodstwo").await;

    wait_app(ns, "myapp", "the rollout to end", running("rpodstwo")).await;
    wait_for(CONVERGE, "only rpodstwo's objects", || {
        objects_at_rest(ns, "myapp", "rpodstwo")
    })
    .await;
    let status = ns.api::<App>().get("myapp").await.unwrap().status.unwrap();
    assert_eq!(status.failed_release, None, "no failure was recorded");
    let promoted: Vec<(&str, &str)> = status
        .history
        .iter()
        .rev()
        .map(|p| (p.release.as_str(), p.result.as_str()))
        .collect();
    assert_eq!(
        promoted,
        [("rpodsone", "Succeeded"), ("rpodstwo", "Succeeded")],
        "one entry per promotion, both succeeded"
    );
}

/// The notes of the App's DriftRestored Events.
async fn restored_events(ns: &TestNamespace) -> Vec<String> {
    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("list Events");
    events
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some("DriftRestored")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("myapp")
        })
        .filter_map(|e| e.note)
        .collect()
}

async fn image(ns: &TestNamespace, name: &str) -> Option<String> {
    let d = ns.api::<Deployment>().get_opt(name).await.ok()??;
    d.spec?.template.spec?.containers.first()?.image.clone()
}

#[tokio::test]
async fn a_deployment_edited_or_deleted_by_hand_is_restored_with_an_event() {
    with_temp_ns("drift-deploy", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 120).await;
        create_release(&ns, &app, "rdriftone", MANIFEST, &env("1")).await;
        promote(&ns, "myapp", "rdriftone").await;
        wait_app(&ns, "myapp", "the release to run", running("rdriftone")).await;
        assert!(
            restored_events(&ns).await.is_empty(),
            "a first rollout restores nothing"
        );

        // `kubectl set image` under another field manager.
        let edit = json!({ "spec": { "template": { "spec": { "containers": [
            { "name": "main", "image": "nginx:hacked" }
        ] } } } });
        let params = PatchParams {
            field_manager: Some("kubectl-set".into()),
            ..PatchParams::default()
        };
        ns.api::<Deployment>()
            .patch("myapp-web", &params, &Patch::Strategic(&edit))
            .await
            .expect("edit web's image by hand");
        wait_for(CONVERGE, "web's image put back", || {
            let ns = ns.clone();
            async move {
                match image(&ns, "myapp-web").await.as_deref() {
                    Some("nginx:1") => Ok(()),
                    other => Err(format!("image {other:?}")),
                }
            }
        })
        .await;

        let worker = ns.api::<Deployment>().get("myapp-worker").await.unwrap();
        ns.api::<Deployment>()
            .delete("myapp-worker", &DeleteParams::default())
            .await
            .expect("delete worker by hand");
        wait_for(CONVERGE, "worker made again", || {
            let ns = ns.clone();
            let uid = worker.uid();
            async move {
                let d = ns.api::<Deployment>().get_opt("myapp-worker").await;
                match d.map_err(|e| e.to_string())? {
                    Some(d)
                        if d.uid() != uid
                            && template_release(&d).as_deref() == Some("rdriftone") =>
                    {
                        Ok(())
                    }
                    other => Err(format!("worker {:?}", other.map(|d| d.uid()))),
                }
            }
        })
        .await;

        let notes = wait_for(Duration::from_secs(30), "both Events", || {
            let ns = ns.clone();
            async move {
                let notes = restored_events(&ns).await;
                let has = |text: &str| notes.iter().any(|n| n.contains(text));
                if has("Deployment myapp-web was edited by hand")
                    && has("Deployment myapp-worker was deleted by hand")
                {
                    Ok(notes)
                } else {
                    Err(format!("{notes:?}"))
                }
            }
        })
        .await;
        assert_eq!(notes.len(), 2, "one Event per repair: {notes:?}");
        wait_app(
            &ns,
            "myapp",
            "the App to run its release still",
            running("rdriftone"),
        )
        .await;
        wait_for(CONVERGE, "only rdriftone's objects", || {
            objects_at_rest(&ns, "myapp", "rdriftone")
        })
        .await;
        let status = ns.api::<App>().get("myapp").await.unwrap().status.unwrap();
        assert_eq!(status.history.len(), 1, "no promotion came of the repairs");
    })
    .await;
}

/// Marks `pod` NotReady the way the node lifecycle controller does for every pod of a node
/// whose lease it saw expire: only the Ready condition goes False, the containers stay ready.
async fn mark_not_ready(ns: &TestNamespace, pod: &str) {
    let status = json!({ "status": { "conditions": [{
        "type": "Ready", "status": "False", "reason": "NodeNotReady",
        "lastTransitionTime": jiff::Timestamp::now().to_string(),
    }] } });
    let marked = ns
        .api::<Pod>()
        .patch_status(pod, &PatchParams::default(), &Patch::Strategic(&status))
        .await;
    // A pod of the old release may be gone by now: the rollout goes on meanwhile.
    if let Err(e) = marked {
        assert!(
            matches!(&e, kube::Error::Api(a) if a.code == 404),
            "mark {pod} NotReady: {e}"
        );
    }
}

// The once-flaky faults.rs run (fresh clone, after the deaf test's restarts): the controller
// manager marked kwok's node Unknown after an API server restart and every pod on it NotReady;
// the fake node never made them Ready again, so web stayed at 2 of 4 ready and the App in
// Updating. This replays that moment without a restart, so it fails every time the node does
// not bring its pods back.
#[tokio::test]
async fn pods_marked_not_ready_by_the_node_controller_mid_rollout_recover() {
    with_temp_ns("drift-notready", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 120).await;
        create_release(&ns, &app, "rreadyone", MANIFEST, &env("1")).await;
        create_release(&ns, &app, "rreadytwo", MANIFEST, &env("2")).await;
        promote(&ns, "myapp", "rreadyone").await;
        wait_app(
            &ns,
            "myapp",
            "the first release to run",
            running("rreadyone"),
        )
        .await;

        promote(&ns, "myapp", "rreadytwo").await;
        let marked = wait_for(CONVERGE, "pods of both releases", || {
            let ns = ns.clone();
            async move {
                let pods = web_pods(&ns).await;
                let both = ["rreadyone", "rreadytwo"]
                    .iter()
                    .all(|r| pods.iter().any(|(_, rel)| rel == r));
                if both {
                    Ok(pods)
                } else {
                    Err(format!("pods {pods:?}"))
                }
            }
        })
        .await;
        for (pod, _) in &marked {
            mark_not_ready(&ns, pod).await;
        }
        wait_app(&ns, "myapp", "the rollout to end", running("rreadytwo")).await;
        wait_for(
            CONVERGE,
            "only rreadytwo's objects, every pod ready",
            || {
                let ns = ns.clone();
                async move {
                    objects_at_rest(&ns, "myapp", "rreadytwo").await?;
                    let pods = ns.api::<Pod>().list(&ListParams::default()).await;
                    let pods = pods.map_err(|e| e.to_string())?.items;
                    let unready: Vec<String> = pods
                        .iter()
                        .filter(|p| !slipway_tests::pod_ready(p))
                        .map(|p| p.name_any())
                        .collect();
                    if unready.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("not ready: {unready:?}"))
                    }
                }
            },
        )
        .await;
    })
    .await;
}
