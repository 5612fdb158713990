//! The chart on real pods: the operator from its own image under the chart's ServiceAccount,
//! its real probes, a promote, a rollback and an automatic rollback of a real app, and the
//! metrics of all that scraped through the chart's metrics Service.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use slipway_crds::env::Env;
use slipway_tests::cli::convox;
use slipway_tests::realnode::{
    http_get_path, image, kubectl, ready_pod, registry, testapp_manifest, wait_answer,
};
use slipway_tests::slipway::{create_app, create_release, running, wait_app};
use slipway_tests::{Node, deployment_rolled_out, helm, pod_ready, wait_for, with_temp_ns_on};

use super::rolled_back;

fn greeting(value: &str) -> Env {
    [("GREETING".to_owned(), value.to_owned())].into()
}

#[tokio::test]
async fn the_charts_operator_runs_from_its_image_and_rolls_real_apps() {
    with_temp_ns_on(Node::Real, "real-chart", |home| async move {
        with_temp_ns_on(Node::Real, "real-team", |team| async move {
            let operator_image = image("operator");
            let (repository, digest) = operator_image
                .split_once('@')
                .expect("the operator image by digest");
            let release = format!("slipway-{}", home.name());
            let installed = helm::install(
                &release,
                home.name(),
                &[
                    &format!("image.repository={repository}"),
                    &format!("image.digest={digest}"),
                    // The chart's build values reach the operator as flags it accepts.
                    &format!("build.registry={}/apps", registry()),
                    &format!("build.image={}", image("builder")),
                    "build.insecureRegistry=true",
                ],
            );
            // `helm install --wait` returned: the operator's pod is Ready through /readyz.
            let deployments = home.api::<Deployment>();
            let operator = deployments
                .get(&release)
                .await
                .expect("the operator Deployment");
            deployment_rolled_out(&operator).expect("the operator rolled out");
            let pods = home
                .api::<Pod>()
                .list(&ListParams::default().labels("app.kubernetes.io/name=slipway"))
                .await
                .expect("the operator's pods");
            let pod = pods.items.first().expect("an operator pod");
            assert!(pod_ready(pod), "the operator pod is Ready");
            let pod_name = pod.metadata.name.clone().unwrap_or_default();

            let app = create_app(&team, "web", 20).await;
            let manifest = testapp_manifest(&[], "");
            create_release(&team, &app, "rreleaseone", &manifest, &greeting("one")).await;
            create_release(&team, &app, "rreleasetwo", &manifest, &greeting("two")).await;
            promote(&team, "RRELEASEONE").await;
            let first = wait_app(
                &team,
                "web",
                "the first release to run",
                running("rreleaseone"),
            )
            .await;
            assert_eq!(
                first.status.and_then(|s| s.repository),
                Some(format!("{}/apps/{}/web", registry(), team.name())),
                "the operator builds with the chart's registry"
            );
            promote(&team, "RRELEASETWO").await;
            wait_app(
                &team,
                "web",
                "the second release to run",
                running("rreleasetwo"),
            )
            .await;
            let answer = answer_of(&team, "two").await;
            assert_eq!(answer, "two");

            // A person's rollback: a copy of rone, promoted.
            let rollback =
                convox(team.name(), "web", &["releases", "rollback", "RRELEASEONE"]).await;
            assert!(rollback.ok(), "rollback failed: {}", rollback.error());
            answer_of(&team, "one").await;

            // A release whose pods never pass their probe is rolled back by itself.
            let never = testapp_manifest(&["NEVER_READY=1"], "");
            create_release(&team, &app, "rneverready", &never, &greeting("never")).await;
            // A Convox promote waits for the rollout and says it was rolled back.
            let failed = convox(team.name(), "web", &["releases", "promote", "RNEVERREADY"]).await;
            assert!(
                !failed.ok(),
                "a promote of a release that never gets ready fails"
            );
            let serving = wait_app(&team, "web", "an automatic rollback", |s| {
                let good = s.release.clone().unwrap_or_default();
                rolled_back("rneverready", "ProgressDeadlineExceeded", &good)(s)
            })
            .await;
            assert_ne!(
                serving.status.and_then(|s| s.release).as_deref(),
                Some("rneverready")
            );
            answer_of(&team, "one").await;

            // What a Prometheus scraping the chart's metrics Service sees of it all.
            scraped(&team, home.name(), &format!("{release}-metrics")).await;

            // It watches every namespace, other tests' too: only RBAC refusals count here, not
            // writes into namespaces being deleted.
            let log = kubectl(&["-n", home.name(), "logs", &pod_name]).expect("the operator's log");
            let refused = format!(
                "is forbidden: User \\\"system:serviceaccount:{}:",
                home.name()
            );
            assert!(
                !log.contains(&refused),
                "the operator was refused something:\n{log}"
            );
            drop(installed);
        })
        .await;
    })
    .await;
}

/// Scrapes `/metrics` through the metrics Service `service` of `namespace` from a pod of the
/// app web in `team`, until it shows the promotions, App phase, leadership, build, API request
/// and process metrics that this test's rollouts and the operator's own work made.
async fn scraped(team: &slipway_tests::TestNamespace, namespace: &str, service: &str) {
    let failed_web = format!(
        "slipway_app_info{{app_namespace=\"{}\",app=\"web\",phase=\"Failed\"}} 1",
        team.name()
    );
    let wanted = [
        "slipway_promotions_total{result=\"Succeeded\"}",
        "slipway_promotions_total{result=\"RolledBack\"}",
        "slipway_promotion_duration_seconds_bucket{",
        "slipway_promotion_duration_seconds_count{result=\"Succeeded\"}",
        "slipway_promotion_duration_seconds_count{result=\"RolledBack\"}",
        &failed_web,
        "slipway_leader 1",
        "slipway_build_info{version=\"0.1.0\",",
        "slipway_api_requests_total{verb=\"patch\",code=\"200\"}",
        "slipway_api_request_duration_seconds_count{verb=\"list\"}",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
    ];
    wait_for(
        std::time::Duration::from_secs(60),
        "the operator's metrics",
        || async {
            let from = ready_pod(team, "slipway.dev/app=web").await?;
            let text = http_get_path(team, &from, namespace, service, "/metrics")?;
            let missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|w| !text.contains(w))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("missing {missing:?} in\n{text}"))
            }
        },
    )
    .await;
}

/// `convox releases promote ID -a web`, as a person does it.
async fn promote(ns: &slipway_tests::TestNamespace, id: &str) {
    let promote = convox(ns.name(), "web", &["releases", "promote", id]).await;
    assert!(promote.ok(), "promote {id} failed: {}", promote.error());
}

/// Waits until the app's web Service answers `want`, asked from one of its own pods.
async fn answer_of(ns: &slipway_tests::TestNamespace, want: &str) -> String {
    wait_answer(ns, "slipway.dev/app=web", "web-web", want).await
}
