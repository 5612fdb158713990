//! The operator against the real control plane: promotions, env-only releases, scale, removed
//! services, rollbacks, automatic rollbacks, invalid releases and restarts.
#![cfg(feature = "cluster")]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use slipway_crds::build::BuildPhase;
use slipway_crds::conditions::{READY, find, reason};
use slipway_crds::{App, AppPhase, Build, BuildSpec, Release, env, labels};
use slipway_tests::slipway::{CONVERGE, create_app, create_release, promote, running, wait_app};
use slipway_tests::{
    CRASHLOOP_ANNOTATION, NEVER_READY_ANNOTATION, TestNamespace, operator, wait_for, with_temp_ns,
};

const TWO_SERVICES: &str = "services:
  web:
    image: nginx:1
    command: bin/web --verbose
    port: 5000
    scale:
      count: 2
  worker:
    image: busybox:1
    command: bin/work
";

fn env(pairs: &[(&str, &str)]) -> env::Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn deployment(ns: &TestNamespace, name: &str) -> Option<Deployment> {
    ns.api::<Deployment>()
        .get_opt(name)
        .await
        .expect("get Deployment")
}

fn template_release(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .as_ref()
        .unwrap()[labels::RELEASE]
        .clone()
}

async fn generations(ns: &TestNamespace) -> BTreeMap<String, i64> {
    let list = ns
        .api::<Deployment>()
        .list(&ListParams::default())
        .await
        .expect("list Deployments");
    list.items
        .iter()
        .map(|d| (d.name_any(), d.metadata.generation.unwrap_or(0)))
        .collect()
}

