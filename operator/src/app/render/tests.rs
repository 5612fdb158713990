use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::*;
use crate::app::fixtures;
use crate::app::plan::plan;

fn owner() -> OwnerReference {
    OwnerReference {
        api_version: "slipway.dev/v1alpha1".into(),
        kind: "App".into(),
        name: "myapp".into(),
        uid: "uid-1".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn rendered(replicas: &BTreeMap<String, i32>) -> Rendered {
    let release = fixtures::release("myapp", "rabcdefghij", fixtures::TWO_SERVICES);
    let env = fixtures::env(&[("FOO", "bar")]);
    let plan = plan("myapp", &release, &env, "rabcdefghij-env", 120).unwrap();
    render(&plan, &owner(), replicas)
}

#[test]
fn each_service_gets_a_deployment_and_ported_services_a_service() {
    let r = rendered(&BTreeMap::new());
    let names: Vec<_> = r
        .deployments
        .iter()
        .map(|d| d.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["myapp-web", "myapp-worker"]);
    assert_eq!(r.services.len(), 1);
    let svc = r.services[0].spec.as_ref().unwrap();
    assert_eq!(svc.ports.as_ref().unwrap()[0].port, 5000);
    assert_eq!(
        svc.selector.as_ref().unwrap().get(labels::SERVICE).unwrap(),
        "web"
    );
    assert_eq!(
        r.services[0].metadata.owner_references.as_ref().unwrap()[0].name,
        "myapp"
    );
}

#[test]
fn web_deployment_carries_image_command_probe_strategy_and_env_from_secret() {
    let r = rendered(&BTreeMap::new());
    let web = r.deployments[0].spec.as_ref().unwrap();
    assert_eq!(web.replicas, Some(2));
    assert_eq!(web.progress_deadline_seconds, Some(120));
    let rolling = web
        .strategy
        .as_ref()
        .unwrap()
        .rolling_update
        .as_ref()
        .unwrap();
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::String("50%".into()))
    );
    assert_eq!(rolling.max_surge, Some(IntOrString::String("100%".into())));
    let template = web.template.metadata.as_ref().unwrap();
    assert_eq!(
        template.labels.as_ref().unwrap()[labels::RELEASE],
        "rabcdefghij"
    );
    assert_eq!(template.annotations.as_ref().unwrap()["team"], "core");
    let c = &web.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("nginx:1.27"));
    assert_eq!(c.args.as_ref().unwrap(), &["bin/web", "--port", "5000"]);
    let probe = c.readiness_probe.as_ref().unwrap();
    assert_eq!(
        probe.http_get.as_ref().unwrap().path.as_deref(),
        Some("/check")
    );
    assert_eq!(
        (
            probe.period_seconds,
            probe.initial_delay_seconds,
            probe.timeout_seconds
        ),
        (Some(10), Some(10), Some(9))
    );
    let secret = c.env_from.as_ref().unwrap()[0].secret_ref.as_ref().unwrap();
    assert_eq!(secret.name, "rabcdefghij-env");
    let env: BTreeMap<_, _> = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| (e.name.clone(), e.value.clone().unwrap()))
        .collect();
    assert_eq!(env["RELEASE"], "RABCDEFGHIJ");
    assert_eq!(env["BUILD"], "bone");
    assert_eq!(env["PORT"], "5000");
    assert_eq!(
        env["GREETING"], "hello",
        "manifest default for a key the env lacks"
    );
    assert!(
        !env.contains_key("FOO"),
        "values from the release env come only from the Secret"
    );
    let requests = c.resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert_eq!(requests["cpu"].0, "250m");
    assert_eq!(requests["memory"].0, "512Mi");
}

#[test]
fn live_replicas_win_over_scale_count_and_do_not_change_the_hash() {
    let fresh = rendered(&BTreeMap::new());
    let scaled = rendered(&BTreeMap::from([("web".to_string(), 7)]));
    assert_eq!(
        scaled.deployments[0].spec.as_ref().unwrap().replicas,
        Some(7)
    );
    let hash =
        |r: &Rendered| r.deployments[0].metadata.annotations.clone().unwrap()[RENDER_HASH].clone();
    assert_eq!(hash(&fresh), hash(&scaled));
}

