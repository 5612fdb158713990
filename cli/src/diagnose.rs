//! Why a promoted release was rolled back: the failing process, its reason, its last lines.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{ListParams, LogParams};
use slipway_crds::labels;

use crate::context::Ctx;
use crate::output::Term;
use crate::output::logs::{Diagnosis, diagnosis_text};

/// Lines of the failing process shown.
const LAST_LINES: i64 = 10;

/// The process of `release` in the worst trouble, its reason, and whether its logs are those of
/// the previous (crashed) container.
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

/// Prints why `release` was rolled back, as far as its pods tell; never fails the command.
pub async fn explain(ctx: &Ctx, term: &mut Term, release: &str) {
    let selector = format!("{}={},{}={release}", labels::APP, ctx.app, labels::RELEASE);
    let Ok(pods) = ctx
        .pods()
        .list(&ListParams::default().labels(&selector))
        .await
    else {
        return;
    };
    let Some((mut diagnosis, previous)) = pick(&pods.items, release) else {
        return;
    };
    let params = LogParams {
        container: Some("main".to_string()),
        previous,
        tail_lines: Some(LAST_LINES),
        ..LogParams::default()
    };
    if let Ok(text) = ctx.pods().logs(&diagnosis.pod, &params).await {
        diagnosis.lines = text.lines().map(str::to_string).collect();
    }
    term.text(&diagnosis_text(&diagnosis));
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
