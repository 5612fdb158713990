//! The App controller: make the release named by `App.spec.release` real, and report what runs.
//!
//! Each pass: choose (resolve the desired release, decide, resolve the target) -> converge
//! (render, apply, observe the rollout) -> report (status, Events, promotions) -> clean up.

mod apply;
mod autoscale;
mod choose;
mod cleanup;
mod converge;
mod decide;
mod drift;
mod error;
#[cfg(test)]
mod fixtures;
mod plan;
mod render;
mod report;
mod resolve;
mod rollout;
mod status;
mod stores;
#[cfg(test)]
mod tests;
mod written;

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::utils::PredicateConfig;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};
use slipway_crds::app::AppStatus;
use slipway_crds::{App, Release, builder, labels, pods};

use crate::context::Context;
use crate::watch;
use choose::Choice;
use decide::Mode;
pub use error::AppError;
use report::StatusWrite;
use resolve::{Resolution, Resolutions};
use rollout::RolloutState;
use status::{Observation, Report};

/// How often a converged App is looked at again.
const RESYNC: Duration = Duration::from_secs(300);
/// How often an App is looked at while something moves or waits.
const WHILE_MOVING: Duration = Duration::from_secs(10);

/// Objects per page of a watch's first list.
const WATCH_PAGE: u32 = 100;

/// What App reconciles share: the operator's context, the stores of what runs, the releases
/// resolved lately and the statuses written last.
struct AppContext {
    ctx: Arc<Context>,
    stores: stores::Stores,
    resolutions: Arc<Resolutions>,
    written: written::Written,
}

/// The Release watch the App controller shares: the store it fills, and where it sends every
/// Release it sees (trimmed) for the env owner controller.
pub struct ReleaseWatch {
    /// The Releases to watch.
    pub api: Api<Release>,
    /// Fills the store both controllers read.
    pub writer: reflector::store::Writer<Release>,
    /// Where each Release seen goes, for the env owner controller.
    pub seen: futures::channel::mpsc::UnboundedSender<Release>,
}

/// Runs the App controller over `api` until shutdown, reconciling at most `concurrency` Apps at once.
pub async fn run(
    ctx: Arc<Context>,
    concurrency: u16,
    apps: Api<App>,
    releases: ReleaseWatch,
    deployments: Api<Deployment>,
    services: Api<Service>,
    pods: Api<Pod>,
) {
    // Small pages: a first list of 500 Pods, parsed whole, was most of the operator's peak memory.
    let paged = watcher::Config::default().page_size(WATCH_PAGE);
    let managed = paged.clone().labels(&format!(
        "{}={}",
        labels::MANAGED_BY,
        labels::MANAGED_BY_SLIPWAY
    ));
    // Unbounded, a thousand Apps meant a thousand reconciles at once: as many connections,
    // memory for each, and API server timeouts (504) under the burst.
    let config = controller::Config::default().concurrency(concurrency);
    // The watches that trigger reconciles also keep what runs in memory, for reconcile to read.
    let (deployment_store, writer) = reflector::store();
    let deployment_events = watcher(deployments, managed.clone())
        .modify(stores::keep_foreign_spec_edits)
        .reflect(writer)
        .backoff(watch::Quick::default())
        .touched_objects();
    let (service_store, writer) = reflector::store();
    let service_events = watcher(services, managed.clone())
        .modify(stores::keep_foreign_spec_edits)
        .reflect(writer)
        .backoff(watch::Quick::default())
        .touched_objects();
    let resolutions = Arc::new(Resolutions::default());
    let forget = resolutions.clone();
    let release_store = releases.writer.as_reader();
    let seen = releases.seen;
    let (listed, releases_listed) = futures::channel::oneshot::channel();
    let mut listed = Some(listed);
    let release_events = watcher(releases.api, paged.clone())
        .inspect_ok(move |event| match event {
            watcher::Event::Delete(release) => forget.forget(release),
            // A fresh list after a lost watch may hide deletions: start over.
            watcher::Event::Init => forget.clear(),
            watcher::Event::InitDone => {
                if let Some(listed) = listed.take() {
                    let _ = listed.send(());
                }
            }
            _ => {}
        })
        .modify(stores::trim_release)
        .reflect(releases.writer)
        .backoff(watch::Quick::default())
        .touched_objects()
        .inspect_ok(move |release| {
            // Closed only when the env owner controller stopped: the operator is stopping.
            let _ = seen.unbounded_send(release.clone());
        });
    let (pod_store, writer) = reflector::store();
    let pod_events = watcher(pods, managed)
        .modify(stores::trim_pod)
        .reflect(writer)
        .backoff(watch::Quick::default())
        .touched_objects();
    let metrics = ctx.metrics.clone();
    let ctx = Arc::new(AppContext {
        ctx,
        stores: stores::Stores::new(
            deployment_store,
            service_store,
            release_store,
            pod_store,
            releases_listed.map(|_| ()).boxed(),
        ),
        resolutions,
        written: Default::default(),
    });
    // Apps are kept without managedFields: reconcile never reads them, and they weighed most.
    let (app_store, writer) = reflector::store();
    let app_events = watcher(apps, paged.clone())
        .modify(|app: &mut App| app.managed_fields_mut().clear())
        .reflect(writer)
        .backoff(watch::Quick::default())
        .touched_objects()
        // The operator's own status writes bring no pass: the pass that wrote knew what it wrote.
        .predicate_filter(intent, PredicateConfig::default());
    metrics.report_apps(app_store.clone());
    Controller::for_stream(
        watch::without_errors(app_events, "apps", metrics.clone()),
        app_store,
    )
    .with_config(config)
    .trigger_backoff(watch::Quick::default())
    .owns_stream(watch::without_errors(
        deployment_events,
        "deployments",
        metrics.clone(),
    ))
    .owns_stream(watch::without_errors(
        service_events,
        "services",
        metrics.clone(),
    ))
    .watches_stream(
        watch::without_errors(release_events, "releases", metrics.clone()),
        |release: Release| {
            let namespace = release.namespace().unwrap_or_default();
            Some(ObjectRef::new(&release.spec.app).within(&namespace))
        },
    )
    .watches_stream(
        watch::without_errors(pod_events, "pods", metrics.clone()),
        |pod: Pod| {
            // Every change of every pod made a reconcile; a healthy pod's progress arrives
            // through its Deployment's status, so only trouble needs a look of its own.
            if !pods::in_trouble(&pod) && !pods::lacks_its_config(&pod) {
                return None;
            }
            let namespace = pod.namespace().unwrap_or_default();
            pod.labels()
                .get(labels::APP)
                .map(|app| ObjectRef::new(app).within(&namespace))
        },
    )
    .shutdown_on_signal()
    .run(reconcile, error_policy, ctx)
    .for_each(|_| futures::future::ready(()))
    .await;
}

