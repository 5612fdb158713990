use super::*;
use crate::BuildSpec;
use crate::build::BuildSource;

fn build(source: Option<BuildSource>) -> Build {
    let mut build = Build::new(
        "babcdefghij",
        BuildSpec {
            app: "myapp".into(),
            manifest: MANIFEST.into(),
            source,
            ..BuildSpec::default()
        },
    );
    build.metadata.uid = Some("uid-1".into());
    build
}

const MANIFEST: &str = "services:\n  web:\n    build: ./web/\n  worker:\n    build:\n      path: .\n      manifest: docker/Dockerfile.worker\n  redis:\n    image: redis:7\n";

fn builder() -> Builder {
    Builder {
        image: "registry.example/slipway-builder@sha256:1".into(),
        registry: "10.77.0.2:5000/apps/".into(),
        insecure: true,
        registry_secret: Some("push".into()),
        service_account: None,
        deadline_seconds: 3600,
    }
}

fn services() -> Vec<SourceService> {
    services_to_build(&Manifest::parse(MANIFEST).unwrap(), &BTreeMap::new()).unwrap()
}

#[test]
fn services_with_build_and_no_image_are_built() {
    let names: Vec<_> = services()
        .iter()
        .map(|s| (s.name.clone(), s.path.clone(), s.dockerfile.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("web".into(), "web".into(), "Dockerfile".into()),
            (
                "worker".into(),
                ".".into(),
                "docker/Dockerfile.worker".into()
            )
        ]
    );
    let given = BTreeMap::from([("web".to_string(), "nginx".to_string())]);
    let only_worker = services_to_build(&Manifest::parse(MANIFEST).unwrap(), &given).unwrap();
    assert_eq!(only_worker.len(), 1);
    let escaping = Manifest::parse("services:\n  web:\n    build: ../other\n").unwrap();
    let err = services_to_build(&escaping, &BTreeMap::new()).unwrap_err();
    assert_eq!(
        err,
        "service web: build path ../other must stay inside the source"
    );
}

#[test]
fn the_build_pod_is_owned_has_no_token_and_gets_env_by_reference() {
    let env = BuildEnv {
        secret: Some("rone-env".into()),
        plain: BTreeMap::from([("VERSION".into(), "2".into())]),
    };
    let pod = build_pod(
        &build(Some(BuildSource {
            image: format!("r/src@sha256:{}", "a".repeat(64)),
        })),
        "shop",
        &services(),
        &builder(),
        &env,
    );
    assert_eq!(pod.metadata.name.as_deref(), Some("babcdefghij-build"));
    assert_eq!(
        pod.metadata.owner_references.as_ref().unwrap()[0].kind,
        "Build"
    );
    let spec = pod.spec.unwrap();
    assert_eq!(spec.automount_service_account_token, Some(false));
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    let main = &spec.containers[0];
    let value = |name: &str| {
        main.env
            .iter()
            .flatten()
            .find(|v| v.name == name)
            .and_then(|v| v.value.clone())
    };
    assert_eq!(
        value("SLIPWAY_REPOSITORY").as_deref(),
        Some("10.77.0.2:5000/apps/shop/myapp")
    );
    assert_eq!(
        value("SLIPWAY_SERVICES").as_deref(),
        Some("web web Dockerfile\nworker . docker/Dockerfile.worker")
    );
    assert_eq!(value("SLIPWAY_ARG_VERSION").as_deref(), Some("2"));
    let from = &main.env_from.as_ref().unwrap()[0];
    assert_eq!(from.prefix.as_deref(), Some(ARG_PREFIX));
    assert_eq!(from.secret_ref.as_ref().unwrap().name, "rone-env");
    let json = serde_json::to_string(&spec.volumes).unwrap();
    assert!(json.contains("\"secretName\":\"push\""), "{json}");
}

#[test]
fn the_source_is_fetched_by_digest() {
    let image = "10.77.0.2:5000/src@sha256:".to_string() + &"a".repeat(64);
    let pod = build_pod(
        &build(Some(BuildSource {
            image: image.clone(),
        })),
        "shop",
        &services(),
        &builder(),
        &BuildEnv::default(),
    );
    let source = &pod.spec.unwrap().init_containers.unwrap()[0];
    let fetched = source
        .env
        .iter()
        .flatten()
        .find(|v| v.name == "SLIPWAY_SOURCE_IMAGE");
    assert_eq!(fetched.and_then(|v| v.value.clone()), Some(image));
}

fn pod_with(status: serde_json::Value) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": "babcdefghij-build" },
        "status": status
    }))
    .unwrap()
}

fn ended(name: &str, code: i32, message: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name, "image": "b", "imageID": "", "ready": false, "restartCount": 0,
        "state": { "terminated": { "exitCode": code, "message": message } }
    })
}

#[test]
fn a_build_pod_ends_built_with_every_image_or_failed_in_words() {
    let digest = "@sha256:".to_string() + &"b".repeat(64);
    let message = format!("web=r/shop/myapp{digest}\nworker=r/shop/myapp{digest}\n");
    let built = pod_with(serde_json::json!({
        "phase": "Succeeded",
        "initContainerStatuses": [ended("source", 0, "")],
        "containerStatuses": [ended("build", 0, &message)],
    }));
    let PodOutcome::Built(images) = pod_outcome(&built, &services()) else {
        panic!("not built");
    };
    assert_eq!(images["web"], format!("r/shop/myapp{digest}"));

    let half = pod_with(serde_json::json!({
        "containerStatuses": [ended("build", 0, &format!("web=r{digest}"))],
    }));
    assert_eq!(
        pod_outcome(&half, &services()),
        PodOutcome::Failed("the builder reported no image for service worker".into())
    );

    let broken = pod_with(serde_json::json!({
        "phase": "Failed",
        "containerStatuses": [ended("build", 1, "#5 RUN exit 3\nerror: failed to solve\nERROR: service web: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n")],
    }));
    assert_eq!(
        pod_outcome(&broken, &services()),
        PodOutcome::Failed("service web: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3".into())
    );

    let no_source = pod_with(serde_json::json!({
        "phase": "Failed",
        "initContainerStatuses": [ended("source", 2, "tar: short read")],
    }));
    assert_eq!(
        pod_outcome(&no_source, &services()),
        PodOutcome::Failed("the source could not be read (exit code 2)".into())
    );

    let late = pod_with(serde_json::json!({ "phase": "Failed", "reason": "DeadlineExceeded" }));
    assert_eq!(
        pod_outcome(&late, &services()),
        PodOutcome::Failed("the build took longer than the builder allows".into())
    );

    let running = pod_with(serde_json::json!({
        "phase": "Running",
        "initContainerStatuses": [ended("source", 0, "")],
    }));
    assert_eq!(pod_outcome(&running, &services()), PodOutcome::Building);
}

#[test]
fn a_builder_image_that_cannot_be_pulled_fails_the_build() {
    let pulling = pod_with(serde_json::json!({
        "phase": "Pending",
        "initContainerStatuses": [{
            "name": "source", "image": "b", "imageID": "", "ready": false, "restartCount": 0,
            "state": { "waiting": { "reason": "ImagePullBackOff", "message": "not found" } }
        }],
    }));
    let PodOutcome::Failed(reason) = pod_outcome(&pulling, &services()) else {
        panic!("not failed");
    };
    assert!(
        reason.starts_with("the builder pod babcdefghij-build cannot pull its image"),
        "{reason}"
    );
}