#[tokio::test]
async fn build_promote_env_change_scale_removed_service_and_rollback() {
    with_temp_ns("op-life", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        create_release(
            &ns,
            &app,
            "rseedseedse",
            TWO_SERVICES,
            &env(&[("FOO", "one")]),
        )
        .await;

        // A Build with image services yields a Release carrying the newest release's env.
        let build = Build::new(
            "bbuildbuild",
            BuildSpec {
                app: "myapp".into(),
                manifest: TWO_SERVICES.into(),
                description: "build 0a1b2c3d4e first".into(),
                ..BuildSpec::default()
            },
        );
        ns.api::<Build>()
            .create(&PostParams::default(), &build)
            .await
            .expect("create Build");
        let builds = ns.api::<Build>();
        let r1 = wait_for(CONVERGE, "the build to complete", || {
            let builds = builds.clone();
            async move {
                let b = builds.get("bbuildbuild").await.map_err(|e| e.to_string())?;
                let status = b.status.unwrap_or_default();
                match (status.phase, status.release) {
                    (Some(BuildPhase::Complete), Some(r)) => Ok(r),
                    other => Err(format!("{other:?} {:?}", status.reason)),
                }
            }
        })
        .await;
        assert_eq!(r1, "rbuildbuild");
        let release = ns.api::<Release>().get(&r1).await.unwrap();
        assert_eq!(release.spec.description, "build 0a1b2c3d4e first");
        let secret = ns
            .api::<Secret>()
            .get(&release.spec.env_secret.unwrap().name)
            .await
            .unwrap();
        assert_eq!(env::from_secret(&secret).unwrap(), env(&[("FOO", "one")]));

        // Promoting it yields Deployments and a Service that run it.
        promote(&ns, "myapp", &r1).await;
        let app = wait_app(&ns, "myapp", "the first release to run", running(&r1)).await;
        assert_eq!(app.status.unwrap().services.len(), 2);
        let web = deployment(&ns, "myapp-web").await.expect("web Deployment");
        let spec = web.spec.clone().unwrap();
        let c = &spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.image.as_deref(), Some("nginx:1"));
        assert_eq!(c.args.clone().unwrap(), ["bin/web", "--verbose"]);
        assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 5000);
        assert_eq!(
            c.readiness_probe
                .as_ref()
                .unwrap()
                .http_get
                .as_ref()
                .unwrap()
                .path
                .as_deref(),
            Some("/")
        );
        assert_eq!(
            c.env_from.as_ref().unwrap()[0]
                .secret_ref
                .as_ref()
                .unwrap()
                .name,
            "rbuildbuild-env"
        );
        assert!(
            c.env.as_ref().unwrap().iter().all(|e| e.name != "FOO"),
            "env values only through the Secret"
        );
        assert_eq!(spec.replicas, Some(2));
        assert_eq!(spec.progress_deadline_seconds, Some(60));
        let rolling = spec.strategy.unwrap().rolling_update.unwrap();
        assert_eq!(
            serde_json::to_value(rolling.max_unavailable).unwrap(),
            json!("50%")
        );
        let svc = ns
            .api::<Service>()
            .get("myapp-web")
            .await
            .expect("web Service");
        assert_eq!(svc.spec.unwrap().ports.unwrap()[0].port, 5000);
        assert_eq!(web.owner_references()[0].name, "myapp");

        // Scale by hand, then an env-only release: pods roll, the scale survives.
        let scale = json!({ "spec": { "replicas": 3 } });
        ns.api::<Deployment>()
            .patch("myapp-web", &PatchParams::default(), &Patch::Merge(&scale))
            .await
            .unwrap();
        let app = ns.api::<App>().get("myapp").await.unwrap();
        create_release(
            &ns,
            &app,
            "renvchanged",
            TWO_SERVICES,
            &env(&[("FOO", "two")]),
        )
        .await;
        promote(&ns, "myapp", "renvchanged").await;
        wait_app(
            &ns,
            "myapp",
            "the env-only release to run",
            running("renvchanged"),
        )
        .await;
        let web = deployment(&ns, "myapp-web").await.unwrap();
        assert_eq!(
            web.spec.as_ref().unwrap().replicas,
            Some(3),
            "scale set by hand survives a promote"
        );
        assert_eq!(template_release(&web), "renvchanged");
        let sets = ns
            .api::<ReplicaSet>()
            .list(&ListParams::default().labels("slipway.dev/service=web"))
            .await
            .unwrap();
        assert!(
            sets.items.len() >= 2,
            "an env-only release makes a new ReplicaSet"
        );

        // A service removed from the manifest loses its Deployment; the Service of web stays.
        let web_only = TWO_SERVICES.split("  worker:").next().unwrap();
        create_release(&ns, &app, "rwebonlyweb", web_only, &env(&[("FOO", "two")])).await;
        promote(&ns, "myapp", "rwebonlyweb").await;
        wait_app(
            &ns,
            "myapp",
            "the web-only release to run",
            running("rwebonlyweb"),
        )
        .await;
        wait_for(CONVERGE, "the worker Deployment to go", || {
            let ns = ns.clone();
            async move {
                deployment(&ns, "myapp-worker")
                    .await
                    .map_or(Ok(()), |_| Err("still there"))
            }
        })
        .await;

        // A rollback is a copy of the first release: its image, services and env come back.
        let first = ns.api::<Release>().get(&r1).await.unwrap();
        let mut copy_spec = first.spec.rollback_copy(&r1);
        let (secret, reference) =
            env::pinned_secret("myapp", "rcopycopyco", &env(&[("FOO", "one")]));
        ns.api::<Secret>()
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
        copy_spec.env_secret = Some(reference);
        let mut copy = Release::new("rcopycopyco", copy_spec);
        copy.metadata.labels = Some(labels::app_labels("myapp"));
        ns.api::<Release>()
            .create(&PostParams::default(), &copy)
            .await
            .unwrap();
        promote(&ns, "myapp", "rcopycopyco").await;
        wait_app(
            &ns,
            "myapp",
            "the rollback copy to run",
            running("rcopycopyco"),
        )
        .await;
        let worker = deployment(&ns, "myapp-worker")
            .await
            .expect("worker is back");
        let c = &worker.spec.unwrap().template.spec.unwrap().containers[0];
        assert_eq!(c.image.as_deref(), Some("busybox:1"));
        assert_eq!(
            c.env_from.as_ref().unwrap()[0]
                .secret_ref
                .as_ref()
                .unwrap()
                .name,
            "rcopycopyco-env"
        );
    })
    .await;
}

