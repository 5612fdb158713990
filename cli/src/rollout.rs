//! Promotion: writing App.spec.release (server-side apply, field manager `convox`), refusing
//! to fight a GitOps tool that owns it, and following the rollout live until it ends.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use slipway_crds::app::workload_name;
use slipway_crds::conditions;
use slipway_crds::id::display_id;
use slipway_crds::labels::CLI_MANAGER;
use slipway_crds::manifest::Manifest;
use slipway_crds::{App, AppPhase, Release};

use crate::args::PromoteOpts;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::output::Term;
use crate::output::views::{event_line, gitops_snippet};
use crate::{diagnose, store};

/// How long events keep being printed after the outcome is known, so the last ones show.
const DRAIN: Duration = Duration::from_millis(1500);

/// A promotion written to the App, ready to be followed.
pub struct Started {
    target: String,
    generation: i64,
    deployments: Vec<String>,
    seen: Option<HashMap<String, String>>,
    timeout: Duration,
}

/// The field manager, other than this CLI and kubectl, that owns `spec.release`, if any.
pub fn foreign_release_owner(app: &App) -> Option<String> {
    foreign_owner(app, "/f:spec/f:release")
}

/// The field manager, other than this CLI and kubectl, that owns the managedFields `pointer`.
pub fn foreign_owner(app: &App, pointer: &str) -> Option<String> {
    app.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|entry| {
            entry
                .fields_v1
                .as_ref()
                .is_some_and(|fields| fields.0.pointer(pointer).is_some())
        })
        .filter_map(|entry| entry.manager.clone())
        .find(|manager| manager != CLI_MANAGER && !manager.starts_with("kubectl"))
}

/// The spec.retry to write when promoting `release`: one more when it is the failed release.
pub fn next_retry(app: &App, release: &str) -> Option<i64> {
    let failed = app.status.as_ref().and_then(|s| s.failed_release.as_ref());
    match failed {
        Some(f) if f.release == release => Some(f.retry.unwrap_or(0) + 1),
        _ => app.spec.retry,
    }
}

/// The outcome of a rollout as the App shows it, once it is known.
pub fn judge(app: &App, target: &str, generation: i64) -> Option<Result<()>> {
    if app.spec.release.as_deref() != Some(target) {
        return Some(Err(Error::Superseded {
            target: display_id(target),
            other: app
                .spec
                .release
                .as_deref()
                .map(display_id)
                .unwrap_or_else(|| "nothing".into()),
        }));
    }
    let status = app.status.as_ref()?;
    // A status older than the promotion describes the release before it.
    if status
        .observed_generation
        .is_some_and(|observed| observed < generation)
    {
        return None;
    }
    if status.release.as_deref() == Some(target) && status.phase == Some(AppPhase::Running) {
        return Some(Ok(()));
    }
    match &status.failed_release {
        Some(f) if f.release == target && f.retry == app.spec.retry => Some(Err(Error::RolledBack)),
        // The operator says at once that it cannot use the release: waiting would only time out.
        _ => conditions::find(&status.conditions, conditions::READY)
            .filter(|c| c.reason == conditions::reason::INVALID_RELEASE)
            .map(|c| Err(Error::InvalidRelease(c.message.clone()))),
    }
}

/// The name to show for an event's object, when it is about the App or its workloads.
pub fn event_object(event: &Event, app: &str, deployments: &[String]) -> Option<String> {
    let regarding = event.regarding.as_ref()?;
    let name = regarding.name.as_deref()?;
    // `<deployment>-run-<5>` is a `convox run` process, not part of the rollout: a ReplicaSet's
    // pod-template-hash never spells `run` (its alphabet has no vowels).
    let owned = |name: &str| {
        deployments.iter().any(|d| {
            name.strip_prefix(&format!("{d}-"))
                .is_some_and(|rest| !rest.starts_with("run-"))
        })
    };
    match regarding.kind.as_deref()? {
        "App" if name == app => Some(format!("app/{app}")),
        "Deployment" if deployments.iter().any(|d| d == name) => Some(name.to_string()),
        "ReplicaSet" | "Pod" if owned(name) => Some(name.to_string()),
        _ => None,
    }
}

/// When an event last happened: its series' last occurrence, else its own time.
pub fn event_time(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .map(|s| s.last_observed_time.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.deprecated_last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.creation_timestamp().map(|t| t.0))
}

