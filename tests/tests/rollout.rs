//! Rolling updates really happen on the test control plane: new ReplicaSets, readiness,
//! progress deadlines, and pods that crash-loop.
#![cfg(feature = "cluster")]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use slipway_tests::{
    CRASHLOOP_ANNOTATION, NEVER_READY_ANNOTATION, TestNamespace, deployment_condition,
    deployment_rolled_out, pod_ready, wait_for, with_temp_ns,
};

const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(60);

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "strategy": { "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "app", "image": image }] }
            }
        }
    }))
    .expect("a valid Deployment")
}

async fn create(ns: &TestNamespace, deployment: &Deployment) {
    ns.api::<Deployment>()
        .create(&PostParams::default(), deployment)
        .await
        .expect("creating the Deployment");
}

async fn patch_template(ns: &TestNamespace, name: &str, template: serde_json::Value) {
    ns.api::<Deployment>()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Strategic(json!({ "spec": { "template": template } })),
        )
        .await
        .expect("patching the Deployment's pod template");
}

async fn wait_rolled_out(ns: &TestNamespace, name: &str) {
    let api = ns.api::<Deployment>();
    wait_for(
        ROLLOUT_TIMEOUT,
        &format!("Deployment {name} to roll out"),
        || async {
            let deployment = api.get(name).await.map_err(|err| err.to_string())?;
            deployment_rolled_out(&deployment)
        },
    )
    .await;
}

async fn pods(ns: &TestNamespace, app: &str) -> Vec<Pod> {
    ns.api::<Pod>()
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("listing pods")
        .items
}

fn image_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.containers.first()?.image.as_deref()
}

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn rolling_update_replaces_the_replicaset() {
    with_temp_ns("rollout", |ns| async move {
        create(&ns, &deployment("web", 3, "registry.invalid/web:1")).await;
        wait_rolled_out(&ns, "web").await;

        patch_template(
            &ns,
            "web",
            json!({ "spec": { "containers": [{ "name": "app", "image": "registry.invalid/web:2" }] } }),
        )
        .await;
        wait_rolled_out(&ns, "web").await;

        let replica_sets = ns
            .api::<ReplicaSet>()
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("listing ReplicaSets")
            .items;
        assert_eq!(replica_sets.len(), 2, "one ReplicaSet per revision");
        for rs in &replica_sets {
            let image = rs
                .spec
                .as_ref()
                .and_then(|spec| spec.template.as_ref())
                .and_then(|template| template.spec.as_ref())
                .and_then(|spec| spec.containers.first())
                .and_then(|container| container.image.as_deref());
            let status = rs.status.as_ref().expect("ReplicaSet status");
            match image {
                Some("registry.invalid/web:2") => {
                    assert_eq!(status.available_replicas, Some(3), "the new ReplicaSet is available")
                }
                _ => assert_eq!(status.replicas, 0, "the old ReplicaSet is scaled down"),
            }
        }

        let api = ns.api::<Pod>();
        wait_for(ROLLOUT_TIMEOUT, "the old pods to be deleted", || async {
            let pods = api
                .list(&ListParams::default().labels("app=web"))
                .await
                .map_err(|err| err.to_string())?
                .items;
            let old = pods
                .iter()
                .filter(|pod| image_of(pod) != Some("registry.invalid/web:2"))
                .count();
            if pods.len() == 3 && old == 0 {
                Ok(())
            } else {
                Err(format!("{} pods, {old} of them old", pods.len()))
            }
        })
        .await;
        assert!(pods(&ns, "web").await.iter().all(pod_ready), "every new pod is Ready");
    })
    .await;
}

#[tokio::test]
async fn never_ready_rollout_exceeds_its_progress_deadline() {
    with_temp_ns("deadline", |ns| async move {
        let mut stuck = deployment("stuck", 1, "registry.invalid/stuck:1");
        stuck.spec.as_mut().expect("spec").progress_deadline_seconds = Some(10);
        create(&ns, &stuck).await;
        wait_rolled_out(&ns, "stuck").await;

        patch_template(
            &ns,
            "stuck",
            json!({
                "metadata": { "annotations": annotations(&[(NEVER_READY_ANNOTATION, "true")]) },
                "spec": { "containers": [{ "name": "app", "image": "registry.invalid/stuck:2" }] }
            }),
        )
        .await;

        let api = ns.api::<Deployment>();
        let condition = wait_for(
            Duration::from_secs(60),
            "Progressing=False with reason ProgressDeadlineExceeded",
            || async {
                let deployment = api.get("stuck").await.map_err(|err| err.to_string())?;
                match deployment_condition(&deployment, "Progressing") {
                    Some(c)
                        if c.status == "False"
                            && c.reason.as_deref() == Some("ProgressDeadlineExceeded") =>
                    {
                        Ok(c.clone())
                    }
                    Some(c) => Err(format!("Progressing={} reason {:?}", c.status, c.reason)),
                    None => Err("no Progressing condition".to_owned()),
                }
            },
        )
        .await;
        assert!(
            condition
                .message
                .is_some_and(|m| m.contains("has timed out progressing"))
        );

        let pods = pods(&ns, "stuck").await;
        let (new, old): (Vec<&Pod>, Vec<&Pod>) = pods
            .iter()
            .partition(|pod| image_of(pod) == Some("registry.invalid/stuck:2"));
        assert_eq!(old.len(), 1, "maxUnavailable 0 keeps the old pod");
        assert!(pod_ready(old[0]), "the old pod stays Ready");
        assert_eq!(new.len(), 1, "one surge pod");
        let status = new[0].status.as_ref().expect("pod status");
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(!pod_ready(new[0]), "the never-ready pod is not Ready");
        let container = &status
            .container_statuses
            .as_ref()
            .expect("container statuses")[0];
        assert!(!container.ready);
        assert!(
            container
                .state
                .as_ref()
                .and_then(|s| s.running.as_ref())
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn crashloop_pod_restarts_again_and_again() {
    with_temp_ns("crashloop", |ns| async move {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "crasher",
                "annotations": annotations(&[(CRASHLOOP_ANNOTATION, "true")])
            },
            "spec": { "containers": [{ "name": "app", "image": "registry.invalid/crasher:1" }] }
        }))
        .expect("a valid Pod");
        let api = ns.api::<Pod>();
        api.create(&PostParams::default(), &pod)
            .await
            .expect("creating the Pod");

        let restart_count = || async {
            let pod = api.get("crasher").await.map_err(|err| err.to_string())?;
            let status = pod.status.unwrap_or_default();
            let container = status
                .container_statuses
                .and_then(|statuses| statuses.into_iter().next())
                .ok_or("no container status yet")?;
            let reason = container
                .state
                .and_then(|state| state.waiting)
                .and_then(|waiting| waiting.reason);
            match reason.as_deref() {
                Some("CrashLoopBackOff")
                    if !container.ready && status.phase.as_deref() == Some("Running") =>
                {
                    Ok(container.restart_count)
                }
                _ => Err(format!(
                    "phase {:?}, waiting reason {reason:?}",
                    status.phase
                )),
            }
        };
        let first = wait_for(Duration::from_secs(30), "CrashLoopBackOff", restart_count).await;
        assert!(first >= 1, "a crash-looping container has restarted");
        wait_for(
            Duration::from_secs(30),
            "restartCount to rise twice",
            || async {
                let count = restart_count().await?;
                if count >= first + 2 {
                    Ok(())
                } else {
                    Err(format!("restartCount {count}, first seen {first}"))
                }
            },
        )
        .await;
    })
    .await;
}
