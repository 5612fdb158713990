//! The Helm chart: lint and values schema, least-privilege RBAC, what the API server makes of
//! the rendered chart (server-side dry run, cluster-wide and per-namespace), and the README's
//! quick start: `helm install`, then the operator running as the chart's ServiceAccount does
//! a full promote and an automatic rollback.
#![cfg(feature = "cluster")]

#[path = "support/scenario.rs"]
mod scenario;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use slipway_tests::{
    TestNamespace, deployment_rolled_out, helm, identity, operator, wait_for, with_temp_ns,
};

const IMAGE: [&str; 2] = [
    "image.repository=registry.example.com/slipway-operator",
    "image.tag=0.1.0",
];

#[test]
fn helm_lint_passes_and_bad_values_are_refused() {
    let chart = helm::chart();
    let chart = chart.to_str().unwrap();
    helm::ok(&["lint", chart, "--strict"]);
    helm::ok(&[
        "lint",
        chart,
        "--strict",
        "--set",
        "watchNamespaces={team-a,team-b}",
        "--set",
        "replicas=3",
    ]);
    for bad in [
        "replicas=0",
        "logFormat=xml",
        "watchNamespaces={Team_A}",
        "image.pullPolicy=Sometimes",
        "nosuchvalue=1",
        "concurrency=-1",
        "leaderElection.renewGraceSeconds=0",
        "leaderElection.leaseDurationSeconds=soon",
        "podDisruptionBudget.maxUnavailable=0",
        "topologySpreadConstraints[0].whenUnsatisfiable=Maybe",
        "metrics.serviceMonitor.interval=often",
        "metrics.prometheusRule.enabled=yes",
        "metrics.dashboard.namespace=Grafana_Dashboards",
    ] {
        let out = helm::run(&["lint", chart, "--strict", "--set", bad]);
        assert!(!out.ok, "helm lint accepted --set {bad}");
        assert!(
            out.stdout
                .contains("values don't meet the specifications of the schema"),
            "{bad}: {}",
            out.stdout
        );
    }
}

/// Every rule of every Role and ClusterRole names its groups, resources and verbs.
fn assert_no_wildcards(objects: &[Value]) {
    for role in helm::of_kind(objects, "Role")
        .into_iter()
        .chain(helm::of_kind(objects, "ClusterRole"))
    {
        for rule in role["rules"].as_array().expect("rules") {
            for key in ["apiGroups", "resources", "verbs", "resourceNames"] {
                for item in rule[key].as_array().into_iter().flatten() {
                    assert_ne!(
                        item, "*",
                        "{} has a wildcard in {key}: {rule}",
                        role["metadata"]["name"]
                    );
                }
            }
        }
    }
}

fn verbs_on(role: &Value, resource: &str) -> Vec<String> {
    let mut verbs: Vec<String> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == resource)
        })
        .flat_map(|r| {
            r["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
        })
        .collect();
    verbs.sort();
    verbs
}