/// Deployments of the app: those the release renders and those running now.
pub fn deployment_names(app: &App, release: &Release) -> Vec<String> {
    let name = app.name_any();
    let mut services: Vec<String> = Manifest::parse(&release.spec.manifest)
        .map(|m| m.services.into_keys().collect())
        .unwrap_or_default();
    services.extend(
        app.status
            .iter()
            .flat_map(|s| s.services.iter().map(|s| s.name.clone())),
    );
    services.sort();
    services.dedup();
    services
        .into_iter()
        .map(|s| workload_name(&name, &s))
        .collect()
}

/// Points spec.release at `release`, after the GitOps check; only later events are shown.
pub async fn start(ctx: &Ctx, release: &Release, opts: &PromoteOpts) -> Result<Started> {
    let app = store::get_app(ctx).await?;
    let target = release.name_any();
    let retry = next_retry(&app, &target);
    if !opts.force
        && let Some(manager) = foreign_release_owner(&app)
    {
        let changed_retry = retry.filter(|r| Some(*r) != app.spec.retry);
        return Err(Error::ManagedElsewhere {
            field: "spec.release".to_string(),
            app: ctx.app.clone(),
            manager,
            snippet: gitops_snippet(&ctx.app, &target, changed_retry),
        });
    }
    let seen = event_versions(ctx).await;
    let generation = apply(ctx, &target, retry).await?;
    Ok(Started {
        deployments: deployment_names(&app, release),
        target,
        generation,
        seen,
        timeout: opts.timeout.unwrap_or_else(|| default_timeout(&app)),
    })
}

/// Twice the app's progress deadline plus a minute: time to fail, and to roll back.
fn default_timeout(app: &App) -> Duration {
    let deadline = u64::try_from(app.spec.progress_deadline()).unwrap_or(600);
    Duration::from_secs(2 * deadline + 60)
}

/// Writes spec.release (and spec.retry) by server-side apply; returns the App's generation.
async fn apply(ctx: &Ctx, target: &str, retry: Option<i64>) -> Result<i64> {
    let mut spec = json!({ "release": target });
    if let Some(retry) = retry {
        // Always sent once known: a field this manager owns and omits would be removed.
        spec["retry"] = json!(retry);
    }
    let body = json!({
        "apiVersion": "slipway.dev/v1alpha1",
        "kind": "App",
        "metadata": { "name": ctx.app },
        "spec": spec,
    });
    // Forced: the ownership check above already decided that taking the field is right.
    let params = PatchParams::apply(CLI_MANAGER).force();
    let app = ctx
        .apps()
        .patch(&ctx.app, &params, &Patch::Apply(&body))
        .await
        .map_err(|err| Error::kube(format!("promoting {}", display_id(target)), err))?;
    Ok(app.metadata.generation.unwrap_or(0))
}

/// The namespace's events now (UID to resourceVersion), or None when events cannot be read.
async fn event_versions(ctx: &Ctx) -> Option<HashMap<String, String>> {
    match ctx.events().list_metadata(&ListParams::default()).await {
        Ok(list) => Some(
            list.items
                .into_iter()
                .filter_map(|e| Some((e.metadata.uid?, e.metadata.resource_version?)))
                .collect(),
        ),
        Err(err) => {
            eprintln!(
                "WARNING: {}; following the app status only",
                Error::kube("reading events", err)
            );
            None
        }
    }
}

