//! Report: save the status a pass worked out, with its Events and its promotions' metrics.

use std::time::Duration;

use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use slipway_crds::App;

use super::error::AppError;
use super::status::{self, Report};
use super::{AppContext, apply};
use crate::context::Context;

/// The shortest time between two status writes that change only ready counts.
const COUNTS_EVERY: Duration = Duration::from_secs(2);

/// How a pass ended for the status: written, or held back because only counts changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusWrite {
    /// Nothing changed.
    Unchanged,
    /// The new status was saved.
    Saved,
    /// Only ready counts changed, soon after the last write: saved by a later pass, in this long.
    Held(Duration),
}

/// Writes the report's status if it changed, then its Events and its promotions' metrics.
pub async fn save(
    app: &App,
    shared: &AppContext,
    report: &Report,
) -> Result<StatusWrite, AppError> {
    let old = app.status.clone().unwrap_or_default();
    if old == report.status {
        return Ok(StatusWrite::Unchanged);
    }
    let uid = app.uid().unwrap_or_default();
    if status::counts_only(&old, &report.status)
        && let Some(since) = shared.written.since(&uid)
        && since < COUNTS_EVERY
    {
        return Ok(StatusWrite::Held(COUNTS_EVERY - since));
    }
    let ctx = &shared.ctx;
    shared
        .written
        .saved(apply::patch_status(&ctx.client, app, &report.status).await?);
    for promotion in &report.finished {
        ctx.metrics.promoted(promotion);
    }
    for event in &report.events {
        let type_ = if event.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        record(ctx, app, type_, event.reason, &event.note).await;
    }
    Ok(StatusWrite::Saved)
}

/// Publishes one Event on the App; a failure is logged, never fatal.
pub async fn record(ctx: &Context, app: &App, type_: EventType, reason: &str, note: &str) {
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
