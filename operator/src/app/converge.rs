//! Converge: render the release to run, apply what changed, and observe its rollout.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use slipway_crds::app::ServiceStatus;
use slipway_crds::{App, labels};

use super::error::AppError;
use super::resolve::Resolved;
use super::rollout::{self, RolloutState};
use super::stores::Live;
use super::{AppContext, apply, autoscale, render, report};

/// Renders and applies `target`, then observes its rollout: how far it came, what each service runs.
pub async fn converge(
    app: &App,
    shared: &AppContext,
    namespace: &str,
    target: &Resolved,
    live: &Live,
) -> Result<(RolloutState, Vec<ServiceStatus>), AppError> {
    let client = &shared.ctx.client;
    let plan = &target.plan;
    if let Some(secret) = &target.own_secret {
        apply::ensure_secret(client, namespace, secret, app).await?;
        shared.resolutions.secret_made(namespace, &plan.release);
    }
    let owner = app
        .controller_owner_ref(&())
        .ok_or(AppError::MissingField("uid"))?;
    let replicas = live_replicas(&live.deployments);
    let rendered = render::render_with(plan, &owner, &replicas, &app.spec.services);
    // Services that already ran the target: a missing object of theirs was deleted by hand.
    let status = app.status.clone().unwrap_or_default();
    let ran: Vec<&str> = status
        .services
        .iter()
        .filter(|s| s.release.as_deref() == Some(plan.release.as_str()))
        .map(|s| s.name.as_str())
        .collect();
    let applied = apply::apply(client, namespace, &rendered, live, &ran).await?;
    for note in &applied.restored {
        report::record(&shared.ctx, app, EventType::Warning, "DriftRestored", note).await;
    }
    let deployments = applied.deployments;
    let sets = (
        &rendered.deployments[..],
        &live.deployments[..],
        &deployments[..],
    );
    autoscale::apply(client, namespace, plan, sets).await?;
    apply::prune(client, namespace, &rendered, live).await?;
    let observed: Vec<Option<&Deployment>> = deployments.iter().map(Some).collect();
    let state = rollout::observe(&plan.release, &observed, &live.pods);
    Ok((state, deployments.iter().map(service_status).collect()))
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

/// What `d` runs, for the App's status.
pub fn service_status(d: &Deployment) -> ServiceStatus {
    let status = d.status.as_ref();
    let spec = d.spec.as_ref();
    ServiceStatus {
        name: d.labels().get(labels::SERVICE).cloned().unwrap_or_default(),
        replicas: spec.and_then(|s| s.replicas).unwrap_or(1),
        updated: status.and_then(|s| s.updated_replicas).unwrap_or(0),
        ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        release: spec
            .and_then(|s| {
                s.template
                    .metadata
                    .as_ref()?
                    .labels
                    .as_ref()?
                    .get(labels::RELEASE)
            })
            .cloned(),
    }
}
