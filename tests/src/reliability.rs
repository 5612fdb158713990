//! The reliability suite's shared parts: quick or full runs, the report in RELIABILITY.md,
//! fast polling, and the check that nothing was duplicated or orphaned.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::ResourceExt;
use kube::api::ListParams;
use slipway_crds::app::workload_name;
use slipway_crds::manifest::Manifest;
use slipway_crds::{Release, labels};

use crate::cluster::{TestNamespace, poll_every, workspace_root};

/// Environment variable that selects the full run (`full`); anything else runs the quick subset.
pub const MODE_VAR: &str = "SLIPWAY_RELIABILITY";
/// How often [`poll`] looks, so that short-lived states are seen.
const FAST_POLL: Duration = Duration::from_millis(50);
/// Deployments' `revisionHistoryLimit` as the operator renders it.
pub const REVISION_HISTORY_LIMIT: usize = 5;

/// Whether this is the full run (`make reliability`) rather than the quick subset of `make test`.
pub fn full() -> bool {
    std::env::var(MODE_VAR).is_ok_and(|v| v == "full")
}

/// All of `items` in a full run, else those whose index is in `quick`.
pub fn pick<T>(items: Vec<T>, quick: &[usize]) -> Vec<T> {
    if full() {
        return items;
    }
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| quick.contains(i))
        .map(|(_, item)| item)
        .collect()
}

/// Polls `check` every 50 ms until it returns `Ok`; panics after `timeout` with what it saw last.
pub async fn poll<T, E, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    poll_every(FAST_POLL, timeout, what, check).await
}

/// A markdown table built row by row.
#[derive(Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    /// Adds one row; `|` and newlines in cells are escaped.
    pub fn row(&mut self, cells: &[String]) {
        self.rows.push(cells.iter().map(|c| cell(c)).collect());
    }

    /// The table as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for (i, row) in self.rows.iter().enumerate() {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
            if i == 0 {
                out.push_str(&format!("|{}\n", " --- |".repeat(row.len())));
            }
        }
        out
    }
}

fn cell(text: &str) -> String {
    let one_line = text.replace('\n', " ").replace('|', "\\|");
    if one_line.chars().count() > 240 {
        format!("{}…", one_line.chars().take(240).collect::<String>())
    } else {
        one_line
    }
}

/// `yes` or `**NO**`.
pub fn verdict(pass: bool) -> String {
    if pass { "yes" } else { "**NO**" }.to_string()
}

static REPORT: Mutex<()> = Mutex::new(());

/// The report the suite writes: RELIABILITY.md at the workspace root.
pub fn report_path() -> PathBuf {
    workspace_root().join("RELIABILITY.md")
}

/// Replaces the text between the `<!-- BEGIN name -->` and `<!-- END name -->` markers of
/// RELIABILITY.md with `markdown`, appending the section if the markers are missing.
pub fn write_section(name: &str, markdown: &str) {
    let _guard = REPORT.lock().unwrap_or_else(|e| e.into_inner());
    let path = report_path();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (begin, end) = (
        format!("<!-- BEGIN {name} -->"),
        format!("<!-- END {name} -->"),
    );
    let body = format!("{begin}\n{}\n{end}", markdown.trim_end());
    let next = match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if b < e => format!("{}{body}{}", &text[..b], &text[e + end.len()..]),
        _ => format!("{}\n{body}\n", text.trim_end()),
    };
    std::fs::write(&path, next).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The release a Deployment's pod template renders.
pub fn template_release(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .labels
        .as_ref()?
        .get(labels::RELEASE)
        .cloned()
}

/// Each Deployment's generation, by name: unchanged generations mean nothing that runs moved.
pub async fn generations(ns: &TestNamespace) -> BTreeMap<String, i64> {
    let list = ns
        .api::<Deployment>()
        .list(&ListParams::default())
        .await
        .expect("list Deployments");
    list.items
        .iter()
        .map(|d| (d.name_any(), d.metadata.generation.unwrap_or(0)))
        .collect()
}

fn selector(app: &str) -> ListParams {
    ListParams::default().labels(&format!("{}={app}", labels::APP))
}

