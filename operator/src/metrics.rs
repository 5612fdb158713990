//! Prometheus metrics: reconciles, failures by kind, durations, promotions by result and the
//! API requests the operator made, by verb.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels naming the controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// `app` or `build`.
    pub controller: String,
}

/// Labels of a failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// `app` or `build`.
    pub controller: String,
    /// The error's metric label.
    pub kind: String,
}

/// Labels of a finished promotion.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PromotionLabels {
    /// Succeeded, RolledBack, Superseded or Failed.
    pub result: String,
}

/// Labels of an API request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The Kubernetes verb: get, list, watch, create, update, patch or delete.
    pub verb: String,
}

/// Labels of a watch.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabels {
    /// What it watches: apps, releases, builds, deployments, services, pods, or env-owner releases.
    pub watch: String,
}

/// The operator's metrics and their registry.
pub struct Metrics {
    /// Reconciles run.
    pub reconciles: Family<ControllerLabels, Counter>,
    /// Reconciles that failed.
    pub failures: Family<FailureLabels, Counter>,
    /// Reconcile durations in seconds.
    pub duration: Family<ControllerLabels, Histogram>,
    /// Promotions finished.
    pub promotions: Family<PromotionLabels, Counter>,
    /// API requests sent, by verb.
    pub requests: Family<RequestLabels, Counter>,
    /// Objects delivered by each watch (a relist delivers them all again).
    pub watched: Family<WatchLabels, Counter>,
    /// The registry that /metrics encodes.
    pub registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let duration = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        let promotions = Family::<PromotionLabels, Counter>::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let watched = Family::<WatchLabels, Counter>::default();
        let mut registry = Registry::with_prefix("slipway");
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Reconciles that failed",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile durations",
            duration.clone(),
        );
        registry.register(
            "promotions",
            "Promotions finished, by result",
            promotions.clone(),
        );
        registry.register(
            "api_requests",
            "Kubernetes API requests sent, by verb",
            requests.clone(),
        );
        registry.register(
            "watch_events",
            "Objects delivered by each watch",
            watched.clone(),
        );
        Metrics {
            watched,
            reconciles,
            failures,
            duration,
            promotions,
            requests,
            registry,
        }
    }
}

impl Metrics {
    /// Counts one reconcile of `controller` that took `elapsed`.
    pub fn reconciled(&self, controller: &str, elapsed: Duration) {
        let labels = ControllerLabels {
            controller: controller.to_string(),
        };
        self.reconciles.get_or_create(&labels).inc();
        self.duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one object delivered by `watch`.
    pub fn watched(&self, watch: &str) {
        let labels = WatchLabels {
            watch: watch.to_string(),
        };
        self.watched.get_or_create(&labels).inc();
    }

    /// Counts one failed reconcile.
    pub fn failed(&self, controller: &str, kind: &str) {
        let labels = FailureLabels {
            controller: controller.to_string(),
            kind: kind.to_string(),
        };
        self.failures.get_or_create(&labels).inc();
    }

    /// Counts one finished promotion.
    pub fn promoted(&self, result: &str) {
        self.promotions
            .get_or_create(&PromotionLabels {
                result: result.to_string(),
            })
            .inc();
    }

    /// Counts one API request.
    pub fn requested(&self, method: &http::Method, uri: &http::Uri) {
        let verb = verb(method, uri).to_string();
        self.requests.get_or_create(&RequestLabels { verb }).inc();
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The Kubernetes verb of a request, from its method and path (as the API server names it).
fn verb(method: &http::Method, uri: &http::Uri) -> &'static str {
    let query = uri.query().unwrap_or_default();
    match *method {
        http::Method::GET
            if query
                .split('&')
                .any(|p| p == "watch=true" || p == "watch=1") =>
        {
            "watch"
        }
        http::Method::GET if is_collection(uri.path()) => "list",
        http::Method::GET => "get",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    }
}

/// Whether a path names a collection (`/apis/g/v/namespaces/ns/kind`) rather than one object.
fn is_collection(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.first() {
        Some(&"api") => parts.get(2..),
        Some(&"apis") => parts.get(3..),
        _ => None,
    }
    .unwrap_or_default();
    let rest = match rest {
        ["namespaces", _, kind, tail @ ..] => [&[*kind][..], tail].concat(),
        other => other.to_vec(),
    };
    rest.len() == 1
}

/// A kube client for the inferred config whose requests `metrics` counts.
pub async fn counted_client(metrics: std::sync::Arc<Metrics>) -> kube::Result<kube::Client> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    let count =
        tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
            metrics.requested(request.method(), request.uri());
            request
        });
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&count)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verb_of(method: http::Method, uri: &str) -> &'static str {
        verb(&method, &uri.parse().unwrap())
    }

    #[test]
    fn names_verbs_as_the_api_server_does() {
        let deployments = "/apis/apps/v1/namespaces/ns/deployments";
        assert_eq!(verb_of(http::Method::GET, deployments), "list");
        assert_eq!(
            verb_of(
                http::Method::GET,
                &format!("{deployments}?labelSelector=a%3Db")
            ),
            "list"
        );
        assert_eq!(
            verb_of(
                http::Method::GET,
                &format!("{deployments}?watch=true&resourceVersion=1")
            ),
            "watch"
        );
        assert_eq!(
            verb_of(http::Method::GET, &format!("{deployments}/web")),
            "get"
        );
        assert_eq!(verb_of(http::Method::GET, "/api/v1/namespaces"), "list");
        assert_eq!(verb_of(http::Method::GET, "/api/v1/namespaces/ns"), "get");
        assert_eq!(
            verb_of(http::Method::GET, "/apis/slipway.dev/v1alpha1/apps"),
            "list"
        );
        assert_eq!(
            verb_of(
                http::Method::PATCH,
                "/apis/slipway.dev/v1alpha1/namespaces/ns/apps/a/status"
            ),
            "patch"
        );
        assert_eq!(
            verb_of(http::Method::POST, "/api/v1/namespaces/ns/secrets"),
            "create"
        );
        assert_eq!(
            verb_of(http::Method::DELETE, "/api/v1/namespaces/ns/services/s"),
            "delete"
        );
    }

    #[test]
    fn counts_requests_by_verb() {
        let metrics = Metrics::default();
        let uri: http::Uri = "/api/v1/namespaces/ns/pods".parse().unwrap();
        metrics.requested(&http::Method::GET, &uri);
        metrics.requested(&http::Method::GET, &uri);
        assert!(
            metrics
                .encode()
                .contains("slipway_api_requests_total{verb=\"list\"} 2")
        );
    }
}
