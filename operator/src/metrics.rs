//! Prometheus metrics: reconciles, failures by kind, durations and promotions by result.

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
        Metrics {
            reconciles,
            failures,
            duration,
            promotions,
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

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
