//! The chart's install conventions and monitoring, every value on: lint, what it renders
//! (flags, PodDisruptionBudget, topology spread, ServiceMonitor, PrometheusRule, dashboard),
//! and the real API server taking it all with strict field validation, against CRDs of the
//! prometheus-operator kinds (tests/fixtures/monitoring-crds.yaml).
#![cfg(feature = "cluster")]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use serde_json::{Value, json};
use slipway_tests::{helm, wait_for, with_temp_ns};

const IMAGE: [&str; 2] = [
    "image.repository=registry.example.com/slipway-operator",
    "image.tag=0.1.0",
];

/// Every install and monitoring value the chart offers, each set (most away from the default).
const EVERY_VALUE: [&str; 17] = [
    "replicas=3",
    "concurrency=4",
    "leaderElection.leaseDurationSeconds=20",
    "leaderElection.renewGraceSeconds=4",
    "podDisruptionBudget.enabled=true",
    "podDisruptionBudget.maxUnavailable=2",
    "topologySpreadConstraints[0].maxSkew=2",
    "topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
    "topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
    "metrics.serviceMonitor.enabled=true",
    "metrics.serviceMonitor.interval=15s",
    "metrics.serviceMonitor.scrapeTimeout=5s",
    "metrics.serviceMonitor.labels.release=kube-prometheus",
    "metrics.prometheusRule.enabled=true",
    "metrics.prometheusRule.labels.release=kube-prometheus",
    "metrics.dashboard.enabled=true",
    "metrics.dashboard.annotations.grafana_folder=Platform",
];

#[test]
fn every_value_passes_lint_and_a_grace_as_long_as_the_lease_is_refused() {
    let chart = helm::chart();
    let chart = chart.to_str().unwrap();
    let mut every = vec!["lint", chart, "--strict"];
    for set in EVERY_VALUE {
        every.extend(["--set", set]);
    }
    helm::ok(&every);
    // The operator refuses a grace as long as the Lease; the chart says so before installing.
    let out = helm::run(&[
        "template",
        "slipway",
        chart,
        "--set",
        "replicas=2",
        "--set",
        "leaderElection.renewGraceSeconds=30",
    ]);
    assert!(
        !out.ok
            && out
                .stderr
                .contains("must be less than leaderElection.leaseDurationSeconds"),
        "{}",
        out.stderr
    );
}

/// Applies the fixture CRDs of ServiceMonitor and PrometheusRule and waits until they serve.
async fn install_monitoring_crds(client: &kube::Client) {
    let path = slipway_tests::workspace_root().join("tests/fixtures/monitoring-crds.yaml");
    let text = std::fs::read_to_string(&path).expect("the monitoring CRDs fixture");
    let crds: Vec<Value> = serde_saphyr::from_multiple(&text).expect("CRD YAML");
    helm::apply(client, &crds)
        .await
        .expect("the monitoring CRDs");
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in &crds {
        let name = crd["metadata"]["name"].as_str().unwrap().to_string();
        wait_for(
            scenario_timeout(),
            &format!("{name} to be established"),
            || {
                let (api, name) = (api.clone(), name.clone());
                async move {
                    let crd = api.get(&name).await.map_err(|e| e.to_string())?;
                    let established = crd
                        .status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True");
                    established
                        .then_some(())
                        .ok_or_else(|| "not yet".to_string())
                }
            },
        )
        .await;
    }
}

