//! `convox build` from source on the real node: the source packed and pushed to the registry,
//! built by BuildKit in a build pod, its release promoted onto real pods that answer HTTP
//! (`source`); every way a build can go wrong ending in a clear state that disturbs nothing
//! that runs (`failures`); who may build (`roles`). Here: the app and what the tests share.

mod failures;
mod roles;
mod source;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::api::ListParams;
use slipway_crds::{App, Build, BuildPhase, Release};
use slipway_tests::cli::{Run, run_with};
use slipway_tests::operator::Operator;
use slipway_tests::realnode::{builder_flags, image, push_endpoint, wait_answer};
use slipway_tests::slipway::{create_app, wait_app};
use slipway_tests::{TestNamespace, kubeconfig_path, operator, wait_for};

pub const MANIFEST: &str = "services:\n  web:\n    build: .\n    port: 8080\n    health:\n      path: /\n      interval: 2\n      grace: 1\n      timeout: 1\n  worker:\n    build:\n      path: worker\n      manifest: Dockerfile.worker\n";

/// An app of two services built from Dockerfiles: `web` answers what its `RUN` step wrote
/// (with the build argument GREETING), `worker` logs what its own wrote.
pub fn write_app(ns: &TestNamespace, web_steps: &str, manifest: &str) -> PathBuf {
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

pub const GOOD_STEPS: &str =
    "RUN test ! -e /src/secret.txt && echo \"built for $GREETING\" > /greeting";

pub async fn build(ns: &TestNamespace, dir: &Path, extra: &[&str]) -> Run {
    let (key, value) = push_endpoint();
    let mut args = vec!["build", dir.to_str().unwrap()];
    args.extend(extra);
    run_with(ns.name(), "myapp", &args, &[(key, &value)]).await
}

/// The ID printed after `label` (`Build:` or `Release:`), lower-cased as its object is named.
pub fn printed(run: &Run, label: &str) -> String {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|id| id.trim().to_ascii_lowercase())
        .unwrap_or_else(|| panic!("no {label} line in:\n{}", run.stdout))
}

pub async fn answer(ns: &TestNamespace, want: &str) {
    wait_answer(ns, "slipway.dev/service=web", "myapp-web", want).await;
}

/// The operator of `ns`, with a builder that pushes to the node's registry.
pub fn start_builder(ns: &TestNamespace) -> Operator {
    let flags = builder_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    operator::start_as(ns.name(), ns.name(), &kubeconfig_path(), &flags)
}

/// The App `myapp`, once the operator has told where its builds push (what `convox build` reads).
pub async fn app_with_repository(ns: &TestNamespace) -> App {
    create_app(ns, "myapp", 120).await;
    wait_app(ns, "myapp", "the app's repository", |status| {
        status
            .repository
            .as_ref()
            .map(|_| ())
            .ok_or("no repository yet".to_string())
    })
    .await
}

pub async fn builds(ns: &TestNamespace) -> Vec<Build> {
    ns.api::<Build>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

pub async fn releases_of_build(ns: &TestNamespace, build: &str) -> Vec<Release> {
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

pub async fn build_phase(ns: &TestNamespace, name: &str, want: BuildPhase) -> Build {
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
