//! `convox ps`: the app's processes (Pods), one process's info, and stopping one.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams};
use slipway_crds::id::display_id;
use slipway_crds::labels;

use crate::args::ReadOpts;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::output::process::{process_info, process_info_text, process_row, ps_table};
use crate::output::{Term, render};
use crate::store;

/// `convox ps [-s SERVICE] [--release R]`: `ID  SERVICE  STATUS  RELEASE  STARTED  COMMAND`.
pub async fn list(
    ctx: &Ctx,
    term: &mut Term,
    service: Option<&str>,
    release: Option<&str>,
    read: &ReadOpts,
) -> Result<()> {
    store::get_app(ctx).await?;
    let selector = format!("{}={}", labels::APP, ctx.app);
    let pods = ctx
        .pods()
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|err| Error::kube(format!("listing processes of {}", ctx.app), err))?;
    let release = release.map(|r| display_id(&slipway_crds::id::object_name(r)));
    // Filtered here, not by selector: `convox run` processes carry their service and release
    // under other labels (see slipway_crds::labels::RUN_SERVICE).
    let mut rows: Vec<_> = pods
        .items
        .iter()
        .map(process_row)
        .filter(|p| service.is_none_or(|s| p.service == s))
        .filter(|p| release.as_ref().is_none_or(|r| &p.release == r))
        .collect();
    rows.sort_by(|a, b| (&a.service, &a.id).cmp(&(&b.service, &b.id)));
    term.table(
        read.output,
        &render(read.output, &rows, || ps_table(&rows, store::now()))?,
    );
    Ok(())
}

/// A process of the app, by ID (its pod name).
pub async fn get_process(ctx: &Ctx, pid: &str) -> Result<Pod> {
    match ctx.pods().get_opt(pid).await {
        Ok(Some(pod)) if pod.labels().get(labels::APP) == Some(&ctx.app) => Ok(pod),
        Ok(_) => Err(Error::NoSuchProcess(pid.to_string())),
        Err(err) => Err(Error::kube(format!("reading process {pid}"), err)),
    }
}

/// `convox ps info P`.
pub async fn info(ctx: &Ctx, term: &mut Term, pid: &str, read: &ReadOpts) -> Result<()> {
    store::get_app(ctx).await?;
    let view = process_info(&get_process(ctx, pid).await?);
    term.text(&render(read.output, &view, || {
        process_info_text(&view, store::now())
    })?);
    Ok(())
}

/// `convox ps stop P`: `Stopping P... OK`; a service's Deployment starts a replacement.
pub async fn stop(ctx: &Ctx, term: &mut Term, pid: &str) -> Result<()> {
    store::get_app(ctx).await?;
    get_process(ctx, pid).await?;
    term.start(&format!("Stopping {pid}"));
    match ctx.pods().delete(pid, &DeleteParams::default()).await {
        Ok(_) => {
            term.ok();
            Ok(())
        }
        Err(err) if Error::is_not_found(&err) => Err(Error::NoSuchProcess(pid.to_string())),
        Err(err) => Err(Error::kube(format!("stopping process {pid}"), err)),
    }
}
