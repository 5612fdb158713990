//! `convox logs`: every process of every service, new ones joining as they start, with the
//! app's `system/k8s/...` events interleaved.

use std::collections::HashSet;

use futures::{AsyncBufReadExt, StreamExt};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, LogParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use slipway_crds::labels;
use tokio::sync::mpsc;

use crate::args::LogsArgs;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::output::Term;
use crate::output::logs::{log_line, passes, split_stamp};
use crate::output::views::event_line;
use crate::rollout::event_time;
use crate::store;

/// The service of a process: its Deployment's, or the one `convox run` started it from.
pub fn service_of(pod: &Pod) -> Option<String> {
    let tags = pod.labels();
    tags.get(labels::SERVICE)
        .or_else(|| tags.get(labels::RUN_SERVICE))
        .cloned()
}

/// Whether a process's main container has started, so its log can be read.
pub fn started(pod: &Pod) -> Option<i32> {
    let status = pod.status.as_ref()?.container_statuses.as_ref()?.first()?;
    let state = status.state.as_ref()?;
    (state.running.is_some() || state.terminated.is_some()).then_some(status.restart_count)
}

/// The object an event is about, when it is the app or one of its Deployments, ReplicaSets or Pods.
// By name (`<app>-…`, unless another App's name is the longer match: `myapp-web` beside
// `myapp`), not by the services running when `logs` started: a first deploy's events count too.
pub fn event_of_app(event: &Event, app: &str, apps: &[String]) -> Option<String> {
    let regarding = event.regarding.as_ref()?;
    let name = regarding.name.as_deref()?;
    let mine = |name: &str| {
        name.starts_with(&format!("{app}-"))
            && !apps.iter().any(|other| {
                other.len() > app.len()
                    && other.starts_with(&format!("{app}-"))
                    && (name == other || name.starts_with(&format!("{other}-")))
            })
    };
    match regarding.kind.as_deref()? {
        "App" if name == app => Some(format!("app/{app}")),
        "Deployment" | "ReplicaSet" | "Pod" if mine(name) => Some(name.to_string()),
        _ => None,
    }
}

/// The names of the namespace's Apps, to tell this app's objects from a longer-named app's.
async fn app_names(ctx: &Ctx) -> Vec<String> {
    match ctx.apps().list_metadata(&ListParams::default()).await {
        Ok(list) => list.items.iter().map(|a| a.name_any()).collect(),
        Err(_) => vec![],
    }
}

fn params(args: &LogsArgs, since: Option<i64>, follow: bool) -> LogParams {
    LogParams {
        container: Some("main".to_string()),
        follow,
        since_seconds: since,
        tail_lines: args.tail,
        timestamps: true,
        ..LogParams::default()
    }
}

/// `convox logs`: follows until Ctrl-C, or prints what there is with `--no-follow`.
pub async fn logs(ctx: &Ctx, term: &mut Term, args: &LogsArgs) -> Result<()> {
    store::get_app(ctx).await?;
    let since = Timestamp::now() - SignedDuration::from_secs(args.since.as_secs() as i64);
    let apps = app_names(ctx).await;
    if args.no_follow {
        snapshot(ctx, term, args, &apps, since).await
    } else {
        follow(ctx, term, args, &apps, since).await
    }
}

fn wanted(pod: &Pod, args: &LogsArgs) -> Option<String> {
    let service = service_of(pod)?;
    args.service
        .as_deref()
        .is_none_or(|s| s == service)
        .then_some(service)
}

async fn snapshot(
    ctx: &Ctx,
    term: &mut Term,
    args: &LogsArgs,
    apps: &[String],
    since: Timestamp,
) -> Result<()> {
    let selector = format!("{}={}", labels::APP, ctx.app);
    let pods = ctx
        .pods()
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|err| Error::kube(format!("listing processes of {}", ctx.app), err))?;
    let seconds = Some(args.since.as_secs().max(1) as i64);
    let mut lines: Vec<(Option<Timestamp>, String)> = vec![];
    for pod in &pods.items {
        let Some(service) = wanted(pod, args) else {
            continue;
        };
        if started(pod).is_none() {
            continue;
        }
        let name = pod.name_any();
        let text = match ctx.pods().logs(&name, &params(args, seconds, false)).await {
            Ok(text) => text,
            Err(err) => match Error::kube(format!("reading the logs of {name}"), err) {
                err @ Error::Forbidden(_) => return Err(err),
                // One process whose log cannot be read (its node is gone) does not hide the rest.
                err => {
                    eprintln!("WARNING: {err}");
                    continue;
                }
            },
        };
        for raw in text.lines() {
            let (at, line) = split_stamp(raw);
            lines.push((at, log_line(at, &service, &name, line)));
        }
    }
    if args.service.is_none()
        && let Ok(events) = ctx.events().list(&ListParams::default()).await
    {
        for event in &events.items {
            let at = event_time(event);
            if at.is_none_or(|at| at < since) {
                continue;
            }
            if let Some(object) = event_of_app(event, &ctx.app, apps) {
                let note = event.note.clone().unwrap_or_default();
                lines.push((at, event_line(at, &object, &note)));
            }
        }
    }
    lines.sort_by_key(|(at, _)| *at);
    for (_, line) in lines {
        if passes(&line, args.filter.as_deref()) {
            term.line(&line);
        }
    }
    Ok(())
}

