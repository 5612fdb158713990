//! `convox ps`: the app's processes (Pods).

use kube::api::ListParams;
use slipway_crds::labels;

use crate::args::ReadOpts;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::output::views::{process_row, ps_table};
use crate::output::{Term, render};
use crate::store;

/// `convox ps`: `ID  SERVICE  STATUS  RELEASE  STARTED  COMMAND`.
pub async fn list(ctx: &Ctx, term: &mut Term, service: Option<&str>, read: ReadOpts) -> Result<()> {
    store::get_app(ctx).await?;
    let mut selector = format!("{}={}", labels::APP, ctx.app);
    if let Some(service) = service {
        selector.push_str(&format!(",{}={service}", labels::SERVICE));
    }
    let pods = ctx
        .pods()
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|err| Error::kube(format!("listing processes of {}", ctx.app), err))?;
    let mut rows: Vec<_> = pods.items.iter().map(process_row).collect();
    rows.sort_by(|a, b| (&a.service, &a.id).cmp(&(&b.service, &b.id)));
    term.text(&render(read.output, &rows, || {
        ps_table(&rows, store::now())
    })?);
    Ok(())
}
