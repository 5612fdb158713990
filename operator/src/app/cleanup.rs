//! History cleanup: keep the newest releases of an App, never the ones that matter.

use std::collections::BTreeSet;

use kube::api::DeleteParams;
use kube::{Api, ResourceExt};
use slipway_crds::app::AppStatus;
use slipway_crds::release::newest_first;
use slipway_crds::{App, Release, fork, labels};

use super::error::AppError;

/// Deletes releases of `app` beyond its history limit, sparing the protected ones; reads only
/// `releases` (the release store, trimmed), so it costs no API call while nothing expired.
/// `in_use` names the env Secret of the release this pass renders.
pub async fn releases(
    client: &kube::Client,
    namespace: &str,
    app: &App,
    statuses: &[&AppStatus],
    releases: Vec<Release>,
    in_use: Option<&str>,
) -> Result<(), AppError> {
    let limit = usize::try_from(app.spec.history_limit()).unwrap_or(usize::MAX);
    let protect = statuses
        .iter()
        .flat_map(|status| protected(app, status))
        .collect();
    let doomed = expired(releases.clone(), limit, &protect);
    let api: Api<Release> = Api::namespaced(client.clone(), namespace);
    for name in doomed {
        let failed = |source| AppError::Cleanup {
            release: name.clone(),
            source,
        };
        // A release that shares this one's env Secret may not own it yet (the operator adds
        // owners as it sees new releases): make sure it does, or the Secret would go with this.
        // One made so recently that the store lacks it is adopted by the env owner controller
        // as it sees it, before the garbage collector gets to the Secret.
        let secret = releases
            .iter()
            .find(|r| r.name_any() == name)
            .and_then(|r| r.spec.env_secret.as_ref())
            .map(|s| s.name.clone());
        let sharers: Vec<&Release> = releases
            .iter()
            .filter(|r| {
                r.name_any() != name
                    && r.spec.env_secret.as_ref().map(|s| &s.name) == secret.as_ref()
            })
            .collect();
        // The release this pass runs shares it, and the store does not hold that one yet (a
        // rollback copy of an expired release, made a moment ago): a later pass deletes it.
        if sharers.is_empty() && secret.is_some() && secret.as_deref() == in_use {
            continue;
        }
        for sharer in sharers {
            crate::envowner::own_env(client, sharer)
                .await
                .map_err(failed)?;
        }
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => tracing::info!(release = name, "Deleted expired release"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(failed(e.into())),
        }
    }
    Ok(())
}

/// The releases cleanup must never delete: desired, serving, failed, in flight and the env head.
fn protected(app: &App, status: &AppStatus) -> BTreeSet<String> {
    let rollout = status
        .rollout
        .iter()
        .flat_map(|r| [Some(r.release.clone()), r.from.clone()]);
    [
        app.spec.release.clone(),
        status.release.clone(),
        status.failed_release.as_ref().map(|f| f.release.clone()),
        // The CLI forks the env head; without it the next env change would fork an older env.
        fork::env_head(app).map(String::from),
    ]
    .into_iter()
    .chain(rollout)
    .flatten()
    .collect()
}

/// The names to delete: Slipway-made releases past the newest `limit`, minus protected and tracked ones.
fn expired(mut releases: Vec<Release>, limit: usize, protected: &BTreeSet<String>) -> Vec<String> {
    newest_first(&mut releases);
    releases
        .into_iter()
        .skip(limit)
        .filter(|r| {
            let made_by_slipway = r.labels().get(labels::MANAGED_BY).map(String::as_str)
                == Some(labels::MANAGED_BY_SLIPWAY);
            let tracked = labels::is_gitops_tracked(
                r.metadata.labels.as_ref(),
                r.metadata.annotations.as_ref(),
            );
            made_by_slipway && !tracked && !protected.contains(&r.name_any())
        })
        .map(|r| r.name_any())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::app::fixtures;

    fn release(name: &str, second: u32, ours: bool) -> Release {
        let mut r = fixtures::release("myapp", name, "");
        r.spec.created = Some(format!("2026-01-01T00:00:{second:02}.000000000Z"));
        if ours {
            r.metadata.labels = Some(labels::app_labels("myapp"));
        }
        r
    }

    #[test]
    fn keeps_the_newest_and_the_protected() {
        let releases = (0..6).map(|i| release(&format!("r{i}"), i, true)).collect();
        let protected = BTreeSet::from(["r0".to_string()]);
        assert_eq!(expired(releases, 3, &protected), ["r2", "r1"]);
    }

    #[test]
    fn protects_the_env_head_with_desired_serving_failed_and_in_flight() {
        let mut app = App::new("myapp", Default::default());
        app.spec.release = Some("rdesired".into());
        app.metadata.annotations = Some(BTreeMap::from([(
            labels::ENV_HEAD.to_string(),
            "rhead".to_string(),
        )]));
        let status: AppStatus = serde_json::from_value(serde_json::json!({
            "release": "rserving",
            "failedRelease": { "release": "rfailed", "reason": "CrashLoop", "message": "x" },
            "rollout": { "release": "rnext", "from": "rprevious", "started": "2026-01-01T00:00:00Z" },
        }))
        .unwrap();
        let names = |set: BTreeSet<String>| set.into_iter().collect::<Vec<_>>();
        assert_eq!(
            names(protected(&app, &status)),
            [
                "rdesired",
                "rfailed",
                "rhead",
                "rnext",
                "rprevious",
                "rserving"
            ]
        );
        let releases = (0..4).map(|i| release(&format!("r{i}"), i, true)).collect();
        app.metadata.annotations = Some(BTreeMap::from([(
            labels::ENV_HEAD.to_string(),
            "r0".to_string(),
        )]));
        let protect = protected(&app, &AppStatus::default());
        assert_eq!(expired(releases, 2, &protect), ["r1"]);
    }

    #[test]
    fn never_deletes_hand_written_or_tracked_releases() {
        let mut tracked = release("tracked", 0, true);
        tracked.metadata.annotations = Some(BTreeMap::from([(
            "argocd.argoproj.io/tracking-id".into(),
            "x".into(),
        )]));
        let releases = vec![
            release("new", 9, true),
            release("gitops", 1, false),
            tracked,
        ];
        assert!(expired(releases, 1, &BTreeSet::new()).is_empty());
    }
}
