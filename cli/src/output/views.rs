//! The views: what each read command shows of the objects, as rows and info blocks.

use jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;
use slipway_crds::app::FailureReason;
use slipway_crds::id::display_id;
use slipway_crds::{App, AppPhase, Build, BuildPhase};

use super::table::{info, table};
use super::time::{ago, elapsed, rfc3339};

/// One row of `convox apps`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct AppRow {
    /// App name.
    pub app: String,
    /// Phase, lower-case.
    pub status: String,
    /// The active release.
    pub release: String,
}

/// `convox apps info`.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// App name.
    pub name: String,
    /// Phase, lower-case.
    pub status: String,
    /// The App's metadata.generation: it moves with every change of its spec.
    pub generation: i64,
    /// Whether a GitOps tool owns spec.release (promotes are refused without --force).
    pub locked: bool,
    /// The active release.
    pub release: String,
    /// The release spec.release names, when it is not the active one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<String>,
    /// The release rolling out, with the one it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutView>,
    /// The release that failed and was rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedView>,
}

/// A rollout in flight, as shown.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RolloutView {
    /// Release rolling out.
    pub release: String,
    /// Release it replaces.
    pub from: String,
    /// When it started.
    pub started: Timestamp,
    /// Whether it returns to the last good release.
    pub rollback: bool,
}

/// A failed release, as shown.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct FailedView {
    /// Release that failed.
    pub release: String,
    /// Machine-readable cause.
    pub reason: FailureReason,
    /// What happened.
    pub message: String,
}

/// The lower-case status Convox shows for a phase.
pub fn phase_name(phase: Option<AppPhase>) -> &'static str {
    match phase {
        None | Some(AppPhase::Pending) => "pending",
        Some(AppPhase::Updating) => "updating",
        Some(AppPhase::Running) => "running",
        Some(AppPhase::RollingBack) => "rolling-back",
        Some(AppPhase::Failed) => "failed",
    }
}

pub(super) fn shown(name: Option<&String>) -> String {
    name.map(|n| display_id(n)).unwrap_or_default()
}

/// The `apps` row of an App.
pub fn app_row(app: &App) -> AppRow {
    let status = app.status.clone().unwrap_or_default();
    AppRow {
        app: app.name_any(),
        status: phase_name(status.phase).to_string(),
        release: shown(status.release.as_ref()),
    }
}

/// `APP  STATUS  RELEASE`.
pub fn apps_table(rows: &[AppRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| vec![r.app.clone(), r.status.clone(), r.release.clone()])
        .collect();
    table(&["APP", "STATUS", "RELEASE"], &cells)
}

/// The `apps info` view of an App; `locked` when a GitOps tool owns its spec.release.
pub fn app_info(app: &App, locked: bool) -> AppInfo {
    let status = app.status.clone().unwrap_or_default();
    let desired = app
        .spec
        .release
        .as_ref()
        .filter(|d| Some(*d) != status.release.as_ref())
        .map(|d| display_id(d));
    AppInfo {
        name: app.name_any(),
        status: phase_name(status.phase).to_string(),
        generation: app.metadata.generation.unwrap_or(0),
        locked,
        release: shown(status.release.as_ref()),
        desired,
        rollout: status.rollout.map(|r| RolloutView {
            release: display_id(&r.release),
            from: shown(r.from.as_ref()),
            started: r.started.0,
            rollback: r.rollback,
        }),
        failed: status.failed_release.map(|f| FailedView {
            release: display_id(&f.release),
            reason: f.reason,
            message: f.message,
        }),
    }
}

/// `Name`, `Status`, `Generation`, `Locked`, `Release`, then `Desired`, `Rollout`, `Failed`.
pub fn app_info_text(view: &AppInfo, now: Timestamp) -> String {
    let mut rows = vec![
        ("Name", view.name.clone()),
        ("Status", view.status.clone()),
        ("Generation", view.generation.to_string()),
        ("Locked", view.locked.to_string()),
        ("Release", view.release.clone()),
    ];
    if let Some(desired) = &view.desired {
        rows.push(("Desired", desired.clone()));
    }
    if let Some(r) = &view.rollout {
        let kind = if r.rollback {
            "rolling back to"
        } else {
            "rolling out"
        };
        let from = if r.from.is_empty() {
            String::new()
        } else {
            format!(" from {}", r.from)
        };
        let age = ago(Some(r.started), now);
        rows.push((
            "Rollout",
            format!("{kind} {}{from}, started {age}", r.release),
        ));
    }
    if let Some(f) = &view.failed {
        rows.push((
            "Failed",
            format!("{} ({}): {}", f.release, f.reason, f.message),
        ));
    }
    info(&rows)
}

/// One row of `convox builds`, and the `builds info` view.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct BuildView {
    /// Build ID.
    pub id: String,
    /// Phase, lower-case.
    pub status: String,
    /// The release it made.
    pub release: String,
    /// When it started.
    pub started: Option<Timestamp>,
    /// When it ended.
    pub ended: Option<Timestamp>,
    /// What was built.
    pub description: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The view of a Build.
pub fn build_view(build: &Build) -> BuildView {
    let status = build.status.clone().unwrap_or_default();
    let phase = match status.phase {
        None | Some(BuildPhase::Created) => "created",
        Some(BuildPhase::Running) => "running",
        Some(BuildPhase::Complete) => "complete",
        Some(BuildPhase::Failed) => "failed",
    };
    BuildView {
        id: display_id(&build.name_any()),
        status: phase.to_string(),
        release: shown(status.release.as_ref()),
        started: status
            .started
            .map(|t| t.0)
            .or_else(|| build.creation_timestamp().map(|t| t.0)),
        ended: status.ended.map(|t| t.0),
        description: build.spec.description.clone(),
        reason: status.reason,
    }
}

/// `ID  STATUS  RELEASE  STARTED  ELAPSED  DESCRIPTION`.
pub fn builds_table(rows: &[BuildView], now: Timestamp) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|b| {
            vec![
                b.id.clone(),
                b.status.clone(),
                b.release.clone(),
                ago(b.started, now),
                elapsed(b.started, b.ended),
                b.description.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "STATUS",
            "RELEASE",
            "STARTED",
            "ELAPSED",
            "DESCRIPTION",
        ],
        &cells,
    )
}

/// `Id`, `Status`, `Release`, `Description`, `Started`, `Elapsed`, and `Reason` when it failed.
pub fn build_info_text(b: &BuildView, now: Timestamp) -> String {
    let mut rows = vec![
        ("Id", b.id.clone()),
        ("Status", b.status.clone()),
        ("Release", b.release.clone()),
        ("Description", b.description.clone()),
        ("Started", ago(b.started, now)),
        ("Elapsed", elapsed(b.started, b.ended)),
    ];
    if let Some(reason) = &b.reason {
        rows.push(("Reason", reason.clone()));
    }
    info(&rows)
}

/// A line of a followed rollout: `<RFC3339> system/k8s/<object> <note>`.
pub fn event_line(at: Option<Timestamp>, object: &str, note: &str) -> String {
    format!("{} system/k8s/{object} {}", rfc3339(at), note.trim_end())
}

/// The App YAML a GitOps user commits to promote `release` (and retry it, when asked).
pub fn gitops_snippet(app: &str, release: &str, retry: Option<i64>) -> String {
    let retry = retry.map(|r| format!("\n  retry: {r}")).unwrap_or_default();
    format!(
        "apiVersion: slipway.dev/v1alpha1\nkind: App\nmetadata:\n  name: {app}\nspec:\n  release: {release}{retry}"
    )
}
