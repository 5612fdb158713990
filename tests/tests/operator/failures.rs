//! Failed rollouts roll back by themselves; invalid releases change nothing that runs.

use std::time::Duration;

use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use slipway_crds::conditions::{READY, find, reason};
use slipway_crds::{App, AppPhase};
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{CRASHLOOP_ANNOTATION, NEVER_READY_ANNOTATION, operator, with_temp_ns};

use super::*;

fn annotated(annotation: &str) -> String {
    TWO_SERVICES.replace(
        "    scale:\n      count: 2\n",
        &format!("    annotations:\n      - {annotation}=true\n"),
    )
}

#[tokio::test]
async fn failed_rollouts_roll_back_by_themselves_and_retry_only_when_asked() {
    with_temp_ns("op-fail", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 10).await;
        create_release(&ns, &app, "rgoodgoodgo", TWO_SERVICES, &env(&[])).await;
        promote(&ns, "myapp", "rgoodgoodgo").await;
        wait_app(
            &ns,
            "myapp",
            "the good release to run",
            running("rgoodgoodgo"),
        )
        .await;

        for (release, annotation, cause) in [
            (
                "rneverready",
                NEVER_READY_ANNOTATION,
                "ProgressDeadlineExceeded",
            ),
            ("rcrashloops", CRASHLOOP_ANNOTATION, "CrashLoop"),
        ] {
            create_release(&ns, &app, release, &annotated(annotation), &env(&[])).await;
            promote(&ns, "myapp", release).await;
            let rolled_back = wait_app(&ns, "myapp", "an automatic rollback", |s| {
                let failed = s
                    .failed_release
                    .as_ref()
                    .map(|f| (f.release.as_str(), f.reason.as_str()));
                let ready =
                    find(&s.conditions, READY).map(|c| (c.status.as_str(), c.reason.as_str()));
                if failed == Some((release, cause))
                    && s.phase == Some(AppPhase::Failed)
                    && ready == Some(("False", reason::ROLLED_BACK))
                {
                    Ok(())
                } else {
                    Err("not rolled back yet".into())
                }
            })
            .await;
            assert_eq!(
                rolled_back.status.unwrap().release.as_deref(),
                Some("rgoodgoodgo")
            );
            let web = deployment(&ns, "myapp-web").await.unwrap();
            assert_eq!(
                template_release(&web),
                "rgoodgoodgo",
                "the last good release is rendered again"
            );
        }

        // At rest, the operator writes nothing.
        let app_version = ns
            .api::<App>()
            .get("myapp")
            .await
            .unwrap()
            .resource_version();
        let before = generations(&ns).await;
        tokio::time::sleep(Duration::from_secs(15)).await;
        assert_eq!(
            ns.api::<App>()
                .get("myapp")
                .await
                .unwrap()
                .resource_version(),
            app_version,
            "no status writes at rest"
        );
        assert_eq!(
            generations(&ns).await,
            before,
            "no Deployment writes at rest"
        );

        // An explicit retry tries the failed release again.
        let retry = json!({ "spec": { "retry": 1 } });
        ns.api::<App>()
            .patch("myapp", &PatchParams::default(), &Patch::Merge(&retry))
            .await
            .unwrap();
        wait_app(&ns, "myapp", "the retry to fail again", |s| {
            match &s.failed_release {
                Some(f) if f.retry == Some(1) && s.phase == Some(AppPhase::Failed) => Ok(()),
                _ => Err("not retried yet".into()),
            }
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn invalid_releases_change_nothing_that_runs_and_say_why() {
    with_temp_ns("op-invalid", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        let other = create_app(&ns, "other", 60).await;
        create_release(&ns, &app, "rgoodgoodgo", TWO_SERVICES, &env(&[])).await;
        promote(&ns, "myapp", "rgoodgoodgo").await;
        wait_app(
            &ns,
            "myapp",
            "the good release to run",
            running("rgoodgoodgo"),
        )
        .await;
        let before = generations(&ns).await;

        create_release(&ns, &other, "rotherother", TWO_SERVICES, &env(&[])).await;
        create_release(&ns, &app, "rbadmanifes", "services: [", &env(&[])).await;
        create_release(
            &ns,
            &app,
            "rneedsenvvv",
            "environment: [TOKEN]\nservices:\n  web:\n    image: nginx\n",
            &env(&[]),
        )
        .await;
        for (release, message) in [
            ("rmissingrel", "no such release: RMISSINGREL"),
            (
                "rotherother",
                "release ROTHEROTHER belongs to app other, not myapp",
            ),
            ("rbadmanifes", "invalid convox.yml"),
            ("rneedsenvvv", "required env: TOKEN"),
        ] {
            promote(&ns, "myapp", release).await;
            wait_app(&ns, "myapp", message, |s| {
                match find(&s.conditions, READY) {
                    Some(c)
                        if c.reason == reason::INVALID_RELEASE && c.message.contains(message) =>
                    {
                        Ok(())
                    }
                    _ => Err(format!("no InvalidRelease condition saying {message:?}")),
                }
            })
            .await;
            let app = ns.api::<App>().get("myapp").await.unwrap();
            assert_eq!(app.status.unwrap().release.as_deref(), Some("rgoodgoodgo"));
            assert_eq!(
                generations(&ns).await,
                before,
                "nothing that runs was touched by {release}"
            );
        }
        let events: Api<k8s_openapi::api::events::v1::Event> = ns.api();
        let invalid = events.list(&ListParams::default()).await.unwrap().items;
        assert!(
            invalid
                .iter()
                .any(|e| e.reason.as_deref() == Some("InvalidRelease")),
            "an Event says why"
        );
    })
    .await;
}