/// `Ok` when the objects of `app` are exactly those that run `release`, at rest: one Deployment
/// per service, a Service per ported service, an env Secret per release and none orphaned,
/// ReplicaSets within the history limit and owned by live Deployments, every Pod on `release`.
pub async fn objects_at_rest(ns: &TestNamespace, app: &str, release: &str) -> Result<(), String> {
    let err = |e: kube::Error| e.to_string();
    let rel = ns.api::<Release>().get(release).await.map_err(err)?;
    let manifest = Manifest::parse(&rel.spec.manifest).map_err(|e| e.to_string())?;
    let name = |s: &str| workload_name(app, s);
    let want_deployments: BTreeSet<String> = manifest.services.keys().map(|s| name(s)).collect();
    let want_services: BTreeSet<String> = manifest
        .services
        .values()
        .filter(|s| s.port.is_some())
        .map(|s| name(&s.name))
        .collect();

    let deployments = ns
        .api::<Deployment>()
        .list(&selector(app))
        .await
        .map_err(err)?;
    let have: BTreeSet<String> = deployments.items.iter().map(|d| d.name_any()).collect();
    if have != want_deployments || have.len() != deployments.items.len() {
        return Err(format!("Deployments {have:?}, want {want_deployments:?}"));
    }
    let mut replicas = 0;
    for d in &deployments.items {
        if template_release(d).as_deref() != Some(release) {
            return Err(format!(
                "Deployment {} renders {:?}",
                d.name_any(),
                template_release(d)
            ));
        }
        replicas += d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    }
    let services = ns
        .api::<Service>()
        .list(&selector(app))
        .await
        .map_err(err)?;
    let have: BTreeSet<String> = services.items.iter().map(|s| s.name_any()).collect();
    if have != want_services {
        return Err(format!("Services {have:?}, want {want_services:?}"));
    }
    env_secrets(ns, app).await?;
    replica_sets(ns, app, release, &deployments.items).await?;

    let pods = ns.api::<Pod>().list(&selector(app)).await.map_err(err)?;
    let live: Vec<&Pod> = pods
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let stray: Vec<String> = live
        .iter()
        .filter(|p| p.labels().get(labels::RELEASE).map(String::as_str) != Some(release))
        .map(|p| p.name_any())
        .collect();
    if !stray.is_empty() || live.len() as i32 != replicas {
        return Err(format!(
            "{} pods for {replicas} replicas; not on {release}: {stray:?}",
            live.len()
        ));
    }
    Ok(())
}

/// Every Release of `app` has its env Secret, and every env Secret of `app` has a Release.
pub async fn env_secrets(ns: &TestNamespace, app: &str) -> Result<(), String> {
    let err = |e: kube::Error| e.to_string();
    let releases = ns
        .api::<Release>()
        .list(&ListParams::default().fields(&format!("spec.app={app}")))
        .await
        .map_err(err)?;
    let secrets = ns.api::<Secret>().list(&selector(app)).await.map_err(err)?;
    let secret_names: BTreeSet<String> = secrets.items.iter().map(|s| s.name_any()).collect();
    let release_names: BTreeSet<String> = releases.items.iter().map(|r| r.name_any()).collect();
    for r in &releases.items {
        if let Some(reference) = &r.spec.env_secret
            && !secret_names.contains(&reference.name)
        {
            return Err(format!(
                "Release {} lacks its Secret {}",
                r.name_any(),
                reference.name
            ));
        }
    }
    // A Secret may be shared by releases that kept the same env: it is orphaned only when no
    // Release names it and the release it was made for is gone.
    let referenced: BTreeSet<&str> = releases
        .items
        .iter()
        .filter_map(|r| r.spec.env_secret.as_ref().map(|e| e.name.as_str()))
        .collect();
    for s in &secrets.items {
        if let Some(owner) = s.labels().get(labels::RELEASE)
            && !release_names.contains(owner)
            && !referenced.contains(s.name_any().as_str())
            && s.metadata.deletion_timestamp.is_none()
        {
            return Err(format!(
                "Secret {} is orphaned: Release {owner} is gone",
                s.name_any()
            ));
        }
    }
    Ok(())
}