#[tokio::test]
async fn the_rendered_chart_is_least_privilege_and_the_api_server_accepts_it() {
    with_temp_ns("chart-home", |home| async move {
        with_temp_ns("chart-team", |team| async move {
            // Named like the chart, so that the full name of every object is the release name.
            let release = format!("slipway-{}", home.name());
            let client = home.client().clone();

            // Cluster-wide: one ClusterRole, no leader election, never two operators at once.
            let mut sets = IMAGE.to_vec();
            let cluster_wide = helm::template(&release, home.name(), &sets);
            assert_no_wildcards(&cluster_wide);
            let operator_role =
                helm::named(&cluster_wide, "ClusterRole", &format!("{release}-operator"))
                    .expect("operator ClusterRole");
            assert_eq!(
                verbs_on(operator_role, "secrets"),
                ["create", "delete", "get", "patch"],
                "no list or watch of Secrets"
            );
            assert!(helm::of_kind(&cluster_wide, "Role").is_empty());
            assert_eq!(
                helm::container_args(&cluster_wide),
                [
                    "--log-format=json",
                    "--metrics-addr=0.0.0.0:8080",
                    "--concurrency=16"
                ]
            );
            // One replica: no budget (it would block every drain), no monitoring objects.
            for kind in [
                "PodDisruptionBudget",
                "ServiceMonitor",
                "PrometheusRule",
                "ConfigMap",
            ] {
                assert!(helm::of_kind(&cluster_wide, kind).is_empty(), "{kind}");
            }
            let deployment = &helm::of_kind(&cluster_wide, "Deployment")[0];
            assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
            let pod = &deployment["spec"]["template"]["spec"];
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
            let container = &pod["containers"][0];
            assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
            assert_eq!(
                container["securityContext"]["allowPrivilegeEscalation"],
                false
            );
            assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
            assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
            assert_eq!(
                container["image"],
                "registry.example.com/slipway-operator:0.1.0"
            );
            let env: Vec<&str> = container["env"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap())
                .collect();
            assert!(
                env.contains(&"POD_NAME") && env.contains(&"POD_NAMESPACE"),
                "{env:?}"
            );

            // The roles for people: neither developer nor viewer reads Secrets.
            let developer = helm::named(
                &cluster_wide,
                "ClusterRole",
                &format!("{release}-developer"),
            )
            .expect("developer");
            // No right on any Secret: the operator hands Secrets to the releases that name them.
            assert!(verbs_on(developer, "secrets").is_empty());
            assert_eq!(
                verbs_on(developer, "apps"),
                ["get", "list", "patch", "watch"]
            );
            let viewer = helm::named(&cluster_wide, "ClusterRole", &format!("{release}-viewer"))
                .expect("viewer");
            assert!(verbs_on(viewer, "secrets").is_empty());
            assert_eq!(verbs_on(viewer, "releases"), ["get", "list", "watch"]);
            let reader = helm::named(
                &cluster_wide,
                "ClusterRole",
                &format!("{release}-env-reader"),
            )
            .expect("env-reader");
            assert_eq!(verbs_on(reader, "secrets"), ["create", "delete", "get"]);

            // Watching namespaces: Roles there, the --namespace flags, and a Lease with 2 replicas.
            let watch = format!("watchNamespaces={{{},{}}}", team.name(), home.name());
            sets.extend([watch.as_str(), "replicas=2", "logFormat=text"]);
            sets.extend([
                "build.registry=registry.example.com/apps",
                "build.insecureRegistry=true",
                "build.registrySecret=push",
                "build.serviceAccount=builder",
                "build.timeoutSeconds=900",
            ]);
            let namespaced = helm::template(&release, home.name(), &sets);
            assert_no_wildcards(&namespaced);
            assert!(
                helm::named(&namespaced, "ClusterRole", &format!("{release}-operator")).is_none()
            );
            let roles: Vec<(&Value, &Value)> = helm::of_kind(&namespaced, "Role")
                .into_iter()
                .map(|r| (&r["metadata"]["name"], &r["metadata"]["namespace"]))
                .collect();
            let operator_name = json!(format!("{release}-operator"));
            assert!(
                roles.contains(&(&operator_name, &json!(team.name()))),
                "{roles:?}"
            );
            assert!(
                roles.contains(&(&operator_name, &json!(home.name()))),
                "{roles:?}"
            );
            assert!(
                roles.contains(&(
                    &json!(format!("{release}-leader-election")),
                    &json!(home.name())
                )),
                "{roles:?}"
            );
            assert_eq!(
                helm::container_args(&namespaced),
                [
                    "--log-format=text".to_string(),
                    "--metrics-addr=0.0.0.0:8080".into(),
                    "--concurrency=16".into(),
                    format!("--namespace={}", team.name()),
                    format!("--namespace={}", home.name()),
                    "--leader-elect".into(),
                    format!("--lease-name={release}"),
                    "--lease-duration=30".into(),
                    "--lease-grace=5".into(),
                    "--build-registry=registry.example.com/apps".into(),
                    "--builder-image=ghcr.io/slipway-dev/slipway-builder:v0.34.2".into(),
                    "--build-timeout=900".into(),
                    "--build-registry-insecure".into(),
                    "--build-registry-secret=push".into(),
                    "--build-service-account=builder".into(),
                ]
            );
            assert!(
                helm::of_kind(&namespaced, "Deployment")[0]["spec"]
                    .get("strategy")
                    .is_none()
            );

            // The API server takes every object of both renderings (and the CRDs) as they are.
            helm::dry_run_apply(&client, &cluster_wide)
                .await
                .expect("cluster-wide chart accepted");
            helm::dry_run_apply(&client, &namespaced)
                .await
                .expect("per-namespace chart accepted");
            let with_crds = helm::ok(&["show", "crds", helm::chart().to_str().unwrap()]);
            let crds: Vec<Value> = serde_saphyr::from_multiple::<Value>(&with_crds)
                .unwrap()
                .into_iter()
                .filter(|d| d["kind"] == "CustomResourceDefinition")
                .collect();
            assert_eq!(crds.len(), 3, "the chart ships the three CRDs");
            helm::dry_run_apply(&client, &crds)
                .await
                .expect("CRDs accepted");

            // A comment says why each rule exists.
            let text = helm::ok(&[
                "template",
                &release,
                helm::chart().to_str().unwrap(),
                "--namespace",
                home.name(),
                "--set",
                &watch,
                "--set",
                "replicas=2",
            ]);
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.trim_start().starts_with("- apiGroups:") {
                    assert!(
                        lines[i - 1].trim_start().starts_with('#'),
                        "rule without a comment: line {i} of\n{text}"
                    );
                }
            }
        })
        .await;
    })
    .await;
}

