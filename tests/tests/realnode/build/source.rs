//! A two-service app built from source, promoted and answering HTTP; a cached second build.

use std::time::Instant;

use slipway_tests::cli::convox;
use slipway_tests::slipway::running;
use slipway_tests::{Node, with_temp_ns_on};

use super::*;

#[tokio::test]
async fn a_two_service_app_built_from_source_runs_and_a_second_build_reuses_the_cache() {
    with_temp_ns_on(Node::Real, "real-build", |ns| async move {
        let _operator = start_builder(&ns);
        app_with_repository(&ns).await;
        let env = convox(ns.name(), "myapp", &["env", "set", "GREETING=hi"]).await;
        assert!(env.ok(), "env set failed: {}", env.error());
        let dir = write_app(&ns, GOOD_STEPS, MANIFEST);

        let started = Instant::now();
        let first = build(&ns, &dir, &[]).await;
        let cold = started.elapsed();
        assert!(
            first.ok(),
            "build failed: {}\n{}",
            first.error(),
            first.stdout
        );
        let progress: Vec<&str> = first.stdout.lines().take(3).collect();
        assert_eq!(
            progress,
            [
                "Packaging source... OK",
                "Uploading source... OK",
                "Starting build... OK"
            ]
        );
        assert!(
            first.stdout.contains("Building web from ./Dockerfile"),
            "{}",
            first.stdout
        );
        assert!(
            first
                .stdout
                .contains("Building worker from worker/Dockerfile.worker")
        );
        let release = printed(&first, "Release:");
        let build_id = printed(&first, "Build:");
        let made = ns.api::<Release>().get(&release).await.unwrap();
        assert_eq!(made.spec.build.as_deref(), Some(build_id.as_str()));
        for service in ["web", "worker"] {
            let image = &made.spec.images[service];
            assert!(
                image.contains("/apps/") && image.contains("@sha256:"),
                "{image}"
            );
        }

        let promote = convox(ns.name(), "myapp", &["releases", "promote", &release]).await;
        assert!(promote.ok(), "promote failed: {}", promote.error());
        wait_app(&ns, "myapp", "the built release to run", running(&release)).await;
        // What the RUN step wrote, with the build argument from the release env.
        answer(&ns, "built for hi").await;
        let worker = slipway_tests::realnode::kubectl(&[
            "-n",
            ns.name(),
            "logs",
            "-l",
            "slipway.dev/service=worker",
        ])
        .unwrap();
        assert!(worker.contains("worker built"), "{worker}");

        let logs = convox(ns.name(), "myapp", &["builds", "logs", &build_id]).await;
        assert!(logs.stdout.contains("Building web"), "{}", logs.stdout);

        // The same source again: every step from the registry's layer cache, then promoted.
        let started = Instant::now();
        let (key, value) = push_endpoint();
        let dir_arg = dir.to_str().unwrap();
        let deploy = run_with(ns.name(), "myapp", &["deploy", dir_arg], &[(key, &value)]).await;
        let warm = started.elapsed();
        assert!(
            deploy.ok(),
            "deploy failed: {}\n{}",
            deploy.error(),
            deploy.stdout
        );
        assert!(deploy.stdout.contains("CACHED"), "{}", deploy.stdout);
        let second = printed(&deploy, "Release:");
        wait_app(&ns, "myapp", "the second build to run", running(&second)).await;
        answer(&ns, "built for hi").await;
        eprintln!(
            "build from source: first {cold:?}, second (cached, with its promotion) {warm:?}"
        );

        let builds = convox(ns.name(), "myapp", &["builds"]).await;
        assert_eq!(
            builds.stdout.matches("complete").count(),
            2,
            "{}",
            builds.stdout
        );
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}
