//! The operator against the real control plane: promotions, env-only releases, scale, removed
//! services, rollbacks, automatic rollbacks, invalid releases and restarts.
#![cfg(feature = "cluster")]

mod failures;
mod lifecycle;
mod restart;

use k8s_openapi::api::apps::v1::Deployment;
use slipway_crds::labels;
use slipway_tests::TestNamespace;
pub use slipway_tests::reliability::generations;

pub const TWO_SERVICES: &str = "services:
  web:
    image: nginx:1
    command: bin/web --verbose
    port: 5000
    scale:
      count: 2
  worker:
    image: busybox:1
    command: bin/work
";

pub use slipway_crds::env::from_pairs as env;

pub async fn deployment(ns: &TestNamespace, name: &str) -> Option<Deployment> {
    ns.api::<Deployment>()
        .get_opt(name)
        .await
        .expect("get Deployment")
}

pub fn template_release(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .as_ref()
        .unwrap()[labels::RELEASE]
        .clone()
}
