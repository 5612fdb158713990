//! `convox scale`, `convox restart` and `convox services`: per-service settings in the App's
//! `spec.services`, kept across releases and rollbacks, rendered by the operator.
//!
//! Written by JSON merge patch with field manager `convox`, not by server-side apply: an apply
//! by `convox` that omits a field `convox` owns removes it, so an apply of one service's count
//! would drop spec.release (applied by promotes) and the other services' settings.

use std::collections::BTreeMap;

use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use slipway_crds::App;
use slipway_crds::labels::CLI_MANAGER;
use slipway_crds::manifest::Manifest;

use crate::args::{ReadOpts, ScaleArgs};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::output::scale::{scale_rows, scale_table, service_rows, services_table};
use crate::output::{Term, render};
use crate::rollout::foreign_owner;
use crate::store;

/// The manifest of the release that runs (else the one promoted).
async fn running_manifest(ctx: &Ctx, app: &App) -> Result<Manifest> {
    let status = app.status.clone().unwrap_or_default();
    let name = status.release.or_else(|| app.spec.release.clone());
    let name = name.ok_or_else(|| Error::NoActiveRelease(ctx.app.clone()))?;
    let release = store::get_release(ctx, &name).await?;
    Ok(Manifest::parse(&release.spec.manifest)?)
}

/// The App YAML that sets `fields` of `service` in git.
pub fn settings_snippet(app: &str, service: &str, fields: &BTreeMap<&str, Value>) -> String {
    let mut text = format!(
        "apiVersion: slipway.dev/v1alpha1\nkind: App\nmetadata:\n  name: {app}\nspec:\n  services:\n    {service}:"
    );
    for (field, value) in fields {
        let value = value
            .as_str()
            .map_or_else(|| value.to_string(), |s| format!("{s:?}"));
        text.push_str(&format!("\n      {field}: {value}"));
    }
    text
}

/// Writes `fields` of each service by merge patch, unless a GitOps tool owns one of them.
async fn write(
    ctx: &Ctx,
    app: &App,
    changes: &BTreeMap<String, BTreeMap<&str, Value>>,
    force: bool,
) -> Result<()> {
    for (service, fields) in changes {
        for field in fields.keys() {
            let pointer = format!("/f:spec/f:services/f:{service}/f:{field}");
            if let Some(manager) = foreign_owner(app, &pointer).filter(|_| !force) {
                return Err(Error::ManagedElsewhere {
                    field: format!("spec.services.{service}.{field}"),
                    app: ctx.app.clone(),
                    manager,
                    snippet: settings_snippet(&ctx.app, service, fields),
                });
            }
        }
    }
    let services: serde_json::Map<String, Value> =
        changes.iter().map(|(s, f)| (s.clone(), json!(f))).collect();
    let patch = json!({ "spec": { "services": services } });
    let params = PatchParams {
        field_manager: Some(CLI_MANAGER.to_string()),
        ..PatchParams::default()
    };
    ctx.apps()
        .patch(&ctx.app, &params, &Patch::Merge(&patch))
        .await
        .map_err(|err| Error::kube(format!("changing the services of {}", ctx.app), err))?;
    Ok(())
}

/// `convox scale`: the table with no flags; else `Scaling web... OK`.
pub async fn scale(ctx: &Ctx, term: &mut Term, args: &ScaleArgs) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let manifest = running_manifest(ctx, &app).await?;
    let mut fields: BTreeMap<&str, Value> = BTreeMap::new();
    for (field, value) in [
        ("count", args.count),
        ("cpu", args.cpu),
        ("memory", args.memory),
    ] {
        if let Some(value) = value {
            if value < i32::from(field != "count") {
                return Err(Error::Usage(format!(
                    "--{field} must be at least {}",
                    i32::from(field != "count")
                )));
            }
            fields.insert(field, json!(value));
        }
    }
    if fields.is_empty() {
        let status = app.status.clone().unwrap_or_default();
        let rows: Vec<_> = scale_rows(&manifest, &status.services, &app.spec.services)
            .into_iter()
            .filter(|r| args.service.as_ref().is_none_or(|s| &r.service == s))
            .collect();
        term.table(
            args.read.output,
            &render(args.read.output, &rows, || scale_table(&rows))?,
        );
        return Ok(());
    }
    let Some(service) = &args.service else {
        return Err(Error::Usage("1 arg required: the service to scale".into()));
    };
    let Some(svc) = manifest.services.get(service) else {
        return Err(Error::NoSuchService(service.clone()));
    };
    if let (Some(_), Some((min, max))) = (args.count, svc.scale.autoscale()) {
        return Err(Error::Usage(format!(
            "{service} autoscales from {min} to {max} (scale.count in convox.yml): change the range there"
        )));
    }
    term.start(&format!("Scaling {service}"));
    let changes = BTreeMap::from([(service.clone(), fields)]);
    write(ctx, &app, &changes, args.force).await?;
    term.ok();
    Ok(())
}

/// `convox restart [SERVICE]` and `services restart S`: rolls the processes, no new release.
pub async fn restart(ctx: &Ctx, term: &mut Term, service: Option<&str>, force: bool) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let manifest = running_manifest(ctx, &app).await?;
    let services: Vec<String> = match service {
        Some(s) if manifest.services.contains_key(s) => vec![s.to_string()],
        Some(s) => return Err(Error::NoSuchService(s.to_string())),
        None => manifest.services.keys().cloned().collect(),
    };
    term.start(&format!("Restarting {}", service.unwrap_or(&ctx.app)));
    let now = slipway_crds::stamp::now_stamp();
    let changes = services
        .into_iter()
        .map(|s| (s, BTreeMap::from([("restartedAt", json!(now))])))
        .collect();
    write(ctx, &app, &changes, force).await?;
    term.ok();
    Ok(())
}

/// `convox services`: `SERVICE  DOMAIN  PORTS`.
pub async fn services(ctx: &Ctx, term: &mut Term, read: &ReadOpts) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let manifest = running_manifest(ctx, &app).await?;
    let rows = service_rows(&manifest, &ctx.app, &ctx.namespace);
    term.table(
        read.output,
        &render(read.output, &rows, || services_table(&rows))?,
    );
    Ok(())
}

#[cfg(test)]
mod tests;
