//! The release views: `releases`, `releases info` and `env`, with masking.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;
use slipway_crds::id::display_id;
use slipway_crds::{App, Release};

use super::table::{info, table};
use super::time::{ago, rfc3339};
use super::views::shown;

/// One row of `convox releases`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ReleaseRow {
    /// Release ID.
    pub id: String,
    /// `active`, `updating`, `failed` or empty.
    pub status: String,
    /// Build ID.
    pub build: String,
    /// When it was made.
    pub created: Option<Timestamp>,
    /// What it is.
    pub description: String,
}

/// When a release was made: its stamp, else its creationTimestamp.
pub fn release_created(release: &Release) -> Option<Timestamp> {
    release
        .spec
        .created
        .as_deref()
        .and_then(|s| s.parse().ok())
        .or_else(|| release.creation_timestamp().map(|t| t.0))
}

/// `active` for the serving release, `updating` for the one rolling out, `failed` for the failed one.
pub fn release_status(name: &str, app: &App) -> &'static str {
    let status = app.status.clone().unwrap_or_default();
    if status.release.as_deref() == Some(name) {
        "active"
    } else if status.rollout.is_some_and(|r| r.release == name) {
        "updating"
    } else if status.failed_release.is_some_and(|f| f.release == name) {
        "failed"
    } else {
        ""
    }
}

/// The `releases` row of a Release.
pub fn release_row(release: &Release, app: &App) -> ReleaseRow {
    let name = release.name_any();
    ReleaseRow {
        id: display_id(&name),
        status: release_status(&name, app).to_string(),
        build: shown(release.spec.build.as_ref()),
        created: release_created(release),
        description: release.spec.description.clone(),
    }
}

/// `ID  STATUS  BUILD  CREATED  DESCRIPTION`.
pub fn releases_table(rows: &[ReleaseRow], now: Timestamp) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.status.clone(),
                r.build.clone(),
                ago(r.created, now),
                r.description.clone(),
            ]
        })
        .collect();
    table(&["ID", "STATUS", "BUILD", "CREATED", "DESCRIPTION"], &cells)
}

/// `convox releases info`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ReleaseInfo {
    /// Release ID.
    pub id: String,
    /// Build ID.
    pub build: String,
    /// When it was made.
    pub created: Option<Timestamp>,
    /// What it is.
    pub description: String,
    /// Its environment, masked where asked.
    pub env: BTreeMap<String, String>,
}

/// The value shown in place of a masked one.
pub const MASK: &str = "****";

/// The environment with the values of `mask` keys replaced by `****`.
pub fn masked(env: &BTreeMap<String, String>, mask: &[String]) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| {
            let value = if mask.contains(k) {
                MASK.to_string()
            } else {
                v.clone()
            };
            (k.clone(), value)
        })
        .collect()
}

/// The `releases info` view of a Release and its environment.
pub fn release_info(
    release: &Release,
    env: &BTreeMap<String, String>,
    mask: &[String],
) -> ReleaseInfo {
    ReleaseInfo {
        id: display_id(&release.name_any()),
        build: shown(release.spec.build.as_ref()),
        created: release_created(release),
        description: release.spec.description.clone(),
        env: masked(env, mask),
    }
}

/// `Id`, `Build`, `Created` (RFC 3339), `Description`, `Env` (the stored text form).
pub fn release_info_text(view: &ReleaseInfo) -> String {
    info(&[
        ("Id", view.id.clone()),
        ("Build", view.build.clone()),
        ("Created", rfc3339(view.created)),
        ("Description", view.description.clone()),
        ("Env", slipway_crds::env::to_text(&view.env)),
    ])
}

/// `convox env`: `KEY=VALUE` lines sorted by the whole line; one empty line for no env (Convox).
pub fn env_text(env: &BTreeMap<String, String>) -> String {
    let mut lines: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    lines.sort();
    format!("{}\n", lines.join("\n"))
}
