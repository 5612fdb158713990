//! Damage done around releases: tampered or deleted env Secrets, a deleted active Release, a
//! hand-edited Deployment, a missing Build, and Builds the operator cannot turn into Releases.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use slipway_crds::build::BuildPhase;
use slipway_crds::{App, Release};
use slipway_tests::TestNamespace;
use slipway_tests::reliability::generations;
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};

use super::Outcome;
use super::operator::{
    TWO, build_outcome, env, make_build, make_release, promote_invalid, replace_secret, reported,
    undisturbed,
};

/// Releases whose env Secret was changed before they were promoted.
pub async fn tampered_cases(ns: &TestNamespace) -> Vec<Outcome> {
    let myapp = ns.api::<App>().get("myapp").await.unwrap();
    let changed = "no longer holds the env the release was made with";
    let bytes = |pairs: &[(&str, &[u8])]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect::<Vec<(String, Vec<u8>)>>()
    };
    // (input, release, its env, what its Secret holds instead, expected message)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        Vec<(String, Vec<u8>)>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "an env Secret deleted and made again with another value",
            "rtamperedta",
            vec![("FOO", "one")],
            bytes(&[("FOO", b"evil")]),
            changed,
        ),
        (
            "an env Secret whose multi-line value `A=x\\nB=y` became two keys `A=x`, `B=y`",
            "rsplitsplit",
            vec![("A", "x\nB=y")],
            bytes(&[("A", b"x"), ("B", b"y")]),
            changed,
        ),
        (
            "an env Secret holding a value that is not UTF-8",
            "rbinarybina",
            vec![("FOO", "one")],
            bytes(&[("FOO", &[0xff, 0xfe])]),
            "env value of FOO is not UTF-8 text",
        ),
    ];
    let mut outcomes = vec![];
    for (input, name, values, data, want) in cases {
        create_release(ns, &myapp, name, TWO, &env(&values)).await;
        replace_secret(ns, &format!("{name}-env"), data.into_iter().collect()).await;
        outcomes.push(promote_invalid(ns, &format!("promote {input}"), name, want).await);
    }

    // A Release holds all it needs: its Build may be gone.
    make_release(ns, "myapp", "rnobuildnob", TWO, |s| {
        s.build = Some("bnosuchbuil".into());
    })
    .await;
    promote(ns, "myapp", "rnobuildnob").await;
    let ran = wait_for_running(ns, "myapp", "rnobuildnob").await;
    promote(ns, "myapp", "rgoodgoodgo").await;
    wait_app(
        ns,
        "myapp",
        "the good release again",
        running("rgoodgoodgo"),
    )
    .await;
    outcomes.push(Outcome::expect(
        "promote a Release whose Build does not exist",
        "runs (a Release holds its manifest, images and env)",
        ran,
        Ok(()),
    ));
    outcomes
}

async fn wait_for_running(ns: &TestNamespace, app: &str, release: &str) -> String {
    let api = ns.api::<App>();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let status = api.get(app).await.unwrap().status.unwrap_or_default();
        if running(release)(&status).is_ok() {
            return "runs (a Release holds its manifest, images and env)".into();
        }
        if tokio::time::Instant::now() >= deadline {
            return format!("phase {:?}, release {:?}", status.phase, status.release);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Damage to what an app runs right now.
pub async fn active_cases(ns: &TestNamespace) -> Vec<Outcome> {
    let mut outcomes = vec![];
    for (input, app, release, want) in [
        (
            "kubectl delete of the active Release",
            "victim1",
            "rvictimonev",
            "no such release: RVICTIMONEV",
        ),
        (
            "kubectl delete of the active release's env Secret (not watched: seen at the next reconcile)",
            "victim2",
            "rvictimtwov",
            "its env Secret rvictimtwov-env is missing",
        ),
    ] {
        let victim = create_app(ns, app, 60).await;
        create_release(ns, &victim, release, TWO, &env(&[("FOO", "one")])).await;
        promote(ns, app, release).await;
        wait_app(ns, app, "the victim's release to run", running(release)).await;
        let before = generations(ns).await;
        if app == "victim1" {
            ns.api::<Release>()
                .delete(release, &DeleteParams::default())
                .await
                .unwrap();
        } else {
            ns.api::<Secret>()
                .delete(&format!("{release}-env"), &DeleteParams::default())
                .await
                .unwrap();
        }
        // Secrets are not watched (the operator may not list them): the damage shows at the
        // next reconcile, which any change to the App, its Deployments or pods, or the resync
        // (5 minutes) brings. A label on the App brings it now.
        let touch = serde_json::json!({"metadata": {"labels": {"touched": "yes"}}});
        ns.api::<App>()
            .patch(app, &PatchParams::default(), &Patch::Merge(&touch))
            .await
            .unwrap();
        let seen = reported(ns, app, want).await;
        let check = undisturbed(ns, app, release, &before).await;
        outcomes.push(Outcome::expect(input, want, seen, check));
    }

    // A person edits a Deployment the operator renders: the operator puts its template back.
    let web = ns.api::<Deployment>();
    let set_image = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "evil:1"}
    ]}}}});
    web.patch(
        "myapp-web",
        &PatchParams::default(),
        &Patch::Strategic(&set_image),
    )
    .await
    .unwrap();
    let image = |d: &Deployment| {
        d.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .image
            .clone()
            .unwrap_or_default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let restored = loop {
        let now = image(&web.get("myapp-web").await.unwrap());
        if now == "nginx:1" || tokio::time::Instant::now() >= deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    outcomes.push(Outcome::expect(
        "kubectl set image on a Deployment the operator renders (image evil:1)",
        "restored to nginx:1",
        format!("restored to {restored}"),
        Ok(()),
    ));
    wait_app(
        ns,
        "myapp",
        "the good release again",
        running("rgoodgoodgo"),
    )
    .await;
    outcomes
}

/// Builds the operator cannot turn into releases: they fail with a reason, and make no Release.
pub async fn build_cases(ns: &TestNamespace) -> Vec<Outcome> {
    let mut outcomes = vec![];
    for (input, name, app, manifest, want) in [
        (
            "a Build of an app that does not exist",
            "bghostghost",
            "ghost",
            TWO,
            "no such app: ghost",
        ),
        (
            "a Build with a source-build service (`build: .`) on an operator without a builder",
            "bsourcesour",
            "myapp",
            "services:\n  web:\n    build: .\n",
            "services web are built from source and this cluster has no builder",
        ),
        (
            "a Build whose manifest is not YAML",
            "bbadyamlbad",
            "myapp",
            "services: [",
            "invalid convox.yml",
        ),
    ] {
        make_build(ns, name, app, manifest).await;
        let (phase, reason) = build_outcome(ns, name).await;
        let releases = ns
            .api::<Release>()
            .list(&ListParams::default())
            .await
            .unwrap();
        let made = releases
            .items
            .iter()
            .any(|r| r.spec.build.as_deref() == Some(name));
        let check = match (phase, made) {
            (Some(BuildPhase::Failed), false) => Ok(()),
            (_, true) => Err("a Release was made".to_string()),
            (other, _) => Err(format!("phase {other:?}")),
        };
        outcomes.push(Outcome::expect(
            &format!("create {input}"),
            want,
            reason,
            check,
        ));
    }
    outcomes
}