fn annotated(annotation: &str) -> String {
    TWO_SERVICES.replace(
        "    scale:\n      count: 2\n",
        &format!("    annotations:\n      - {annotation}=true\n"),
    )
}

#[tokio::test]
async fn failed_rollouts_roll_back_by_themselves_and_retry_only_when_asked() {
    with_temp_ns("op-fail", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 10).await;
        create_release(&ns, &app, "rgoodgoodgo", TWO_SERVICES, &env(&[])).await;
        promote(&ns, "myapp", "rgoodgoodgo").await;
        wait_app(
            &ns,
            "myapp",
            "the good release to run",
            running("rgoodgoodgo"),
        )
        .await;

        for (release, annotation, cause) in [
            (
                "rneverready",
                NEVER_READY_ANNOTATION,
                "ProgressDeadlineExceeded",
            ),
            ("rcrashloops", CRASHLOOP_ANNOTATION, "CrashLoop"),
        ] {
            create_release(&ns, &app, release, &annotated(annotation), &env(&[])).await;
            promote(&ns, "myapp", release).await;
            let rolled_back = wait_app(&ns, "myapp", "an automatic rollback", |s| {
                let failed = s
                    .failed_release
                    .as_ref()
                    .map(|f| (f.release.as_str(), f.reason.as_str()));
                let ready =
                    find(&s.conditions, READY).map(|c| (c.status.as_str(), c.reason.as_str()));
                if failed == Some((release, cause))
                    && s.phase == Some(AppPhase::Failed)
                    && ready == Some(("False", reason::ROLLED_BACK))
                {
                    Ok(())
                } else {
                    Err("not rolled back yet".into())
                }
            })
            .await;
            assert_eq!(
                rolled_back.status.unwrap().release.as_deref(),
                Some("rgoodgoodgo")
            );
            let web = deployment(&ns, "myapp-web").await.unwrap();
            assert_eq!(
                template_release(&web),
                "rgoodgoodgo",
                "the last good release is rendered again"
            );
        }

        // At rest, the operator writes nothing.
        let app_version = ns
            .api::<App>()
            .get("myapp")
            .await
            .unwrap()
            .resource_version();
        let before = generations(&ns).await;
        tokio::time::sleep(Duration::from_secs(15)).await;
        assert_eq!(
            ns.api::<App>()
                .get("myapp")
                .await
                .unwrap()
                .resource_version(),
            app_version,
            "no status writes at rest"
        );
        assert_eq!(
            generations(&ns).await,
            before,
            "no Deployment writes at rest"
        );

        // An explicit retry tries the failed release again.
        let retry = json!({ "spec": { "retry": 1 } });
        ns.api::<App>()
            .patch("myapp", &PatchParams::default(), &Patch::Merge(&retry))
            .await
            .unwrap();
        wait_app(&ns, "myapp", "the retry to fail again", |s| {
            match &s.failed_release {
                Some(f) if f.retry == Some(1) && s.phase == Some(AppPhase::Failed) => Ok(()),
                _ => Err("not retried yet".into()),
            }
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn invalid_releases_change_nothing_that_runs_and_say_why() {
    with_temp_ns("op-invalid", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        let other = create_app(&ns, "other", 60).await;
        create_release(&ns, &app, "rgoodgoodgo", TWO_SERVICES, &env(&[])).await;
        promote(&ns, "myapp", "rgoodgoodgo").await;
        wait_app(
            &ns,
            "myapp",
            "the good release to run",
            running("rgoodgoodgo"),
        )
        .await;
        let before = generations(&ns).await;

        create_release(&ns, &other, "rotherother", TWO_SERVICES, &env(&[])).await;
        create_release(&ns, &app, "rbadmanifes", "services: [", &env(&[])).await;
        create_release(
            &ns,
            &app,
            "rneedsenvvv",
            "environment: [TOKEN]\nservices:\n  web:\n    image: nginx\n",
            &env(&[]),
        )
        .await;
        for (release, message) in [
            ("rmissingrel", "no such release: RMISSINGREL"),
            (
                "rotherother",
                "release ROTHEROTHER belongs to app other, not myapp",
            ),
            ("rbadmanifes", "invalid convox.yml"),
            ("rneedsenvvv", "required env: TOKEN"),
        ] {
            promote(&ns, "myapp", release).await;
            wait_app(&ns, "myapp", message, |s| {
                match find(&s.conditions, READY) {
                    Some(c)
                        if c.reason == reason::INVALID_RELEASE && c.message.contains(message) =>
                    {
                        Ok(())
                    }
                    _ => Err(format!("no InvalidRelease condition saying {message:?}")),
                }
            })
            .await;
            let app = ns.api::<App>().get("myapp").await.unwrap();
            assert_eq!(app.status.unwrap().release.as_deref(), Some("rgoodgoodgo"));
            assert_eq!(
                generations(&ns).await,
                before,
                "nothing that runs was touched by {release}"
            );
        }
        let events: Api<k8s_openapi::api::events::v1::Event> = ns.api();
        let invalid = events.list(&ListParams::default()).await.unwrap().items;
        assert!(
            invalid
                .iter()
                .any(|e| e.reason.as_deref() == Some("InvalidRelease")),
            "an Event says why"
        );
    })
    .await;
}

#[tokio::test]
async fn a_restarted_operator_finishes_the_rollout_and_a_converged_app_costs_no_writes() {
    with_temp_ns("op-restart", |ns| async move {
        let mut operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        create_release(&ns, &app, "rfirstfirst", TWO_SERVICES, &env(&[])).await;
        create_release(
            &ns,
            &app,
            "rsecondseco",
            TWO_SERVICES,
            &env(&[("FOO", "2")]),
        )
        .await;
        promote(&ns, "myapp", "rfirstfirst").await;
        wait_app(
            &ns,
            "myapp",
            "the first release to run",
            running("rfirstfirst"),
        )
        .await;

        // Killed mid-rollout, a new operator finishes it with no duplicated objects.
        promote(&ns, "myapp", "rsecondseco").await;
        wait_app(&ns, "myapp", "the rollout to start", |s| match &s.rollout {
            Some(r) if r.release == "rsecondseco" => Ok(()),
            _ if s.release.as_deref() == Some("rsecondseco") => Ok(()),
            _ => Err("not started".into()),
        })
        .await;
        operator.restart();
        wait_app(
            &ns,
            "myapp",
            "the second release to run",
            running("rsecondseco"),
        )
        .await;
        assert_eq!(
            generations(&ns).await.len(),
            2,
            "one Deployment per service"
        );
        assert_eq!(
            ns.api::<Service>()
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
            1
        );

        // A converged App costs no writes on restart.
        let app_version = ns
            .api::<App>()
            .get("myapp")
            .await
            .unwrap()
            .resource_version();
        let before = generations(&ns).await;
        let seen = operator.log().matches("Reconciled").count();
        operator.restart();
        wait_for(CONVERGE, "the new operator to reconcile", || {
            let count = operator.log().matches("Reconciled").count();
            async move { if count > seen { Ok(()) } else { Err("not yet") } }
        })
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            ns.api::<App>()
                .get("myapp")
                .await
                .unwrap()
                .resource_version(),
            app_version
        );
        assert_eq!(generations(&ns).await, before);
    })
    .await;
}
