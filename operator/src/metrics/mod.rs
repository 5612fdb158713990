//! Prometheus metrics: reconciles, failures by kind, durations, promotions and their durations
//! by result, the phase of every App, leadership, the build, the operator's API requests (by
//! verb and status code, with their latency) and the process (`process_*`).

mod collectors;
#[cfg(test)]
mod queries;
mod requests;

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use kube::runtime::reflector::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use slipway_crds::App;
use slipway_crds::app::Promotion;

pub use requests::counted_client;

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
    /// The HTTP status code of the answer, or `error` when none came.
    pub code: String,
}

/// Labels of an API request's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbLabels {
    /// The Kubernetes verb.
    pub verb: String,
}

/// Labels of a watch.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabels {
    /// What it watches: apps, releases, builds, deployments, services or pods.
    pub watch: String,
}

/// Labels of the build information.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    revision: String,
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
    /// Promotion durations in seconds, from start to result.
    pub promotion_duration: Family<PromotionLabels, Histogram>,
    /// API requests answered, by verb and status code.
    pub requests: Family<RequestLabels, Counter>,
    /// Seconds until the API server's answer (its headers, for a watch), by verb.
    pub request_duration: Family<VerbLabels, Histogram>,
    /// Objects delivered by each watch (a relist delivers them all again).
    pub watched: Family<WatchLabels, Counter>,
    /// 1 while this process leads (or runs without leader election), else 0.
    pub leader: Gauge<i64, AtomicI64>,
    /// The App stores whose phases `slipway_app_info` reports.
    apps: collectors::AppPhases,
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
        // From a second to an hour: a rollout of real pods takes seconds to minutes, and the
        // progress deadline (10 minutes by default) bounds a failed one.
        let promotion_duration = Family::<PromotionLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(1.0, 2.0, 13))
        });
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration = Family::<VerbLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        let watched = Family::<WatchLabels, Counter>::default();
        let leader = Gauge::<i64, AtomicI64>::default();
        let apps = collectors::AppPhases::default();
        let build = Info::new(BuildLabels {
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: option_env!("SLIPWAY_REVISION")
                .unwrap_or("unknown")
                .to_string(),
        });

        let mut registry = Registry::default();
        registry.register_collector(Box::new(collectors::Process));
        let slipway = registry.sub_registry_with_prefix("slipway");
        slipway.register("reconciles", "Reconciles run", reconciles.clone());
        slipway.register(
            "reconcile_failures",
            "Reconciles that failed",
            failures.clone(),
        );
        slipway.register(
            "reconcile_duration_seconds",
            "Reconcile durations",
            duration.clone(),
        );
        slipway.register(
            "promotions",
            "Promotions finished, by result",
            promotions.clone(),
        );
        slipway.register(
            "promotion_duration_seconds",
            "Seconds from the start of a promotion to its result, by result",
            promotion_duration.clone(),
        );
        slipway.register(
            "api_requests",
            "Kubernetes API requests answered, by verb and status code",
            requests.clone(),
        );
        slipway.register(
            "api_request_duration_seconds",
            "Seconds until the Kubernetes API server answered (its headers, for a watch), by verb",
            request_duration.clone(),
        );
        slipway.register(
            "watch_events",
            "Objects delivered by each watch",
            watched.clone(),
        );
        slipway.register(
            "leader",
            "1 while this replica leads (or runs without leader election), 0 while it stands by",
            leader.clone(),
        );
        slipway.register("build", "The operator's version and git revision", build);
        slipway.register_collector(Box::new(apps.clone()));
        Metrics {
            reconciles,
            failures,
            duration,
            promotions,
            promotion_duration,
            requests,
            request_duration,
            watched,
            leader,
            apps,
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

    /// Counts one finished promotion and observes how long it took.
    pub fn promoted(&self, promotion: &Promotion) {
        let labels = PromotionLabels {
            result: promotion.result.to_string(),
        };
        self.promotions.get_or_create(&labels).inc();
        let took = promotion.finished.0.duration_since(promotion.started.0);
        self.promotion_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64().max(0.0));
    }

    /// Counts one answered API request of `verb` with status `code` that took `elapsed`.
    pub fn requested(&self, verb: &str, code: &str, elapsed: Duration) {
        let labels = RequestLabels {
            verb: verb.to_string(),
            code: code.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        self.request_duration
            .get_or_create(&VerbLabels {
                verb: verb.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records whether this process leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Reports the phase of every App in `store` in `slipway_app_info`.
    pub fn report_apps(&self, store: Store<App>) {
        self.apps.add(store);
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