/// Streams one process's log into `lines` until it ends.
fn stream(
    pods: Api<Pod>,
    name: String,
    service: String,
    params: LogParams,
    lines: mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let Ok(reader) = pods.log_stream(&name, &params).await else {
            return;
        };
        let mut reader = reader.lines();
        while let Some(Ok(raw)) = reader.next().await {
            let (at, line) = split_stamp(&raw);
            if lines.send(log_line(at, &service, &name, line)).is_err() {
                return;
            }
        }
    });
}

async fn follow(
    ctx: &Ctx,
    term: &mut Term,
    args: &LogsArgs,
    apps: &[String],
    since: Timestamp,
) -> Result<()> {
    let selector = format!("{}={}", labels::APP, ctx.app);
    let mut pods = watcher(ctx.pods(), watcher::Config::default().labels(&selector))
        .default_backoff()
        .boxed();
    let mut events = watcher(ctx.events(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let (send, mut lines) = mpsc::unbounded_channel::<String>();
    // A process is streamed once per container start: a restart streams its new container.
    let mut streaming: HashSet<(String, i32)> = HashSet::new();
    let mut seen_events: HashSet<(String, String)> = HashSet::new();
    let seconds = args.since.as_secs().max(1) as i64;
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let filter = args.filter.as_deref();
    loop {
        tokio::select! {
            Some(line) = lines.recv() => if passes(&line, filter) { term.line(&line) },
            Some(item) = pods.next() => {
                if let Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) = item
                    && let (Some(service), Some(restarts)) = (wanted(&pod, args), started(&pod))
                    && streaming.insert((pod.name_any(), restarts))
                {
                    // Processes running before `logs` started begin at --since; later ones
                    // (and restarted containers) from their first line.
                    let first = streaming.iter().filter(|(n, _)| *n == pod.name_any()).count() == 1;
                    let from = pod.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
                    let old = from.is_none_or(|t| t < since);
                    let params = params(args, (first && old).then_some(seconds), true);
                    stream(ctx.pods(), pod.name_any(), service, params, send.clone());
                }
            },
            Some(item) = events.next(), if args.service.is_none() => {
                if let Ok(watcher::Event::Apply(event) | watcher::Event::InitApply(event)) = item {
                    let at = event_time(&event);
                    let key = (event.uid().unwrap_or_default(), event.resource_version().unwrap_or_default());
                    if at.is_some_and(|at| at >= since)
                        && seen_events.insert(key)
                        && let Some(object) = event_of_app(&event, &ctx.app, apps)
                    {
                        let line = event_line(at, &object, &event.note.clone().unwrap_or_default());
                        if passes(&line, filter) {
                            term.line(&line);
                        }
                    }
                }
            },
            _ = &mut interrupt => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, name: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "e" }, "eventTime": null,
            "regarding": { "kind": kind, "name": name }
        }))
        .unwrap()
    }

    #[test]
    fn events_belong_to_the_app_by_name_unless_a_longer_app_owns_them() {
        let apps = vec![
            "myapp".to_string(),
            "myapp-web".to_string(),
            "other".to_string(),
        ];
        let of = |kind, name| event_of_app(&event(kind, name), "myapp", &apps);
        assert_eq!(of("App", "myapp").as_deref(), Some("app/myapp"));
        assert_eq!(
            of("Deployment", "myapp-worker").as_deref(),
            Some("myapp-worker")
        );
        assert_eq!(
            of("Pod", "myapp-worker-5d8c7-abcde").as_deref(),
            Some("myapp-worker-5d8c7-abcde")
        );
        assert_eq!(
            of("Deployment", "myapp-web"),
            None,
            "the App myapp-web's, not a service of myapp"
        );
        assert_eq!(of("ReplicaSet", "myapp-web-api-5d8c7"), None);
        assert_eq!(of("Deployment", "other-web"), None);
        assert_eq!(of("App", "other"), None);
        assert_eq!(of("Secret", "myapp-x"), None);
    }
}