/// Follows a promotion (printing new events when `stream`) until it is active or rolled back.
pub async fn follow(ctx: &Ctx, term: &mut Term, started: Started, stream: bool) -> Result<()> {
    let by_name = watcher::Config::default().fields(&format!("metadata.name={}", ctx.app));
    let mut apps = watcher(ctx.apps(), by_name).default_backoff().boxed();
    let mut events = match (&started.seen, stream) {
        (Some(_), true) => watcher(ctx.events(), watcher::Config::default())
            .default_backoff()
            .boxed(),
        _ => futures::stream::pending().boxed(),
    };
    // The target's pods, so that why it failed is known before the rollback removes them.
    let by_release =
        watcher::Config::default().labels(&diagnose::selector(&ctx.app, &started.target));
    let mut pods = match stream {
        true => watcher(ctx.pods(), by_release).default_backoff().boxed(),
        false => futures::stream::pending().boxed(),
    };
    let mut trouble = diagnose::Trouble::default();
    let mut seen = started.seen.clone().unwrap_or_default();
    let mut printed = HashSet::new();
    let what = display_id(&started.target);
    let deadline = tokio::time::sleep(started.timeout);
    let drain = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(deadline, drain, interrupt);
    let mut outcome: Option<Result<()>> = None;
    loop {
        tokio::select! {
            item = apps.next(), if outcome.is_none() => match item {
                Some(Ok(watcher::Event::Apply(app) | watcher::Event::InitApply(app))) => {
                    if let Some(result) = judge(&app, &started.target, started.generation) {
                        if !stream {
                            return result;
                        }
                        outcome = Some(result);
                        drain.as_mut().reset(tokio::time::Instant::now() + DRAIN);
                    }
                }
                Some(Ok(watcher::Event::Delete(_))) => return Err(Error::NoSuchApp(ctx.app.clone())),
                Some(Ok(_)) => {}
                Some(Err(err)) if err.to_string().contains("forbidden") => {
                    return Err(Error::Forbidden(err.to_string()));
                }
                // The watcher backs off and retries; the deadline bounds the wait.
                Some(Err(_)) => {}
                None => return Err(Error::Unreachable("the watch on the app ended".into())),
            },
            Some(item) = events.next() => {
                if let Ok(watcher::Event::Apply(event) | watcher::Event::InitApply(event)) = item {
                    // A repeated event is the same object with a higher series count: a new
                    // version of it after the promotion started is a new occurrence.
                    let key = (event.uid().unwrap_or_default(), event.resource_version().unwrap_or_default());
                    if seen.insert(key.0, key.1.clone()).as_ref() != Some(&key.1)
                        && let Some(object) = event_object(&event, &ctx.app, &started.deployments)
                    {
                        let note = event.note.clone().unwrap_or_default();
                        let line = event_line(event_time(&event), &object, &note);
                        // Updates that change nothing shown (series bumps in one second) print once.
                        if printed.insert(line.clone()) {
                            term.line(&line);
                        }
                    }
                }
            },
            Some(item) = pods.next() => {
                if let Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) = item {
                    trouble.see(ctx, pod, &started.target);
                }
            },
            _ = &mut drain, if outcome.is_some() => break,
            _ = &mut deadline, if outcome.is_none() => {
                return Err(Error::Timeout { after: started.timeout, what: format!("the rollout of {what}") });
            },
            _ = &mut interrupt => return Err(Error::Interrupted(format!("the rollout of {what}"))),
        }
    }
    let outcome = outcome.unwrap_or(Ok(()));
    if matches!(outcome, Err(Error::RolledBack)) {
        // Beyond Convox: why it was rolled back, before the error, so no second command is needed.
        trouble.explain(ctx, term, &started.target).await;
    }
    outcome
}

/// `Promoting R... ` then the rollout and `OK` when streaming, or `OK` on the same line.
pub async fn promote(
    ctx: &Ctx,
    term: &mut Term,
    release: &Release,
    opts: &PromoteOpts,
    stream: bool,
) -> Result<()> {
    announce(term, &display_id(&release.name_any()), stream);
    let started = start(ctx, release, opts).await?;
    follow(ctx, term, started, stream).await?;
    term.ok();
    Ok(())
}

/// `Promoting R... `, and the newline before the stream when it streams.
// Convox writes it before the promote call: a release that turns out missing leaves the line.
pub fn announce(term: &mut Term, id: &str, stream: bool) {
    term.start(&format!("Promoting {id}"));
    if stream {
        term.text("\n");
    }
}

/// Whether a rollout is in flight: Convox waits for the app to be ready before promoting.
pub fn busy(app: &App) -> bool {
    let status = app.status.clone().unwrap_or_default();
    status.rollout.is_some()
        || matches!(
            status.phase,
            Some(AppPhase::Updating | AppPhase::RollingBack)
        )
}

/// `Waiting for app to be ready... OK`: waits until no rollout is in flight.
pub async fn wait_ready(ctx: &Ctx, term: &mut Term, opts: &PromoteOpts) -> Result<()> {
    let app = store::get_app(ctx).await?;
    if !busy(&app) {
        return Ok(());
    }
    term.start("Waiting for app to be ready");
    let timeout = opts.timeout.unwrap_or_else(|| default_timeout(&app));
    let by_name = watcher::Config::default().fields(&format!("metadata.name={}", ctx.app));
    let mut apps = watcher(ctx.apps(), by_name).default_backoff().boxed();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            item = apps.next() => match item {
                Some(Ok(watcher::Event::Apply(app) | watcher::Event::InitApply(app))) if !busy(&app) => break,
                Some(Ok(watcher::Event::Delete(_))) => return Err(Error::NoSuchApp(ctx.app.clone())),
                Some(_) => {}
                None => return Err(Error::Unreachable("the watch on the app ended".into())),
            },
            _ = &mut deadline => {
                return Err(Error::Timeout { after: timeout, what: format!("app {} to be ready", ctx.app) });
            }
        }
    }
    term.ok();
    Ok(())
}

#[cfg(test)]
mod tests;
