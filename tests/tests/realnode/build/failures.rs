//! Broken, missing, unreachable, interrupted, kubectl-made and deleted builds.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PostParams};
use slipway_crds::BuildSpec;
use slipway_crds::build::BuildSource;
use slipway_crds::env::Env;
use slipway_tests::cli::convox;
use slipway_tests::realnode::testapp_manifest;
use slipway_tests::slipway::{create_release, running};
use slipway_tests::{Node, with_temp_ns_on};

use super::*;

#[tokio::test]
async fn failed_builds_say_why_and_disturb_nothing_that_runs() {
    with_temp_ns_on(Node::Real, "real-badbuild", |ns| async move {
        let mut operator = start_builder(&ns);
        let app = app_with_repository(&ns).await;
        create_release(
            &ns,
            &app,
            "rgoodgoodgo",
            &testapp_manifest(&[], ""),
            &Env::new(),
        )
        .await;
        let promote = convox(ns.name(), "myapp", &["releases", "promote", "RGOODGOODGO"]).await;
        assert!(promote.ok(), "promote failed: {}", promote.error());
        wait_app(
            &ns,
            "myapp",
            "the good release to run",
            running("rgoodgoodgo"),
        )
        .await;

        // A step that fails: the reason is BuildKit's, and no release is made.
        let dir = write_app(&ns, "RUN echo breaking && exit 3", MANIFEST);
        let broken = build(&ns, &dir, &[]).await;
        assert_eq!(broken.code, 1, "{}", broken.stdout);
        assert!(
            broken.error().contains("exit code: 3"),
            "{}",
            broken.error()
        );
        assert!(
            broken.stdout.contains("breaking"),
            "the log streamed: {}",
            broken.stdout
        );
        let id = broken
            .error()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_ascii_lowercase();
        let failed = ns.api::<Build>().get(&id).await.unwrap();
        assert_eq!(failed.status.unwrap().phase, Some(BuildPhase::Failed));
        assert!(releases_of_build(&ns, &id).await.is_empty());

        // A Dockerfile that is not there.
        let missing = MANIFEST.replace("manifest: Dockerfile.worker", "manifest: Dockerfile.gone");
        let dir = write_app(&ns, GOOD_STEPS, &missing);
        let gone = build(&ns, &dir, &[]).await;
        assert_eq!(gone.code, 1);
        assert!(
            gone.error()
                .contains("service worker: no Dockerfile at worker/Dockerfile.gone"),
            "{}",
            gone.error()
        );

        // A registry this machine cannot reach: the upload fails before any Build exists.
        let before = builds(&ns).await.len();
        let dir = write_app(&ns, GOOD_STEPS, MANIFEST);
        let unreachable = run_with(
            ns.name(),
            "myapp",
            &["build", dir.to_str().unwrap()],
            &[("SLIPWAY_PUSH_ENDPOINT", "http://127.0.0.1:9")],
        )
        .await;
        assert_eq!(unreachable.code, 1);
        assert!(
            unreachable
                .error()
                .starts_with("pushing the source to 127.0.0.1:9/"),
            "{}",
            unreachable.error()
        );
        assert_eq!(builds(&ns).await.len(), before);

        // The operator killed and started again mid-build: the build ends once, one release.
        let slow = write_app(&ns, &format!("{GOOD_STEPS} && sleep 6"), MANIFEST);
        let running_build = tokio::spawn({
            let ns = ns.name().to_string();
            let (key, value) = push_endpoint();
            async move {
                let args = ["build", slow.to_str().unwrap(), "--no-cache"];
                run_with(&ns, "myapp", &args, &[(key, &value)]).await
            }
        });
        let building = wait_for(Duration::from_secs(60), "a build to run", || async {
            builds(&ns)
                .await
                .into_iter()
                .find(|b| b.status.as_ref().and_then(|s| s.phase) == Some(BuildPhase::Running))
                .ok_or("none runs yet".to_string())
        })
        .await;
        operator.restart();
        let survived = running_build.await.unwrap();
        assert!(survived.ok(), "build failed: {}", survived.error());
        let name = building.metadata.name.clone().unwrap();
        assert_eq!(releases_of_build(&ns, &name).await.len(), 1);

        // A Build applied with kubectl, its source an artifact by digest, builds too; deleting
        // one stops its build.
        let source = building.spec.source.clone().unwrap();
        let handmade = |name: &str, no_cache: bool| {
            Build::new(
                name,
                BuildSpec {
                    app: "myapp".into(),
                    manifest: MANIFEST.into(),
                    source: Some(BuildSource {
                        image: source.image.clone(),
                    }),
                    no_cache,
                    ..BuildSpec::default()
                },
            )
        };
        let builds = ns.api::<Build>();
        builds
            .create(&PostParams::default(), &handmade("handmade", false))
            .await
            .unwrap();
        let done = build_phase(&ns, "handmade", BuildPhase::Complete).await;
        assert_eq!(
            done.status.unwrap().release.as_deref(),
            Some("handmade-release")
        );

        // Uncached, its 6 s step is still running when the Build goes.
        builds
            .create(&PostParams::default(), &handmade("doomed", true))
            .await
            .unwrap();
        build_phase(&ns, "doomed", BuildPhase::Running).await;
        builds
            .delete("doomed", &DeleteParams::background())
            .await
            .unwrap();
        wait_for(
            Duration::from_secs(60),
            "the deleted build's pod to go",
            || async {
                match ns.api::<Pod>().get_opt("doomed-build").await {
                    Ok(None) => Ok(()),
                    Ok(Some(_)) => Err("it is still there".to_string()),
                    Err(e) => Err(e.to_string()),
                }
            },
        )
        .await;

        // Through all of it the good release kept running.
        assert!(releases_of_build(&ns, "doomed").await.is_empty());
        let app = wait_app(
            &ns,
            "myapp",
            "the good release to run still",
            running("rgoodgoodgo"),
        )
        .await;
        assert_eq!(app.spec.release.as_deref(), Some("rgoodgoodgo"));
    })
    .await;
}
