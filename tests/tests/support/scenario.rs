//! What an operator must be able to do, whoever it runs as: make a Build's Release, promote
//! releases (one with env in its spec), roll a failing release back by itself, and say so in Events.

use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use slipway_crds::build::BuildPhase;
use slipway_crds::conditions::{READY, find, reason};
use slipway_crds::{App, AppPhase, Build, BuildSpec, env};
use slipway_tests::slipway::{CONVERGE, create_app, create_release, promote, running, wait_app};
use slipway_tests::{NEVER_READY_ANNOTATION, TestNamespace, wait_for};

const MANIFEST: &str = "services:
  web:
    image: nginx:1
    port: 5000
    scale:
      count: 2
  worker:
    image: busybox:1
";

/// Runs the whole life of an App; panics at the first thing the operator could not do.
pub async fn promote_build_and_roll_back(ns: &TestNamespace) {
    let app = create_app(ns, "myapp", 10).await;
    let first = env::Env::from([("FOO".to_string(), "one".to_string())]);
    create_release(ns, &app, "rfirstfirst", MANIFEST, &first).await;
    promote(ns, "myapp", "rfirstfirst").await;
    wait_app(
        ns,
        "myapp",
        "the first release to run",
        running("rfirstfirst"),
    )
    .await;

    // A Build: the operator creates its Release and pinned env Secret.
    let build = Build::new(
        "bbuildbuild",
        BuildSpec {
            app: "myapp".into(),
            manifest: MANIFEST.replace("nginx:1", "nginx:2"),
            description: "build 0a1b2c3d4e second".into(),
            ..BuildSpec::default()
        },
    );
    ns.api::<Build>()
        .create(&PostParams::default(), &build)
        .await
        .expect("create Build");
    let builds = ns.api::<Build>();
    wait_for(CONVERGE, "the build's release", || {
        let builds = builds.clone();
        async move {
            let status = builds
                .get("bbuildbuild")
                .await
                .map_err(|e| e.to_string())?
                .status;
            match status.unwrap_or_default() {
                s if s.phase == Some(BuildPhase::Complete) => Ok(()),
                s => Err(format!("{:?} {:?}", s.phase, s.reason)),
            }
        }
    })
    .await;
    promote(ns, "myapp", "rbuildbuild").await;
    wait_app(
        ns,
        "myapp",
        "the build's release to run",
        running("rbuildbuild"),
    )
    .await;

    // A hand-written release with env in its spec: the operator pins it in a Secret.
    let release = json!({
        "apiVersion": "slipway.dev/v1alpha1",
        "kind": "Release",
        "metadata": { "name": "handwritten" },
        "spec": { "app": "myapp", "manifest": MANIFEST, "env": { "FOO": "three" } },
    });
    ns.api::<slipway_crds::Release>()
        .patch(
            "handwritten",
            &PatchParams::apply("kubectl"),
            &Patch::Apply(&release),
        )
        .await
        .expect("apply a hand-written Release");
    promote(ns, "myapp", "handwritten").await;
    wait_app(
        ns,
        "myapp",
        "the hand-written release to run",
        running("handwritten"),
    )
    .await;

    // A release that never becomes ready is rolled back by the operator itself.
    let never_ready = MANIFEST.replace(
        "    scale:\n      count: 2\n",
        &format!("    annotations:\n      - {NEVER_READY_ANNOTATION}=true\n"),
    );
    create_release(ns, &app, "rneverready", &never_ready, &first).await;
    promote(ns, "myapp", "rneverready").await;
    wait_app(ns, "myapp", "an automatic rollback", |s| {
        let ready = find(&s.conditions, READY).map(|c| c.reason.as_str());
        match (&s.phase, s.release.as_deref(), ready) {
            (Some(AppPhase::Failed), Some("handwritten"), Some(reason::ROLLED_BACK)) => Ok(()),
            _ => Err("not rolled back yet".to_string()),
        }
    })
    .await;

    // Every status change was an Event from the operator. Events are published after the status
    // is saved, so the last one may follow the status this test saw by a few ms: wait for it.
    let expected = [
        "StatusChanged: Status: Pending => Updating",
        "StatusChanged: Status: Updating => Running",
        "StatusChanged: Status: Updating => RollingBack",
        "StatusChanged: Status: RollingBack => Failed",
        "RolloutFailed: release RNEVERREADY failed",
    ];
    wait_for(CONVERGE, "every status change as an Event", || async {
        let events = ns
            .api::<Event>()
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let notes: Vec<_> = events
            .items
            .iter()
            .filter(|e| e.reporting_controller.as_deref() == Some("slipway-operator"))
            .filter_map(|e| Some(format!("{}: {}", e.reason.as_deref()?, e.note.as_deref()?)))
            .collect();
        match expected
            .iter()
            .find(|want| !notes.iter().any(|n| n.starts_with(*want)))
        {
            Some(missing) => Err(format!(
                "no Event {missing:?} from the operator among {notes:?}"
            )),
            None => Ok(()),
        }
    })
    .await;
    let app = ns.api::<App>().get("myapp").await.expect("get App");
    assert_eq!(
        app.spec.release.as_deref(),
        Some("rneverready"),
        "spec untouched"
    );
}
