//! What every reconcile shares: the client, the event recorder, the metrics and the builder.

use std::sync::Arc;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use slipway_crds::builder::Builder;

use crate::metrics::Metrics;

/// Shared state of the controllers.
#[derive(Clone)]
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Publishes Events on Apps.
    pub recorder: Recorder,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// How source builds run, when this cluster has a builder.
    pub builder: Option<Builder>,
}

impl Context {
    /// A context for `client`, reporting Events as slipway-operator.
    pub fn new(client: Client, metrics: Arc<Metrics>, builder: Option<Builder>) -> Self {
        let reporter = Reporter {
            controller: slipway_crds::labels::OPERATOR_MANAGER.to_string(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            builder,
        }
    }
}