async fn replica_sets(
    ns: &TestNamespace,
    app: &str,
    release: &str,
    deployments: &[Deployment],
) -> Result<(), String> {
    let sets = ns
        .api::<ReplicaSet>()
        .list(&selector(app))
        .await
        .map_err(|e| e.to_string())?;
    let mut per_deployment: BTreeMap<String, usize> = BTreeMap::new();
    for rs in &sets.items {
        let owner = rs
            .owner_references()
            .iter()
            .find(|o| o.kind == "Deployment")
            .and_then(|o| {
                deployments
                    .iter()
                    .find(|d| d.metadata.uid.as_deref() == Some(o.uid.as_str()))
            });
        let Some(owner) = owner else {
            return Err(format!(
                "ReplicaSet {} has no live Deployment",
                rs.name_any()
            ));
        };
        *per_deployment.entry(owner.name_any()).or_default() += 1;
        let scaled = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 0;
        let rs_release = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
            .and_then(|l| l.get(labels::RELEASE));
        if scaled && rs_release.map(String::as_str) != Some(release) {
            return Err(format!(
                "ReplicaSet {} of {rs_release:?} still has replicas",
                rs.name_any()
            ));
        }
    }
    match per_deployment
        .iter()
        .find(|(_, n)| **n > REVISION_HISTORY_LIMIT + 1)
    {
        Some((d, n)) => Err(format!("Deployment {d} has {n} ReplicaSets")),
        None => Ok(()),
    }
}

/// Replaces `ns` in `text` with `<ns>`, so reports do not change from run to run.
pub fn scrub(text: &str, ns: &str) -> String {
    text.replace(ns, "<ns>")
}

/// Replaces generated release IDs (`R` and ten letters, in either case) other than `keep` with
/// `RXXXXXXXXXX`, so reports do not change from run to run.
pub fn scrub_ids(text: &str, keep: &[&str]) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let generated = word.len() == 11
            && (word.starts_with('R') && word[1..].chars().all(|c| c.is_ascii_uppercase())
                || word.starts_with('r') && word[1..].chars().all(|c| c.is_ascii_lowercase()));
        let kept = keep.iter().any(|k| k.eq_ignore_ascii_case(word));
        if generated && !kept {
            let x = if word.starts_with('R') {
                "RXXXXXXXXXX"
            } else {
                "rxxxxxxxxxx"
            };
            out.push_str(x);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// What the API server holds of `app`'s rollout, in one line per object (Deployments, their
/// ReplicaSets, Pods), so a wait that times out tells a stuck cluster from a stuck operator.
pub async fn rollout_picture(ns: &TestNamespace, app: &str) -> String {
    let mut lines = vec![];
    if let Ok(list) = ns.api::<Deployment>().list(&selector(app)).await {
        for d in &list.items {
            let s = d.status.clone().unwrap_or_default();
            lines.push(format!(
                "Deployment {} gen {} observed {:?} renders {:?}: want {:?}, replicas {:?} updated {:?} ready {:?} available {:?} terminating {:?}",
                d.name_any(),
                d.metadata.generation.unwrap_or(0),
                s.observed_generation,
                template_release(d),
                d.spec.as_ref().and_then(|s| s.replicas),
                s.replicas,
                s.updated_replicas,
                s.ready_replicas,
                s.available_replicas,
                s.terminating_replicas,
            ));
        }
    }
    if let Ok(list) = ns.api::<ReplicaSet>().list(&selector(app)).await {
        for r in &list.items {
            let s = r.status.clone().unwrap_or_default();
            lines.push(format!(
                "ReplicaSet {} rv {:?}: want {:?}, replicas {} ready {:?} available {:?} terminating {:?} observed {:?}",
                r.name_any(),
                r.metadata.resource_version,
                r.spec.as_ref().and_then(|s| s.replicas),
                s.replicas,
                s.ready_replicas,
                s.available_replicas,
                s.terminating_replicas,
                s.observed_generation,
            ));
        }
    }
    if let Ok(list) = ns.api::<Pod>().list(&selector(app)).await {
        for p in &list.items {
            lines.push(format!(
                "Pod {} rv {:?}: phase {:?}, ready {}, deleting {}",
                p.name_any(),
                p.metadata.resource_version,
                p.status.as_ref().and_then(|s| s.phase.clone()),
                crate::cluster::pod_ready(p),
                p.metadata.deletion_timestamp.is_some(),
            ));
        }
    }
    lines.join("\n  ")
}
