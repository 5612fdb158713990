//! A release's life: build, promote, env-only release, scale, removed service, rollback copy.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use slipway_crds::build::BuildPhase;
use slipway_crds::{App, Build, BuildSpec, Release, env, labels};
use slipway_tests::slipway::{CONVERGE, create_app, create_release, promote, running, wait_app};
use slipway_tests::{operator, wait_for, with_temp_ns};

use super::*;

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

        // A Build with image services yields a Release sharing the newest release's env Secret.
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
        let shared = release.spec.env_secret.unwrap();
        assert_eq!(shared.name, "rseedseedse-env");
        let secret = ns.api::<Secret>().get(&shared.name).await.unwrap();
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
            "rseedseedse-env"
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
