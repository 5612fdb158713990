//! Unusable releases and builds that only the operator can judge: each is reported on the App
//! (condition and Event) or the Build, and nothing that runs is disturbed.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, PostParams};
use slipway_crds::build::BuildPhase;
use slipway_crds::conditions::{READY, find, reason};
use slipway_crds::env::{self, Env};
use slipway_crds::{App, Build, BuildSpec, Release, ReleaseSpec, labels};
use slipway_tests::reliability::{generations, scrub};
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{TestNamespace, operator};

use super::{Outcome, in_namespace};

pub const TWO: &str =
    "services:\n  web:\n    image: nginx:1\n    port: 80\n  worker:\n    image: busybox:1\n";
/// How long the operator may take to report a case.
const REPORTED: Duration = Duration::from_secs(60);

pub use slipway_crds::env::from_pairs as env;

/// Creates release `name` of `app` as the CLI does, after `tweak` changed its spec.
pub async fn make_release(
    ns: &TestNamespace,
    app: &str,
    name: &str,
    manifest: &str,
    tweak: impl FnOnce(&mut ReleaseSpec),
) {
    let (secret, reference) = env::pinned_secret(app, name, &Env::new());
    let mut spec = ReleaseSpec {
        app: app.into(),
        manifest: manifest.into(),
        env_secret: Some(reference.clone()),
        created: Some(slipway_crds::stamp::now_stamp()),
        ..ReleaseSpec::default()
    };
    tweak(&mut spec);
    // The Secret is made only if the tweak left the release naming it.
    if spec.env_secret.as_ref() == Some(&reference) {
        ns.api::<Secret>()
            .create(&PostParams::default(), &secret)
            .await
            .expect("create env Secret");
    }
    let mut release = Release::new(name, spec);
    release.metadata.labels = Some(labels::app_labels(app));
    ns.api::<Release>()
        .create(&PostParams::default(), &release)
        .await
        .unwrap_or_else(|e| panic!("create Release {name}: {e}"));
}

/// Replaces a release's env Secret with one holding `data`.
pub async fn replace_secret(ns: &TestNamespace, name: &str, data: BTreeMap<String, Vec<u8>>) {
    let api = ns.api::<Secret>();
    let mut secret = api.get(name).await.expect("the env Secret");
    api.delete(name, &DeleteParams::default())
        .await
        .expect("delete the env Secret");
    secret.metadata = kube::api::ObjectMeta {
        name: secret.metadata.name,
        labels: secret.metadata.labels,
        ..Default::default()
    };
    secret.data = Some(data.into_iter().map(|(k, v)| (k, ByteString(v))).collect());
    api.create(&PostParams::default(), &secret)
        .await
        .expect("create the replaced env Secret");
}