fn service_hash(manifest: &str) -> String {
    let release = fixtures::release("myapp", "rabcdefghij", manifest);
    let plan = plan(
        "myapp",
        &release,
        &fixtures::env(&[("FOO", "bar")]),
        "rabcdefghij-env",
        120,
    )
    .unwrap();
    let r = render(&plan, &owner(), &BTreeMap::new());
    r.services[0].metadata.annotations.clone().unwrap()[RENDER_HASH].clone()
}

#[test]
fn services_carry_a_render_hash_that_follows_their_spec() {
    let two = fixtures::TWO_SERVICES;
    assert_eq!(service_hash(two), service_hash(two));
    assert_ne!(
        service_hash(two),
        service_hash(&two.replace("5000", "6000"))
    );
}

#[test]
fn the_selector_never_includes_the_release() {
    let r = rendered(&BTreeMap::new());
    let selector = r.deployments[0]
        .spec
        .as_ref()
        .unwrap()
        .selector
        .match_labels
        .clone()
        .unwrap();
    assert!(!selector.contains_key(labels::RELEASE));
}

#[test]
fn rendered_yaml_matches_the_fixture_shape() {
    let r = rendered(&BTreeMap::new());
    let yaml = serde_saphyr::to_string(&r.deployments[1]).unwrap();
    assert!(yaml.contains("name: myapp-worker"));
    assert!(
        !yaml.contains("readinessProbe"),
        "a service without a port has no probe:\n{yaml}"
    );
}

#[test]
fn app_settings_win_over_live_counts_and_a_restart_changes_the_template() {
    let release = fixtures::release("myapp", "rabcdefghij", fixtures::TWO_SERVICES);
    let plan = plan(
        "myapp",
        &release,
        &fixtures::env(&[("FOO", "bar")]),
        "rabcdefghij-env",
        120,
    )
    .unwrap();
    let live = BTreeMap::from([("web".to_string(), 7)]);
    let settings = BTreeMap::from([(
        "web".to_string(),
        ServiceSettings {
            count: Some(3),
            cpu: Some(512),
            memory: Some(1024),
            restarted_at: Some("2026-06-24T12:00:00Z".into()),
        },
    )]);
    let plain = render(&plan, &owner(), &live);
    let set = render_with(&plan, &owner(), &live, &settings);
    let (before, after) = (&plain.deployments[0], &set.deployments[0]);
    assert_eq!(before.spec.as_ref().unwrap().replicas, Some(7));
    let spec = after.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(3));
    let template = &spec.template;
    let annotations = template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .clone()
        .unwrap();
    assert_eq!(annotations[labels::RESTARTED_AT], "2026-06-24T12:00:00Z");
    let resources = template.spec.as_ref().unwrap().containers[0]
        .resources
        .clone()
        .unwrap();
    assert_eq!(resources.requests.unwrap()["cpu"].0, "512m");
    assert_eq!(resources.limits.unwrap()["memory"].0, "1024Mi");
    assert_ne!(
        before.metadata.annotations.as_ref().unwrap()[RENDER_HASH],
        after.metadata.annotations.as_ref().unwrap()[RENDER_HASH]
    );
    // The other service follows convox.yml and its live count.
    assert_eq!(plain.deployments[1], set.deployments[1]);
}

#[test]
fn a_count_set_alone_changes_the_render_hash_and_a_live_count_does_not() {
    let release = fixtures::release("myapp", "rabcdefghij", fixtures::TWO_SERVICES);
    let plan = plan(
        "myapp",
        &release,
        &fixtures::env(&[("FOO", "bar")]),
        "rabcdefghij-env",
        120,
    )
    .unwrap();
    let hash =
        |r: &Rendered| r.deployments[0].metadata.annotations.clone().unwrap()[RENDER_HASH].clone();
    let count = |n| {
        let set = ServiceSettings {
            count: Some(n),
            ..ServiceSettings::default()
        };
        BTreeMap::from([("web".to_string(), set)])
    };
    let live = |n| BTreeMap::from([("web".to_string(), n)]);
    // A Deployment whose hash is unchanged is not applied: a `convox scale --count` must show.
    assert_ne!(
        hash(&render_with(&plan, &owner(), &live(1), &count(3))),
        hash(&render_with(&plan, &owner(), &live(1), &count(4)))
    );
    assert_eq!(
        hash(&render(&plan, &owner(), &live(1))),
        hash(&render(&plan, &owner(), &live(5))),
        "a live count is left to whoever scaled"
    );
}
