//! Why a promoted release was rolled back: the failing process, its reason, its last lines.
//!
//! The rollback removes the failed release's pods within a second, so what they showed is
//! kept while the rollout is followed ([`Trouble::see`]), logs included, and told at the end.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{ListParams, LogParams};
use slipway_crds::labels;

use crate::context::Ctx;
use crate::output::Term;
use crate::output::logs::{Diagnosis, diagnosis_text};

/// Lines of the failing process shown.
const LAST_LINES: i64 = 10;

/// The process of `release` in the worst trouble, and whether to read its crashed container's log.
pub fn pick(pods: &[Pod], release: &str) -> Option<(Diagnosis, bool)> {
    let mut best: Option<(u8, Diagnosis, bool)> = None;
    for pod in pods {
        if pod.labels().get(labels::RELEASE).map(String::as_str) != Some(release) {
            continue;
        }
        let statuses = pod
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten());
        for c in statuses {
            let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
            let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            let reason = waiting.and_then(|w| w.reason.clone()).unwrap_or_default();
            let (rank, text, previous) = if let Some(t) = last {
                let why = if reason.is_empty() {
                    t.reason.clone().unwrap_or_else(|| "Error".into())
                } else {
                    reason.clone()
                };
                let restarts = match c.restart_count {
                    1 => "restarted once".to_string(),
                    n => format!("restarted {n} times"),
                };
                (
                    3,
                    format!("{why} (exit code {}, {restarts})", t.exit_code),
                    true,
                )
            } else if !reason.is_empty() {
                let message = waiting.and_then(|w| w.message.clone());
                let text = message.map_or(reason.clone(), |m| format!("{reason}: {m}"));
                (2, text, false)
            } else if !c.ready {
                (1, "not ready (its health check fails)".to_string(), false)
            } else {
                continue;
            };
            if best.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                let service = pod.labels().get(labels::SERVICE).cloned();
                let diagnosis = Diagnosis {
                    pod: pod.name_any(),
                    service: service.unwrap_or_default(),
                    reason: text,
                    lines: vec![],
                };
                best = Some((rank, diagnosis, previous));
            }
        }
    }
    best.map(|(_, d, previous)| (d, previous))
}

/// The label selector of a release's pods.
pub fn selector(app: &str, release: &str) -> String {
    format!("{}={app},{}={release}", labels::APP, labels::RELEASE)
}

/// What the pods of a release in trouble showed while a rollout was followed.
#[derive(Default)]
pub struct Trouble {
    pods: HashMap<String, Pod>,
    fetched: HashSet<(String, i32)>,
    logs: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl Trouble {
    /// Keeps `pod` if it is in trouble, and fetches its last lines once per container restart.
    pub fn see(&mut self, ctx: &Ctx, pod: Pod, release: &str) {
        let Some((diagnosis, previous)) = pick(std::slice::from_ref(&pod), release) else {
            return;
        };
        let restarts = pod
            .status
            .as_ref()
            .and_then(|s| {
                s.container_statuses
                    .as_ref()?
                    .first()
                    .map(|c| c.restart_count)
            })
            .unwrap_or(0);
        self.pods.insert(diagnosis.pod.clone(), pod);
        if self.fetched.insert((diagnosis.pod.clone(), restarts)) {
            let (pods, logs, name) = (ctx.pods(), self.logs.clone(), diagnosis.pod);
            tokio::spawn(async move {
                if let Some(lines) = last_lines(&pods, &name, previous).await {
                    logs.lock().expect("logs lock").insert(name, lines);
                }
            });
        }
    }

    /// Prints why `release` was rolled back: what was seen, else what its pods show now.
    pub async fn explain(self, ctx: &Ctx, term: &mut Term, release: &str) {
        let seen: Vec<Pod> = self.pods.into_values().collect();
        let mut found = pick(&seen, release);
        let params = ListParams::default().labels(&selector(&ctx.app, release));
        if found.is_none()
            && let Ok(list) = ctx.pods().list(&params).await
        {
            found = pick(&list.items, release);
        }
        let Some((mut diagnosis, previous)) = found else {
            return;
        };
        let kept = self
            .logs
            .lock()
            .expect("logs lock")
            .get(&diagnosis.pod)
            .cloned();
        diagnosis.lines = match kept {
            Some(lines) => lines,
            None => last_lines(&ctx.pods(), &diagnosis.pod, previous)
                .await
                .unwrap_or_default(),
        };
        term.text(&diagnosis_text(&diagnosis));
    }
}

/// The last lines of a process (of its crashed container when `previous`), if they can be read.
async fn last_lines(pods: &kube::Api<Pod>, name: &str, previous: bool) -> Option<Vec<String>> {
    let params = LogParams {
        container: Some("main".to_string()),
        previous,
        tail_lines: Some(LAST_LINES),
        ..LogParams::default()
    };
    let text = pods.logs(name, &params).await.ok()?;
    Some(text.lines().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods() -> Vec<Pod> {
        serde_saphyr::from_str(include_str!("output/fixtures/failing-pods.yaml")).unwrap()
    }

    #[test]
    fn the_crash_wins_over_a_pod_that_is_only_not_ready() {
        let (d, previous) = pick(&pods(), "rcdefghijkl").unwrap();
        assert_eq!(d.pod, "myapp-web-7c9d8-crash");
        assert_eq!(d.service, "web");
        assert_eq!(
            d.reason,
            "CrashLoopBackOff (exit code 3, restarted 4 times)"
        );
        assert!(previous);
    }

    #[test]
    fn an_image_pull_names_the_message_and_other_releases_are_ignored() {
        let (d, previous) = pick(&pods()[2..], "rdefghijklm").unwrap();
        assert_eq!(d.pod, "myapp-web-88aa-pull");
        assert_eq!(d.reason, "ErrImagePull: pull access denied for nginx:nope");
        assert!(!previous);
        assert!(pick(&pods(), "rnothing").is_none());
    }
}
