//! `convox apps`: list, create, info, delete, cancel.

use kube::api::{DeleteParams, ObjectMeta, PostParams};
use slipway_crds::id::display_id;
use slipway_crds::labels::CLI_MANAGER;
use slipway_crds::{App, AppSpec};

use crate::args::{PromoteOpts, ReadOpts};
use crate::context::{Ctx, valid_app_name};
use crate::error::{Error, Result};
use crate::output::views::{app_info, app_info_text, app_row, apps_table};
use crate::output::{Term, render};
use crate::{rollout, store};

/// `convox apps`: `APP  STATUS  RELEASE`.
pub async fn list(ctx: &Ctx, term: &mut Term, read: &ReadOpts) -> Result<()> {
    let apps = ctx
        .apps()
        .list(&Default::default())
        .await
        .map_err(|err| Error::kube(format!("listing apps in {}", ctx.namespace), err))?;
    let rows: Vec<_> = apps.items.iter().map(app_row).collect();
    term.table(
        read.output,
        &render(read.output, &rows, || apps_table(&rows))?,
    );
    Ok(())
}

/// `convox apps create [name]`: `Creating myapp... OK`.
pub async fn create(ctx: &Ctx, term: &mut Term) -> Result<()> {
    if !valid_app_name(&ctx.app) {
        return Err(Error::BadAppName(ctx.app.clone()));
    }
    term.start(&format!("Creating {}", ctx.app));
    let app = App {
        metadata: ObjectMeta {
            name: Some(ctx.app.clone()),
            ..ObjectMeta::default()
        },
        spec: AppSpec::default(),
        status: None,
    };
    let params = PostParams {
        field_manager: Some(CLI_MANAGER.to_string()),
        ..PostParams::default()
    };
    match ctx.apps().create(&params, &app).await {
        Ok(_) => {
            term.ok();
            Ok(())
        }
        Err(err) if matches!(&err, kube::Error::Api(s) if s.code == 409) => {
            Err(Error::AppExists(ctx.app.clone()))
        }
        Err(err) => Err(Error::kube(format!("creating app {}", ctx.app), err)),
    }
}

/// `convox apps info [name]`.
pub async fn info(ctx: &Ctx, term: &mut Term, read: &ReadOpts) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let view = app_info(&app, rollout::foreign_release_owner(&app).is_some());
    term.text(&render(read.output, &view, || {
        app_info_text(&view, store::now())
    })?);
    Ok(())
}

/// `convox apps delete name`: `Deleting myapp... OK`; builds, releases and workloads go with it.
pub async fn delete(ctx: &Ctx, term: &mut Term) -> Result<()> {
    store::get_app(ctx).await?;
    term.start(&format!("Deleting {}", ctx.app));
    match ctx
        .apps()
        .delete(&ctx.app, &DeleteParams::background())
        .await
    {
        Ok(_) => {
            term.ok();
            Ok(())
        }
        Err(err) if Error::is_not_found(&err) => Err(Error::NoSuchApp(ctx.app.clone())),
        Err(err) => Err(Error::kube(format!("deleting app {}", ctx.app), err)),
    }
}

/// `convox apps cancel [app]`: points spec.release back at the active release, in any phase.
pub async fn cancel(ctx: &Ctx, term: &mut Term, opts: &PromoteOpts) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let status = app.status.clone().unwrap_or_default();
    let in_flight = app.spec.release != status.release || status.rollout.is_some();
    let Some(active) = status.release.filter(|_| in_flight) else {
        return match (in_flight, &app.spec.release) {
            (true, Some(desired)) => Err(Error::Usage(format!(
                "cannot cancel: {} has no active release to return to (it is rolling out {})",
                ctx.app,
                display_id(desired)
            ))),
            _ => {
                let running = app.spec.release.as_deref().map(display_id);
                let what = running
                    .map(|r| format!("is running {r}"))
                    .unwrap_or_else(|| "has no release".into());
                term.line(&format!("Nothing to cancel: {} {what}", ctx.app));
                Ok(())
            }
        };
    };
    let release = store::get_release(ctx, &active).await?;
    term.line(&format!("Cancelling deployment of {}...", ctx.app));
    let started = rollout::start(ctx, &release, opts).await?;
    rollout::follow(ctx, term, started, true).await?;
    term.line("OK");
    Ok(())
}
