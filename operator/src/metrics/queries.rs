//! The chart's Grafana dashboard and Prometheus alerts query only metrics, and labels, that the
//! operator really exposes: each query is parsed as PromQL and its selectors are looked up in
//! the exposition of a real registry in which every metric has recorded something.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::runtime::{reflector, watcher};
use promql_parser::parser::{self, Expr};
use promql_parser::util::{ExprVisitor, walk_expr};
use slipway_crds::App;

use super::Metrics;

const DASHBOARD: &str = include_str!("../../../charts/slipway/files/grafana-dashboard.json");
const RULES: &str = include_str!("../../../charts/slipway/files/prometheus-rules.yaml");

/// Labels Prometheus adds to every series it scrapes (the ServiceMonitor's target labels).
const TARGET_LABELS: [&str; 5] = ["job", "namespace", "pod", "instance", "service"];

/// Series Prometheus makes itself for every scrape target.
const PROMETHEUS_SERIES: [&str; 1] = ["up"];

/// Metric name -> label names, from the exposition of a registry where everything recorded.
fn exposed() -> BTreeMap<String, BTreeSet<String>> {
    let metrics = Metrics::default();
    metrics.reconciled("app", Duration::from_millis(3));
    metrics.failed("app", "conflict");
    let promotion = serde_json::from_value(serde_json::json!({
        "release": "rtwo", "result": "Succeeded",
        "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:42Z",
    }))
    .unwrap();
    metrics.promoted(&promotion);
    metrics.requested("list", "200", Duration::from_millis(5));
    metrics.watched("apps");
    metrics.set_leader(true);
    let (store, mut writer) = reflector::store::<App>();
    let app: App = serde_json::from_value(serde_json::json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "App",
        "metadata": { "name": "web", "namespace": "team" },
        "spec": {}, "status": { "phase": "Running" },
    }))
    .unwrap();
    writer.apply_watcher_event(&watcher::Event::Apply(app));
    metrics.report_apps(store);

    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in metrics.encode().lines().filter(|l| !l.starts_with('#')) {
        let (name, rest) = line.split_at(line.find(['{', ' ']).unwrap_or(line.len()));
        let labels = rest
            .strip_prefix('{')
            .and_then(|r| r.split_once('}'))
            .map(|(inside, _)| inside)
            .unwrap_or_default();
        let keys = labels
            .split("\",")
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, _)| key.to_string());
        names.entry(name.to_string()).or_default().extend(keys);
    }
    names
}

/// Every `expr` of the dashboard's panels, with Grafana's variables as Grafana fills them.
fn dashboard_queries() -> Vec<String> {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("dashboard JSON");
    let mut queries = vec![];
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            queries.push(
                expr.replace("$__rate_interval", "5m")
                    .replace("$namespace", ".*"),
            );
        }
    }
    let variables = &dashboard["templating"]["list"];
    for variable in variables.as_array().into_iter().flatten() {
        if let Some(query) = variable["query"]["query"].as_str() {
            // label_values(metric, label): the metric and the label it lists.
            let inside = query
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .expect("a label_values query");
            let (metric, label) = inside.split_once(',').expect("metric, label");
            queries.push(format!("count by ({}) ({metric})", label.trim()));
        }
    }
    queries
}

/// Every alert's `expr` of the PrometheusRule's spec.
fn rule_queries() -> Vec<String> {
    let rules: serde_json::Value = serde_saphyr::from_str(RULES).expect("rules YAML");
    let mut queries = vec![];
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            assert!(rule["alert"].is_string(), "every rule is an alert: {rule}");
            queries.push(rule["expr"].as_str().expect("expr").to_string());
        }
    }
    queries
}

/// The metric names and matcher label names of every selector in a query.
#[derive(Default)]
struct Selectors(Vec<(String, Vec<String>)>);

impl ExprVisitor for Selectors {
    type Error = String;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        let selector = match expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return Ok(true),
        };
        let name = selector
            .name
            .clone()
            .ok_or("a selector without a metric name")?;
        let labels = selector
            .matchers
            .matchers
            .iter()
            .map(|m| m.name.clone())
            .collect();
        self.0.push((name, labels));
        Ok(true)
    }
}

fn check(queries: &[String], exposed: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut wrong = vec![];
    for query in queries {
        let expr = match parser::parse(query) {
            Ok(expr) => expr,
            Err(e) => {
                wrong.push(format!("{query}: not PromQL: {e}"));
                continue;
            }
        };
        let mut selectors = Selectors::default();
        walk_expr(&mut selectors, &expr).expect("selectors");
        for (name, labels) in selectors.0 {
            if PROMETHEUS_SERIES.contains(&name.as_str()) {
                continue;
            }
            let Some(known) = exposed.get(&name) else {
                wrong.push(format!("{query}: the operator exposes no {name}"));
                continue;
            };
            for label in labels {
                if !known.contains(&label) && !TARGET_LABELS.contains(&label.as_str()) {
                    wrong.push(format!("{query}: {name} has no label {label}"));
                }
            }
        }
    }
    wrong
}

#[test]
fn the_dashboard_and_the_alerts_query_only_what_the_operator_exposes() {
    let exposed = exposed();
    let (dashboard, rules) = (dashboard_queries(), rule_queries());
    assert!(dashboard.len() >= 10 && rules.len() >= 5);
    let wrong: Vec<String> = [check(&dashboard, &exposed), check(&rules, &exposed)].concat();
    assert!(wrong.is_empty(), "{wrong:#?}\nexposed: {exposed:#?}");

    // What the issue asks to chart and alert on is there, and is queried.
    let all = [dashboard, rules].concat().join("\n");
    for metric in [
        "slipway_promotion_duration_seconds_bucket",
        "slipway_app_info",
        "slipway_leader",
        "slipway_build_info",
        "slipway_api_requests_total",
        "slipway_api_request_duration_seconds_bucket",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ] {
        assert!(exposed.contains_key(metric), "{metric} is exposed");
        assert!(all.contains(metric), "{metric} is charted or alerted on");
    }
}

#[test]
fn a_query_of_a_metric_the_operator_lacks_is_caught() {
    let exposed = exposed();
    let wrong = check(
        &[
            "rate(slipway_promotions_failed_total[5m])".to_string(),
            "slipway_app_info{state=\"Failed\"}".to_string(),
            "sum(".to_string(),
        ],
        &exposed,
    );
    assert_eq!(wrong.len(), 3, "{wrong:#?}");
}