/// Labels `ns` so that its pods must meet the `restricted` Pod Security Standard.
async fn enforce_restricted(ns: &TestNamespace) {
    let patch =
        json!({ "metadata": { "labels": { "pod-security.kubernetes.io/enforce": "restricted" } } });
    Api::<Namespace>::all(ns.client().clone())
        .patch(ns.name(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("label the namespace");
}

#[tokio::test]
async fn quick_start_install_and_the_operator_as_the_charts_service_account() {
    with_temp_ns("chart-qs", |home| async move {
        with_temp_ns("chart-qs-team", |team| async move {
            // As the README says, with the image you built; the restricted Pod Security
            // Standard admits the operator's pods.
            enforce_restricted(&home).await;
            let release = format!("slipway-{}", home.name());
            let installed = helm::install(&release, home.name(), &IMAGE);
            assert!(
                installed
                    .output
                    .contains("The operator watches all namespaces"),
                "{}",
                installed.output
            );
            let deployments = home.api::<Deployment>();
            wait_for(
                scenario_timeout(),
                "the operator Deployment to roll out",
                || {
                    let deployments = deployments.clone();
                    let name = release.clone();
                    async move {
                        deployment_rolled_out(
                            &deployments.get(&name).await.map_err(|e| e.to_string())?,
                        )
                    }
                },
            )
            .await;
            home.api::<Service>()
                .get(&format!("{release}-metrics"))
                .await
                .expect("the metrics Service");

            // The pod cannot run here (kwok has no containers): run the binary as its ServiceAccount.
            let token = identity::token(home.client(), home.name(), &release).await;
            let kubeconfig =
                identity::write_kubeconfig(&format!("sa-{}", home.name()), &token, home.name());
            let as_sa = identity::client_from(&kubeconfig).await;
            let secrets: Api<k8s_openapi::api::core::v1::Secret> =
                Api::namespaced(as_sa, team.name());
            assert!(
                secrets.list(&Default::default()).await.is_err(),
                "the operator may not list Secrets"
            );
            let operator = operator::start_as(
                &format!("qs-{}", team.name()),
                team.name(),
                &kubeconfig,
                &["--log-format", "json"],
            );
            scenario::promote_build_and_roll_back(&team).await;
            assert!(
                !operator.log().contains("forbidden"),
                "the operator was refused something:\n{}",
                operator.log()
            );
            drop(installed);
        })
        .await;
    })
    .await;
}

fn scenario_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(180)
}
