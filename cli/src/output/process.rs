//! The process views: `convox ps` rows and the `ps info` block.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use serde::Serialize;
use slipway_crds::labels;

use super::table::{info, table};
use super::time::ago;
use super::views::shown;

/// One row of `convox ps`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ProcessRow {
    /// Pod name.
    pub id: String,
    /// Service name.
    pub service: String,
    /// `running`, `pending`, `crashed`, `stopping`, …
    pub status: String,
    /// Release the pod runs.
    pub release: String,
    /// When it started.
    pub started: Option<Timestamp>,
    /// Its command.
    pub command: String,
}

/// The `ps` row of a Pod.
pub fn process_row(pod: &Pod) -> ProcessRow {
    let tags = pod.labels();
    let status = pod.status.clone().unwrap_or_default();
    // The operator's own rule of trouble, so `ps` and a rollback agree.
    let crashed = slipway_crds::pods::in_trouble(pod);
    let state = if pod.metadata.deletion_timestamp.is_some() {
        "stopping".to_string()
    } else if crashed {
        "crashed".to_string()
    } else {
        status.phase.clone().unwrap_or_default().to_lowercase()
    };
    let command = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .map(|c| {
            let mut words = c.command.clone().unwrap_or_default();
            words.extend(c.args.clone().unwrap_or_default());
            words.join(" ")
        })
        .unwrap_or_default();
    ProcessRow {
        id: pod.name_any(),
        service: tags
            .get(labels::SERVICE)
            .or_else(|| tags.get(labels::RUN_SERVICE))
            .cloned()
            .unwrap_or_default(),
        status: state,
        release: shown(
            tags.get(labels::RELEASE)
                .or_else(|| tags.get(labels::RUN_RELEASE)),
        ),
        started: status.start_time.map(|t| t.0),
        command,
    }
}

/// `ID  SERVICE  STATUS  RELEASE  STARTED  COMMAND`.
pub fn ps_table(rows: &[ProcessRow], now: Timestamp) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.service.clone(),
                p.status.clone(),
                p.release.clone(),
                ago(p.started, now),
                p.command.clone(),
            ]
        })
        .collect();
    table(
        &["ID", "SERVICE", "STATUS", "RELEASE", "STARTED", "COMMAND"],
        &cells,
    )
}

/// `convox ps info`: the row's fields and where the process runs.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    /// The `ps` row.
    #[serde(flatten)]
    pub row: ProcessRow,
    /// App name.
    pub app: String,
    /// The node it runs on.
    pub instance: String,
    /// Its image.
    pub image: String,
    /// Restarts of its container.
    pub restarts: i32,
    /// Why it is not running, when Kubernetes says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The `ps info` view of a Pod.
pub fn process_info(pod: &Pod) -> ProcessInfo {
    let main = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first());
    let reason = main.and_then(|c| {
        let state = c.state.as_ref()?;
        let waiting = state.waiting.as_ref().and_then(|w| w.reason.clone());
        let done = state.terminated.as_ref().map(|t| {
            let why = t.reason.clone().unwrap_or_else(|| "Terminated".into());
            format!("{why} (exit code {})", t.exit_code)
        });
        waiting.or(done)
    });
    ProcessInfo {
        row: process_row(pod),
        app: pod.labels().get(labels::APP).cloned().unwrap_or_default(),
        instance: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        image: pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        restarts: main.map(|c| c.restart_count).unwrap_or(0),
        reason,
    }
}

/// `Id`, `App`, `Command`, `Instance`, `Release`, `Service`, `Started`, `Status`, then Slipway's rows.
pub fn process_info_text(p: &ProcessInfo, now: Timestamp) -> String {
    let mut rows = vec![
        ("Id", p.row.id.clone()),
        ("App", p.app.clone()),
        ("Command", p.row.command.clone()),
        ("Instance", p.instance.clone()),
        ("Release", p.row.release.clone()),
        ("Service", p.row.service.clone()),
        ("Started", ago(p.row.started, now)),
        ("Status", p.row.status.clone()),
        ("Image", p.image.clone()),
        ("Restarts", p.restarts.to_string()),
    ];
    if let Some(reason) = &p.reason {
        rows.push(("Reason", reason.clone()));
    }
    info(&rows)
}
