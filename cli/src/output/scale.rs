//! `convox scale` and `convox services`: what each service of the running release asks for and
//! runs.

use std::collections::BTreeMap;

use serde::Serialize;
use slipway_crds::ServiceSettings;
use slipway_crds::app::{ServiceStatus, workload_name};
use slipway_crds::manifest::Manifest;

use super::table::table;

/// One row of `convox scale`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ScaleRow {
    /// Service name.
    pub service: String,
    /// Processes wanted.
    pub desired: i32,
    /// Processes ready.
    pub running: i32,
    /// CPU in millicores, when set.
    pub cpu: Option<u32>,
    /// Memory in megabytes, when set.
    pub memory: Option<u32>,
}

/// The scale of each service of `manifest`: App settings over live counts over convox.yml.
pub fn scale_rows(
    manifest: &Manifest,
    live: &[ServiceStatus],
    settings: &BTreeMap<String, ServiceSettings>,
) -> Vec<ScaleRow> {
    let none = ServiceSettings::default();
    manifest
        .services
        .iter()
        .map(|(name, service)| {
            let set = settings.get(name).unwrap_or(&none);
            let status = live.iter().find(|s| &s.name == name);
            let positive = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
            ScaleRow {
                service: name.clone(),
                desired: set
                    .count
                    .or(status.map(|s| s.replicas))
                    .unwrap_or(service.scale.count),
                running: status.map(|s| s.ready).unwrap_or(0),
                cpu: positive(set.cpu).or(service.scale.cpu),
                memory: positive(set.memory).or(service.scale.memory),
            }
        })
        .collect()
}

/// `SERVICE  DESIRED  RUNNING  CPU  MEMORY`.
pub fn scale_table(rows: &[ScaleRow]) -> String {
    let number = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.service.clone(),
                r.desired.to_string(),
                r.running.to_string(),
                number(r.cpu),
                number(r.memory),
            ]
        })
        .collect();
    table(&["SERVICE", "DESIRED", "RUNNING", "CPU", "MEMORY"], &cells)
}

/// One row of `convox services`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ServiceRow {
    /// Service name.
    pub service: String,
    /// Its name inside the cluster, when it has a port.
    pub domain: String,
    /// `port:targetPort`.
    pub ports: Vec<String>,
}

/// The services of `manifest`, with the in-cluster name of the Kubernetes Service of each port.
pub fn service_rows(manifest: &Manifest, app: &str, namespace: &str) -> Vec<ServiceRow> {
    manifest
        .services
        .iter()
        .map(|(name, service)| ServiceRow {
            service: name.clone(),
            domain: service
                .port
                .as_ref()
                .map(|_| format!("{}.{namespace}.svc.cluster.local", workload_name(app, name)))
                .unwrap_or_default(),
            ports: service
                .port
                .iter()
                .map(|p| format!("{0}:{0}", p.number))
                .collect(),
        })
        .collect()
}

/// `SERVICE  DOMAIN  PORTS`.
pub fn services_table(rows: &[ServiceRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| vec![r.service.clone(), r.domain.clone(), r.ports.join(" ")])
        .collect();
    table(&["SERVICE", "DOMAIN", "PORTS"], &cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "services:\n  web:\n    image: nginx\n    port: 5000\n    scale:\n      count: 2\n      cpu: 250\n      memory: 512\n  worker:\n    image: busybox\n";

    #[test]
    fn scale_prefers_settings_then_live_then_convox_yml() {
        let manifest = Manifest::parse(MANIFEST).unwrap();
        let live = vec![ServiceStatus {
            name: "worker".into(),
            replicas: 4,
            updated: 4,
            ready: 3,
            release: None,
        }];
        let settings = BTreeMap::from([(
            "web".to_string(),
            ServiceSettings {
                count: Some(5),
                memory: Some(1024),
                ..ServiceSettings::default()
            },
        )]);
        let rows = scale_rows(&manifest, &live, &settings);
        assert_eq!(
            scale_table(&rows),
            "\
SERVICE  DESIRED  RUNNING  CPU  MEMORY
web      5        0        250  1024
worker   4        3             \n"
        );
        assert_eq!(scale_table(&[]), "SERVICE  DESIRED  RUNNING  CPU  MEMORY\n");
    }

    #[test]
    fn services_name_their_cluster_domain() {
        let manifest = Manifest::parse(MANIFEST).unwrap();
        assert_eq!(
            services_table(&service_rows(&manifest, "myapp", "prod")),
            "\
SERVICE  DOMAIN                            PORTS
web      myapp-web.prod.svc.cluster.local  5000:5000
worker                                     \n"
        );
    }
}
