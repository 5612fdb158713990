//! `convox build` from source on the real node: the source packed and pushed to the registry,
//! built by BuildKit in a build pod, its release promoted onto real pods that answer HTTP; and
//! every way a build can go wrong ending in a clear state that disturbs nothing that runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use slipway_crds::build::BuildSource;
use slipway_crds::env::Env;
use slipway_crds::{Build, BuildPhase, BuildSpec, Release};
use slipway_tests::cli::{Run, convox, run_with};
use slipway_tests::realnode::{builder_flags, image, push_endpoint, testapp_manifest, wait_answer};
use slipway_tests::slipway::{create_app, create_release, running, wait_app};
use slipway_tests::{
    Node, TestNamespace, helm, identity, kubeconfig_path, operator, wait_for, with_temp_ns,
    with_temp_ns_on,
};

const MANIFEST: &str = "services:\n  web:\n    build: .\n    port: 8080\n    health:\n      path: /\n      interval: 2\n      grace: 1\n      timeout: 1\n  worker:\n    build:\n      path: worker\n      manifest: Dockerfile.worker\n";

/// An app of two services built from Dockerfiles: `web` answers what its `RUN` step wrote
/// (with the build argument GREETING), `worker` logs what its own wrote.
fn write_app(ns: &TestNamespace, web_steps: &str, manifest: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slipway-build-{}", ns.name()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("worker")).unwrap();
    let web = format!(
        "FROM {}\nARG GREETING=nobody\nCOPY . /src\n{web_steps}\nENV ECHO=FROM_BUILD\n\
         ENTRYPOINT [\"sh\", \"-c\", \"FROM_BUILD=$(cat /greeting) exec testapp\"]\n",
        image("testapp")
    );
    std::fs::write(dir.join("Dockerfile"), web).unwrap();
    let worker = format!(
        "FROM {}\nRUN echo \"worker built\" > /says\nCMD [\"sh\", \"-c\", \"cat /says; while true; do sleep 1; done\"]\n",
        image("busybox")
    );
    std::fs::write(dir.join("worker/Dockerfile.worker"), worker).unwrap();
    std::fs::write(dir.join("convox.yml"), manifest).unwrap();
    // Left out by .dockerignore: the web build fails if it reaches the image.
    std::fs::write(dir.join(".dockerignore"), "secret.txt\n").unwrap();
    std::fs::write(dir.join("secret.txt"), "not for images\n").unwrap();
    dir
}

const GOOD_STEPS: &str =
    "RUN test ! -e /src/secret.txt && echo \"built for $GREETING\" > /greeting";

async fn build(ns: &TestNamespace, dir: &Path, extra: &[&str]) -> Run {
    let (key, value) = push_endpoint();
    let mut args = vec!["build", dir.to_str().unwrap()];
    args.extend(extra);
    run_with(ns.name(), "myapp", &args, &[(key, &value)]).await
}

/// The ID printed after `label` (`Build:` or `Release:`), lower-cased as its object is named.
fn printed(run: &Run, label: &str) -> String {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|id| id.trim().to_ascii_lowercase())
        .unwrap_or_else(|| panic!("no {label} line in:\n{}", run.stdout))
}

async fn answer(ns: &TestNamespace, want: &str) {
    wait_answer(ns, "slipway.dev/service=web", "myapp-web", want).await;
}

/// Whether the operator has told where the app's builds push (what `convox build` reads).
fn has_repository(status: &slipway_crds::app::AppStatus) -> Result<(), String> {
    status
        .repository
        .as_ref()
        .map(|_| ())
        .ok_or("no repository yet".into())
}