/// What a person asked of an App: its identity, spec, labels and annotations (the env head
/// among them), hashed. The status is not in it: it is the operator's own answer.
fn intent(app: &App) -> Option<u64> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    app.uid().hash(&mut hasher);
    app.metadata.generation.hash(&mut hasher);
    app.labels().hash(&mut hasher);
    app.annotations().hash(&mut hasher);
    app.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

#[tracing::instrument(skip_all, fields(app = %app.name_any(), namespace = app.namespace().unwrap_or_default()))]
async fn reconcile(app: Arc<App>, ctx: Arc<AppContext>) -> Result<Action, AppError> {
    let started = Instant::now();
    // Never decide from a status older than the one this process wrote last.
    let app = ctx.written.fresher(&app);
    let result = reconcile_app(&app, &ctx).await;
    ctx.ctx.metrics.reconciled("app", started.elapsed());
    result
}

async fn reconcile_app(app: &App, shared: &AppContext) -> Result<Action, AppError> {
    let namespace = app.namespace().ok_or(AppError::MissingField("namespace"))?;
    shared.stores.ready().await;
    let live = shared.stores.live(&namespace, &app.name_any());
    let choice = choose::choose(app, shared, &namespace, &live).await?;
    let converged = match &choice.target {
        Some(Resolution::Usable(target)) => {
            Some(converge::converge(app, shared, &namespace, target, &live).await?)
        }
        _ => None,
    };
    let seen = Observation {
        mode: choice.mode.clone(),
        invalid: choice.invalid.clone(),
        // What runs, even when nothing could be rendered: status keeps telling the truth.
        services: match &converged {
            Some((_, services)) => services.clone(),
            None => live
                .deployments
                .iter()
                .map(converge::service_status)
                .collect(),
        },
        state: converged.map(|(state, _)| state),
        repository: shared
            .ctx
            .builder
            .as_ref()
            .map(|b| builder::repository(&b.registry, &namespace, &app.name_any())),
    };
    let report = status::report(app, &seen, &Time(jiff::Timestamp::now()));
    let written = report::save(app, shared, &report).await?;
    clean_up(app, shared, &namespace, &report.status, &choice).await?;
    tracing::info!(phase = ?report.status.phase, release = ?report.status.release, "Reconciled");
    Ok(next_look(app, &seen, &report, written))
}

/// Deletes the App's releases beyond its history limit.
// Level-triggered: on every pass while expired releases exist, not only on the pass that
// recorded a promotion (a kill in between left them for good on a quiet app).
async fn clean_up(
    app: &App,
    shared: &AppContext,
    namespace: &str,
    next: &AppStatus,
    choice: &Choice,
) -> Result<(), AppError> {
    let before = app.status.clone().unwrap_or_default();
    let releases = shared.stores.releases(namespace, &app.name_any());
    let in_use = choice.secret_in_use();
    let client = &shared.ctx.client;
    cleanup::releases(client, namespace, app, &[&before, next], releases, in_use).await
}

/// When to look at the App again.
fn next_look(app: &App, seen: &Observation, report: &Report, written: StatusWrite) -> Action {
    if let StatusWrite::Held(wait) = written {
        return Action::requeue(wait);
    }
    // What this pass wrote changes what the next one does (a failed release is rolled back):
    // its own status write brings no pass, so it is asked for here.
    let spec = &app.spec;
    if written == StatusWrite::Saved
        && decide::decide(spec, &report.status, seen.invalid.is_none()) != seen.mode
    {
        return Action::requeue(Duration::ZERO);
    }
    let moving = !matches!(seen.state, Some(RolloutState::Complete))
        && !matches!(seen.mode, Mode::Idle | Mode::Stuck(_));
    Action::requeue(if moving { WHILE_MOVING } else { RESYNC })
}

fn error_policy(app: Arc<App>, error: &AppError, ctx: Arc<AppContext>) -> Action {
    ctx.ctx.metrics.failed("app", error.step());
    let cause = std::error::Error::source(error).map(ToString::to_string);
    tracing::warn!(app = %app.name_any(), error = %error, cause, "Reconcile failed");
    Action::requeue(error.retry_after())
}
