//! The App controller: make the release named by `App.spec.release` real, and report what runs.
//!
//! Pipeline: resolve -> decide -> render -> apply -> observe rollout -> status.

mod apply;
mod autoscale;
mod cleanup;
mod counted;
mod decide;
mod drift;
#[cfg(test)]
mod fixtures;
mod plan;
mod render;
mod resolve;
mod rollout;
mod status;
mod written;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ListParams;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Resource, ResourceExt};
use slipway_crds::app::ServiceStatus;
use slipway_crds::{App, Release, builder, labels};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::watch;
use decide::Mode;
use rollout::RolloutState;
use status::Observation;

/// How often a converged App is looked at again.
const RESYNC: Duration = Duration::from_secs(300);
/// How often an App is looked at while something moves or waits.
const WHILE_MOVING: Duration = Duration::from_secs(10);

/// Objects per page of a watch's first list.
const WATCH_PAGE: u32 = 100;

/// What App reconciles share: the operator's context, the stores of what runs, and the
/// promotions already counted.
struct AppContext {
    ctx: Arc<Context>,
    stores: apply::Stores,
    counted: counted::Counted,
    written: written::Written,
}

/// Runs the App controller over `api` until shutdown, reconciling at most `concurrency` Apps at once.
pub async fn run(
    ctx: Arc<Context>,
    concurrency: u16,
    apps: Api<App>,
    releases: Api<Release>,
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
        .modify(apply::keep_foreign_spec_edits)
        .reflect(writer)
        .backoff(watch::Quick::default())
        .touched_objects();
    let (service_store, writer) = reflector::store();
    let service_events = watcher(services, managed.clone())
        .modify(apply::keep_foreign_spec_edits)
        .reflect(writer)
        .backoff(watch::Quick::default())
        .touched_objects();
    let (release_store, writer) = reflector::store();
    let release_events = watcher(releases, paged.clone())
        .modify(apply::trim_release)
        .reflect(writer)
        .backoff(watch::Quick::default())
        .touched_objects();
    let metrics = ctx.metrics.clone();
    let ctx = Arc::new(AppContext {
        ctx,
        stores: apply::Stores::new(deployment_store, service_store, release_store),
        counted: Default::default(),
        written: Default::default(),
    });
    // Apps are kept without managedFields: reconcile never reads them, and they weighed most.
    let (app_store, writer) = reflector::store();
    let app_events = watcher(apps, paged.clone())
        .modify(|app: &mut App| app.managed_fields_mut().clear())
        .reflect(writer)
        .backoff(watch::Quick::default())
        .touched_objects();
    metrics.report_apps(app_store.clone());
    let pod_events = watcher(pods, managed)
        .backoff(watch::Quick::default())
        .touched_objects();
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
            if !rollout::in_trouble(&pod) && !lacks_its_config(&pod) {
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

#[tracing::instrument(skip_all, fields(app = %app.name_any(), namespace = app.namespace().unwrap_or_default()))]
async fn reconcile(app: Arc<App>, ctx: Arc<AppContext>) -> Result<Action> {
    let started = Instant::now();
    // Never decide from a status older than the one this process wrote last.
    let app = ctx.written.fresher(&app);
    let result = reconcile_app(&app, &ctx).await;
    ctx.ctx.metrics.reconciled("app", started.elapsed());
    result
}

async fn reconcile_app(app: &App, shared: &AppContext) -> Result<Action> {
    let (ctx, stores) = (&*shared.ctx, &shared.stores);
    let client = &ctx.client;
    let namespace = app.namespace().ok_or(Error::MissingField("namespace"))?;
    let name = app.name_any();
    let deadline = app.spec.progress_deadline();
    let status = app.status.clone().unwrap_or_default();

    // Resolve the desired release, take what runs from the watches, then decide what to render.
    let resolving = async {
        match &app.spec.release {
            Some(r) => Ok(Some(
                resolve::resolve(ctx, &namespace, &name, r, deadline).await?,
            )),
            None => Ok::<_, Error>(None),
        }
    };
    stores.ready().await;
    let live = stores.live(&namespace, &name);
    let desired = resolving.await?;
    let mut invalid = desired
        .as_ref()
        .and_then(|d| d.as_ref().err())
        .map(|e| e.0.clone());
    let mode = decide::decide(&app.spec, &status, invalid.is_none());
    let target = match (mode.release(), &desired) {
        (None, _) => None,
        (Some(r), Some(Ok(d))) if d.plan.release == r => Some(Ok(d.clone())),
        (Some(r), _) => Some(resolve::resolve(ctx, &namespace, &name, r, deadline).await?),
    };
    if let Some(Err(e)) = &target {
        invalid = Some(e.0.clone());
    }

    // Render and apply the target, then observe its rollout.
    let mut state = None;
    // What runs, even when nothing can be rendered: status keeps telling the truth.
    let mut services: Vec<ServiceStatus> = live.deployments.iter().map(service_status).collect();
    if let Some(Ok(target)) = &target {
        if let Some(secret) = &target.own_secret {
            apply::ensure_secret(client, &namespace, secret, app).await?;
        }
        let owner = app
            .controller_owner_ref(&())
            .ok_or(Error::MissingField("uid"))?;
        let replicas = live_replicas(&live.deployments);
        let rendered = render::render_with(&target.plan, &owner, &replicas, &app.spec.services);
        // Services that already ran the target: a missing object of theirs was deleted by hand.
        let ran: Vec<&str> = status
            .services
            .iter()
            .filter(|s| s.release.as_deref() == Some(target.plan.release.as_str()))
            .map(|s| s.name.as_str())
            .collect();
        let applied = apply::apply(client, &namespace, &rendered, &live, &ran).await?;
        publish_restored(ctx, app, &applied.restored).await;
        let deployments = applied.deployments;
        let sets = (
            &rendered.deployments[..],
            &live.deployments[..],
            &deployments[..],
        );
        autoscale::apply(client, &namespace, &target.plan, sets).await?;
        apply::prune(client, &namespace, &rendered, &live).await?;
        let observed: Vec<Option<&Deployment>> = deployments.iter().map(Some).collect();
        // Listing the app's pods on every pass of a converged App was a third of its reads.
        let pods = if rollout::needs_pods(&target.plan.release, &observed) {
            Api::<Pod>::namespaced(client.clone(), &namespace)
                .list(&ListParams::default().labels(&format!("{}={name}", labels::APP)))
                .await?
                .items
        } else {
            vec![]
        };
        state = Some(rollout::observe(&target.plan.release, &observed, &pods));
        services = deployments.iter().map(service_status).collect();
    }

    // Report.
    let seen = Observation {
        mode: mode.clone(),
        state: state.clone(),
        invalid,
        services,
        repository: ctx
            .builder
            .as_ref()
            .map(|b| builder::repository(&b.registry, &namespace, &name)),
    };
    let now = Time(jiff::Timestamp::now());
    let next = status::next_status(app, &seen, &now);
    if app.status.as_ref() != Some(&next) {
        shared
            .written
            .saved(apply::patch_status(client, app, &next).await?);
        let uid = app.uid().unwrap_or_default();
        for promotion in shared.counted.added(&uid, &status, &next) {
            ctx.metrics.promoted(&promotion);
        }
        publish(ctx, app, &status, &next).await;
    }
    // Level-triggered: on every pass while expired releases exist, not only on the pass that
    // recorded a promotion (a kill in between left them for good on a quiet app).
    let releases = stores.releases(&namespace, &name);
    cleanup::releases(client, &namespace, app, &[&status, &next], releases).await?;
    let moving = !matches!(state, Some(RolloutState::Complete))
        && !matches!(mode, Mode::Idle | Mode::Stuck(_));
    tracing::info!(phase = ?next.phase, release = ?next.release, "Reconciled");
    Ok(Action::requeue(if moving { WHILE_MOVING } else { RESYNC }))
}

/// Whether a container of `pod` cannot start because its config (the env Secret) is missing or
/// wrong: the moment a damaged env Secret of a running release matters, so it is seen then
/// rather than at the next resync (the operator may not watch Secrets).
fn lacks_its_config(pod: &Pod) -> bool {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
        .any(|reason| reason == "CreateContainerConfigError")
}

fn live_replicas(deployments: &[Deployment]) -> BTreeMap<String, i32> {
    deployments
        .iter()
        .filter_map(|d| {
            let service = d.labels().get(labels::SERVICE)?.clone();
            Some((service, d.spec.as_ref()?.replicas?))
        })
        .collect()
}

fn service_status(d: &Deployment) -> ServiceStatus {
    let status = d.status.clone().unwrap_or_default();
    let spec = d.spec.clone().unwrap_or_default();
    ServiceStatus {
        name: d.labels().get(labels::SERVICE).cloned().unwrap_or_default(),
        replicas: spec.replicas.unwrap_or(1),
        updated: status.updated_replicas.unwrap_or(0),
        ready: status.ready_replicas.unwrap_or(0),
        release: spec
            .template
            .metadata
            .and_then(|m| m.labels)
            .and_then(|l| l.get(labels::RELEASE).cloned()),
    }
}

async fn publish(
    ctx: &Context,
    app: &App,
    old: &slipway_crds::AppStatus,
    new: &slipway_crds::AppStatus,
) {
    for event in status::events(old, new) {
        let type_ = if event.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        record(ctx, app, type_, event.reason, &event.note).await;
    }
}

/// One Warning Event on the App for each object someone deleted or edited by hand and this
/// pass put back, so the drift and its repair are seen where the App's history is.
async fn publish_restored(ctx: &Context, app: &App, restored: &[String]) {
    for note in restored {
        record(ctx, app, EventType::Warning, "DriftRestored", note).await;
    }
}

/// Publishes one Event on the App; a failure is logged, never fatal.
async fn record(ctx: &Context, app: &App, type_: EventType, reason: &str, note: &str) {
    let ev = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.to_string()),
        // The recorder folds events with the same action into one series: give each note its own.
        action: note.chars().take(128).collect(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &app.object_ref(&())).await {
        tracing::warn!(error = %e, "Failed to publish event");
    }
}

fn error_policy(app: Arc<App>, error: &Error, ctx: Arc<AppContext>) -> Action {
    let ctx = &ctx.ctx;
    ctx.metrics.failed("app", error.metric_label());
    tracing::warn!(app = %app.name_any(), error = %error, "Reconcile failed");
    let delay = match error.metric_label() {
        "conflict" => Duration::from_millis(200),
        _ => Duration::from_secs(5),
    };
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(reason: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "web-1" },
            "status": { "containerStatuses": [{
                "name": "main", "image": "nginx:1", "imageID": "", "ready": false,
                "restartCount": 0, "state": { "waiting": { "reason": reason } },
            }] },
        }))
        .unwrap()
    }

    #[test]
    fn a_pod_that_cannot_start_for_its_env_secret_is_looked_at() {
        assert!(lacks_its_config(&pod("CreateContainerConfigError")));
        assert!(!lacks_its_config(&pod("ContainerCreating")));
    }
}
