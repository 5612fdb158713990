//! The log of a build: its build pod's two containers, followed while it runs or read after.

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use kube::runtime::{WatchStreamExt, watcher};
use slipway_crds::builder;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::output::Term;

/// Prints what the build pod `pod` has logged, source step first.
pub async fn print(ctx: &Ctx, term: &mut Term, pod: &str) -> Result<()> {
    for container in [builder::SOURCE_CONTAINER, builder::BUILD_CONTAINER] {
        let params = LogParams {
            container: Some(container.to_string()),
            ..LogParams::default()
        };
        match ctx.pods().logs(pod, &params).await {
            Ok(text) => term.text(&text),
            // The pod goes with its Build, and a container the build never reached has no log.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 400 => {}
            Err(err) => return Err(Error::kube("reading the build's log", err)),
        }
    }
    Ok(())
}

/// Prints the build pod's log as it comes, until the pod ends; a person who may not read pod
/// logs (the developer role alone) is told so instead.
pub async fn follow(ctx: &Ctx, term: &mut Term, build: &str) {
    let pod = builder::pod_name(build);
    for container in [builder::SOURCE_CONTAINER, builder::BUILD_CONTAINER] {
        if let Err(err) = follow_container(ctx, term, &pod, container).await {
            term.line(&format!("(the build's log cannot be shown: {err})"));
            return;
        }
    }
}

/// Prints the log of `container` of `pod` once it has started, until it ends.
async fn follow_container(ctx: &Ctx, term: &mut Term, pod: &str, container: &str) -> Result<()> {
    let config = watcher::Config::default().fields(&format!("metadata.name={pod}"));
    let mut pods = watcher(ctx.pods(), config).default_backoff().boxed();
    loop {
        match pods.next().await {
            Some(Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p))) => {
                match container_started(&p, container) {
                    Some(true) => break,
                    Some(false) => return Ok(()),
                    None => {}
                }
            }
            Some(_) => {}
            None => return Ok(()),
        }
    }
    let params = LogParams {
        container: Some(container.to_string()),
        follow: true,
        ..LogParams::default()
    };
    let reader = ctx
        .pods()
        .log_stream(pod, &params)
        .await
        .map_err(|err| Error::kube("reading the build's log", err))?;
    let mut lines = reader.lines();
    while let Some(Ok(line)) = lines.next().await {
        term.line(&line);
    }
    Ok(())
}

/// Whether `container` has started (true), never will (false: the pod ended without it), or
/// may yet (None).
fn container_started(pod: &Pod, container: &str) -> Option<bool> {
    let status = pod.status.as_ref()?;
    let started = [&status.init_container_statuses, &status.container_statuses]
        .into_iter()
        .flatten()
        .flatten()
        .filter(|c| c.name == container)
        .any(|c| {
            c.state
                .as_ref()
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
        });
    let ended = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
    match (started, ended) {
        (true, _) => Some(true),
        (false, true) => Some(false),
        (false, false) => None,
    }
}
