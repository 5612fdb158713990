//! Metrics read at each scrape: the phase of every App the operator watches (as Argo Rollouts'
//! `rollout_info`) and the process's CPU, memory, file descriptors and threads.

use std::fmt;
use std::sync::{Arc, Mutex};

use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use slipway_crds::App;

/// Labels of an App's phase.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    // Not `namespace`: Prometheus gives every series the scraped operator's namespace there.
    app_namespace: String,
    app: String,
    phase: String,
}

/// `slipway_app_info{app_namespace, app, phase} 1` for every App of the watched stores, so a
/// deleted App leaves no series behind.
#[derive(Clone, Default)]
pub struct AppPhases(Arc<Mutex<Vec<Store<App>>>>);

impl AppPhases {
    /// Adds the Apps of `store` (one per watched namespace).
    pub fn add(&self, store: Store<App>) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(store);
    }
}

impl fmt::Debug for AppPhases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppPhases")
    }
}

impl Collector for AppPhases {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let stores = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut family = encoder.encode_descriptor(
            "app_info",
            "1 for every App, labelled with its phase (Unknown before the operator reported one)",
            None,
            MetricType::Gauge,
        )?;
        for app in stores.iter().flat_map(Store::state) {
            let phase = app.status.as_ref().and_then(|s| s.phase);
            let labels = AppLabels {
                app_namespace: app.namespace().unwrap_or_default(),
                app: app.name_any(),
                phase: phase.map_or("Unknown".to_string(), |p| p.to_string()),
            };
            ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The process metrics every Prometheus client exposes, read from /proc at each scrape.
#[derive(Debug)]
pub struct Process;

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let now = metrics_process::collector::collect();
        if let Some(cpu) = now.cpu_seconds_total {
            let counter = ConstCounter::new(cpu);
            counter.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                counter.metric_type(),
            )?)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                now.resident_memory_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                now.virtual_memory_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                now.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                now.max_fds,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                now.start_time_seconds,
            ),
            ("process_threads", "Number of OS threads", now.threads),
        ];
        for (name, help, value) in gauges {
            let Some(value) = value else { continue };
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}