#[tokio::test]
async fn every_install_and_monitoring_value_renders_and_the_api_server_accepts_it() {
    with_temp_ns("chart-values", |home| async move {
        let release = format!("slipway-{}", home.name());
        let mut sets = IMAGE.to_vec();
        sets.extend(EVERY_VALUE);
        let objects = helm::template(&release, home.name(), &sets);
        let args = helm::container_args(&objects);
        for flag in [
            "--concurrency=4",
            "--leader-elect",
            "--lease-duration=20",
            "--lease-grace=4",
        ] {
            assert!(args.iter().any(|a| a == flag), "{flag} in {args:?}");
        }
        let deployment = &helm::of_kind(&objects, "Deployment")[0];
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        let selector = &deployment["spec"]["selector"]["matchLabels"];

        let budget = helm::named(&objects, "PodDisruptionBudget", &release).expect("a budget");
        assert_eq!(budget["spec"]["maxUnavailable"], 2);
        assert_eq!(&budget["spec"]["selector"]["matchLabels"], selector);
        let spread = &deployment["spec"]["template"]["spec"]["topologySpreadConstraints"][0];
        assert_eq!(spread["topologyKey"], "topology.kubernetes.io/zone");
        assert_eq!(spread["whenUnsatisfiable"], "DoNotSchedule");
        assert_eq!(&spread["labelSelector"]["matchLabels"], selector);
        for (key, value) in selector.as_object().unwrap() {
            assert_eq!(
                &pod_labels[key], value,
                "the spread selects the operator's pods"
            );
        }

        // The ServiceMonitor scrapes the metrics Service's port as job slipway-operator.
        let monitor = helm::named(&objects, "ServiceMonitor", &release).expect("a ServiceMonitor");
        assert_eq!(monitor["metadata"]["labels"]["release"], "kube-prometheus");
        let service = helm::named(&objects, "Service", &format!("{release}-metrics")).unwrap();
        for (key, value) in monitor["spec"]["selector"]["matchLabels"]
            .as_object()
            .unwrap()
        {
            assert_eq!(
                &service["metadata"]["labels"][key], value,
                "selects the Service"
            );
        }
        let endpoint = &monitor["spec"]["endpoints"][0];
        assert_eq!(endpoint["port"], service["spec"]["ports"][0]["name"]);
        assert_eq!(endpoint["interval"], "15s");
        assert_eq!(
            endpoint["relabelings"][0]["replacement"],
            "slipway-operator"
        );

        // The rules and the dashboard are the chart's files, which the operator's tests check.
        let files = helm::chart().join("files");
        let rules: Value = serde_saphyr::from_str(
            &std::fs::read_to_string(files.join("prometheus-rules.yaml")).unwrap(),
        )
        .unwrap();
        let rule = helm::named(&objects, "PrometheusRule", &release).expect("a PrometheusRule");
        assert_eq!(rule["spec"], rules);
        let dashboard: Value = serde_json::from_str(
            &std::fs::read_to_string(files.join("grafana-dashboard.json")).unwrap(),
        )
        .unwrap();
        let map =
            helm::named(&objects, "ConfigMap", &format!("{release}-dashboard")).expect("dashboard");
        assert_eq!(map["metadata"]["labels"]["grafana_dashboard"], "1");
        assert_eq!(map["metadata"]["annotations"]["grafana_folder"], "Platform");
        let shipped: Value =
            serde_json::from_str(map["data"]["slipway.json"].as_str().unwrap()).unwrap();
        assert_eq!(shipped, dashboard);

        // The real API server, with the prometheus-operator kinds installed, takes every object
        // with strict field validation.
        install_monitoring_crds(home.client()).await;
        helm::dry_run_apply(home.client(), &objects)
            .await
            .expect("the chart with every value accepted");
        // Strict validation does refuse a field the schema lacks.
        let mut typo = monitor.clone();
        typo["spec"]["endpoints"][0]["intervall"] = json!("15s");
        let refused = helm::dry_run_apply(home.client(), &[typo]).await;
        assert!(
            refused.is_err_and(|e| e.contains("intervall")),
            "a typo is refused"
        );

        // A ServiceMonitor without the Service it scrapes is refused at render time.
        let out = helm::run(&[
            "template",
            &release,
            helm::chart().to_str().unwrap(),
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "metrics.service.enabled=false",
        ]);
        assert!(
            !out.ok && out.stderr.contains("needs metrics.service.enabled"),
            "{}",
            out.stderr
        );
    })
    .await;
}

fn scenario_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(180)
}