/// The App's Ready message once it is InvalidRelease with `want` in it (or the last one seen).
pub async fn reported(ns: &TestNamespace, app: &str, want: &str) -> String {
    let deadline = tokio::time::Instant::now() + REPORTED;
    loop {
        let a = ns.api::<App>().get(app).await.expect("get App");
        let status = a.status.unwrap_or_default();
        let ready = find(&status.conditions, READY).cloned();
        let message = ready
            .as_ref()
            .map(|c| c.message.clone())
            .unwrap_or_default();
        let invalid = ready.is_some_and(|c| c.reason == reason::INVALID_RELEASE);
        if (invalid && message.contains(want)) || tokio::time::Instant::now() >= deadline {
            return scrub(&message, ns.name());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether `app` still serves `release` with the Deployments and the status it had.
pub async fn undisturbed(
    ns: &TestNamespace,
    app: &str,
    release: &str,
    before: &BTreeMap<String, i64>,
) -> Result<(), String> {
    let status = ns
        .api::<App>()
        .get(app)
        .await
        .unwrap()
        .status
        .unwrap_or_default();
    let now = generations(ns).await;
    if &now != before {
        return Err(format!(
            "Deployment generations moved: {before:?} -> {now:?}"
        ));
    }
    if status.release.as_deref() != Some(release) {
        return Err(format!("status.release is {:?}", status.release));
    }
    if status.services.is_empty() {
        return Err("status.services lost what runs".into());
    }
    Ok(())
}

/// The operator cases.
pub async fn cases() -> Vec<Outcome> {
    in_namespace("bad-operator", run).await
}

async fn run(ns: &TestNamespace) -> Vec<Outcome> {
    let _operator = operator::start(ns.name());
    let myapp = create_app(ns, "myapp", 60).await;
    let other = create_app(ns, "other", 60).await;
    create_release(ns, &myapp, "rgoodgoodgo", TWO, &env(&[("FOO", "one")])).await;
    create_release(ns, &other, "rotherother", TWO, &Env::new()).await;
    promote(ns, "myapp", "rgoodgoodgo").await;
    wait_app(
        ns,
        "myapp",
        "the good release to run",
        running("rgoodgoodgo"),
    )
    .await;

    let mut outcomes = promoted_cases(ns).await;
    outcomes.extend(super::damage::tampered_cases(ns).await);
    outcomes.extend(super::damage::active_cases(ns).await);
    outcomes.extend(super::damage::build_cases(ns).await);
    outcomes
}

async fn promoted_cases(ns: &TestNamespace) -> Vec<Outcome> {
    let web = |extra: &str| format!("services:\n  web:\n    image: nginx:1\n{extra}");
    // (input, release, manifest, spec tweak, expected message)
    type Tweak = Box<dyn FnOnce(&mut ReleaseSpec) + Send>;
    let none = || -> Tweak { Box::new(|_| {}) };
    let cases: Vec<(&str, &str, String, Tweak, &str)> = vec![
        (
            "a release that does not exist",
            "rmissingrel",
            String::new(),
            none(),
            "no such release: RMISSINGREL",
        ),
        (
            "a Release of another app",
            "rotherother",
            String::new(),
            none(),
            "release ROTHEROTHER belongs to app other, not myapp",
        ),
        (
            "a manifest that is not YAML (`services: [`)",
            "rbadyamlbad",
            "services: [".into(),
            none(),
            "invalid convox.yml",
        ),
        (
            "an unknown top-level manifest field (`servces:`)",
            "rtypotypoty",
            "servces:\n  web:\n    image: nginx\n".into(),
            none(),
            "unknown field \"servces\"",
        ),
        (
            "an unknown service field (`imagee:`)",
            "rimageeimag",
            "services:\n  web:\n    imagee: nginx\n".into(),
            none(),
            "unknown field",
        ),
        (
            "a required env var the release lacks (`environment: [TOKEN]`)",
            "rneedsenvvv",
            format!("environment: [TOKEN]\n{}", web("")),
            none(),
            "required env: TOKEN",
        ),
        (
            "a source-build service without image (`build: .`)",
            "rsourcesrcs",
            "services:\n  web:\n    build: .\n".into(),
            none(),
            "service web has no image",
        ),
        (
            "negative scale (`scale: {count: -1}`)",
            "rnegscalene",
            web("    scale:\n      count: -1\n"),
            none(),
            "scale.count must be a whole number (0 or more)",
        ),
        (
            "port 99999",
            "rbadportbad",
            web("    port: 99999\n"),
            none(),
            "port must be a number from 1 to 65535",
        ),
        (
            "a health path without / (`health: healthz`)",
            "rbadhealthb",
            web("    port: 80\n    health: healthz\n"),
            none(),
            "health path must start with /",
        ),
        (
            "a reserved pod label (`labels: {slipway.dev/app: x}`)",
            "rreservedre",
            web("    labels:\n      slipway.dev/app: x\n"),
            none(),
            "is reserved for Slipway",
        ),
        (
            "an image with spaces (`images: {web: \" nginx \"}`)",
            "rspacedimag",
            TWO.into(),
            Box::new(|s: &mut ReleaseSpec| {
                s.images.insert("web".into(), " nginx ".into());
            }),
            "image \" nginx \" of service web",
        ),
        (
            "an empty image (`images: {worker: \"\"}`)",
            "remptyimage",
            TWO.into(),
            Box::new(|s: &mut ReleaseSpec| {
                s.images.insert("worker".into(), String::new());
            }),
            "image \"\" of service worker",
        ),
        (
            "an env Secret that was never made",
            "rnosecretno",
            TWO.into(),
            Box::new(|s: &mut ReleaseSpec| {
                if let Some(r) = s.env_secret.as_mut() {
                    r.name = "rnosecretno-gone".into();
                }
            }),
            "its env Secret rnosecretno-gone is missing",
        ),
        (
            "a hand-written Release whose `<name>-env` Secret someone made first, with other values",
            "rsquatsquat",
            TWO.into(),
            Box::new(|s: &mut ReleaseSpec| {
                s.env_secret = None;
                s.env.insert("FOO".into(), "one".into());
            }),
            "holds other values than the release's env",
        ),
        (
            "1.1 MiB of plain env in a hand-written Release",
            "rhugeenvhug",
            TWO.into(),
            Box::new(|s: &mut ReleaseSpec| {
                s.env_secret = None;
                s.env.insert("BIG".into(), "x".repeat(1100 << 10));
            }),
            "Kubernetes Secrets hold at most 1 MiB",
        ),
    ];
    let mut outcomes = vec![];
    for (input, name, manifest, tweak, want) in cases {
        if name == "rsquatsquat" {
            let squatter = env(&[("FOO", "evil")]);
            let (secret, _) = env::pinned_secret("myapp", name, &squatter);
            ns.api::<Secret>()
                .create(&PostParams::default(), &secret)
                .await
                .expect("create the squatting Secret");
        }
        if !manifest.is_empty() {
            make_release(ns, "myapp", name, &manifest, tweak).await;
        }
        outcomes.push(promote_invalid(ns, &format!("promote {input}"), name, want).await);
    }
    outcomes
}

/// Promotes `release` and expects it reported invalid with `want`, the app undisturbed; then
/// promotes the good release back.
pub async fn promote_invalid(
    ns: &TestNamespace,
    input: &str,
    release: &str,
    want: &str,
) -> Outcome {
    let before = generations(ns).await;
    promote(ns, "myapp", release).await;
    let seen = reported(ns, "myapp", want).await;
    let check = undisturbed(ns, "myapp", "rgoodgoodgo", &before).await;
    promote(ns, "myapp", "rgoodgoodgo").await;
    wait_app(
        ns,
        "myapp",
        "the good release again",
        running("rgoodgoodgo"),
    )
    .await;
    Outcome::expect(input, want, seen, check)
}

/// A Build of `app` with `manifest`.
pub async fn make_build(ns: &TestNamespace, name: &str, app: &str, manifest: &str) {
    let build = Build::new(
        name,
        BuildSpec {
            app: app.into(),
            manifest: manifest.into(),
            ..BuildSpec::default()
        },
    );
    ns.api::<Build>()
        .create(&PostParams::default(), &build)
        .await
        .expect("create Build");
}

/// The Build's phase and reason once it failed (or whatever it is after a minute).
pub async fn build_outcome(ns: &TestNamespace, name: &str) -> (Option<BuildPhase>, String) {
    let deadline = tokio::time::Instant::now() + REPORTED;
    loop {
        let b = ns.api::<Build>().get(name).await.expect("get Build");
        let status = b.status.unwrap_or_default();
        if status.phase.is_some() || tokio::time::Instant::now() >= deadline {
            return (status.phase, status.reason.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