async fn builds(ns: &TestNamespace) -> Vec<Build> {
    ns.api::<Build>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

async fn releases_of_build(ns: &TestNamespace, build: &str) -> Vec<Release> {
    let all = ns
        .api::<Release>()
        .list(&ListParams::default())
        .await
        .unwrap();
    all.items
        .into_iter()
        .filter(|r| r.spec.build.as_deref() == Some(build))
        .collect()
}

async fn build_phase(ns: &TestNamespace, name: &str, want: BuildPhase) -> Build {
    let what = format!("build {name} to be {want:?}");
    wait_for(Duration::from_secs(120), &what, || async move {
        let build = ns
            .api::<Build>()
            .get(name)
            .await
            .map_err(|e| e.to_string())?;
        let phase = build.status.as_ref().and_then(|s| s.phase);
        (phase == Some(want))
            .then_some(build.clone())
            .ok_or(format!("it is {phase:?}"))
    })
    .await
}

#[tokio::test]
async fn a_two_service_app_built_from_source_runs_and_a_second_build_reuses_the_cache() {
    with_temp_ns_on(Node::Real, "real-build", |ns| async move {
        let flags = builder_flags();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let _operator = operator::start_as(ns.name(), ns.name(), &kubeconfig_path(), &flags);
        create_app(&ns, "myapp", 120).await;
        wait_app(&ns, "myapp", "the app's repository", has_repository).await;
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

#[tokio::test]
async fn failed_builds_say_why_and_disturb_nothing_that_runs() {
    with_temp_ns_on(Node::Real, "real-badbuild", |ns| async move {
        let flags = builder_flags();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let mut operator = operator::start_as(ns.name(), ns.name(), &kubeconfig_path(), &flags);
        let app = create_app(&ns, "myapp", 120).await;
        wait_app(&ns, "myapp", "the app's repository", has_repository).await;
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
                        upload: false,
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

#[tokio::test]
async fn a_developer_builds_from_source_and_a_viewer_may_not() {
    // Only the chart's roles for people, installed from a kwok namespace (where the chart's
    // operator pod "runs" without an image); the operator runs as admin.
    with_temp_ns("real-devbuild-chart", |home| async move {
        with_temp_ns_on(Node::Real, "real-devbuild", |ns| async move {
            let chart = format!("slipway-{}", home.name());
            let sets = [
                "image.repository=registry.example.com/slipway-operator",
                "image.tag=0.1.0",
                "rbac.create=false",
            ];
            let _installed = helm::install(&chart, home.name(), &sets);
            let flags = builder_flags();
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            let _operator = operator::start_as(ns.name(), ns.name(), &kubeconfig_path(), &flags);
            create_app(&ns, "myapp", 120).await;
            wait_app(&ns, "myapp", "the app's repository", has_repository).await;
            let developer = identity::person(&ns, "dev", &[format!("{chart}-developer")]).await;
            let viewer = identity::person(&ns, "vic", &[format!("{chart}-viewer")]).await;
            let dir = write_app(&ns, GOOD_STEPS, MANIFEST);
            let (key, value) = push_endpoint();
            let as_person = |kubeconfig: &Path| {
                let kubeconfig = kubeconfig.display().to_string();
                let dir = dir.display().to_string();
                let (key, value) = (key, value.clone());
                let ns = ns.name().to_string();
                async move {
                    let env = [(key, value.as_str()), ("KUBECONFIG", kubeconfig.as_str())];
                    run_with(&ns, "myapp", &["build", &dir], &env).await
                }
            };

            let viewed = as_person(&viewer).await;
            assert_eq!(viewed.code, 1, "a viewer may not build: {}", viewed.stdout);
            assert!(
                viewed.error().starts_with("permission denied"),
                "{}",
                viewed.error()
            );

            // No Secret and no pod log rights: the build runs, and the CLI says where its log is.
            let built = as_person(&developer).await;
            assert!(
                built.ok(),
                "a developer builds: {}\n{}",
                built.error(),
                built.stdout
            );
            assert!(
                built
                    .stdout
                    .contains("the build's log cannot be shown: permission denied"),
                "{}",
                built.stdout
            );
            let release = printed(&built, "Release:");
            assert!(ns.api::<Release>().get(&release).await.is_ok());
            std::fs::remove_dir_all(&dir).unwrap();
        })
        .await;
    })
    .await;
}
