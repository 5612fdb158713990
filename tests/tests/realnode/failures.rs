//! Real failure modes, each rolled back automatically and reported in words: a readiness probe
//! that never passes, a process that keeps crashing, an image tag the registry lacks, and a
//! process killed for exceeding its memory limit.

use std::time::{Duration, Instant};

use slipway_crds::env::Env;
use slipway_tests::realnode::{image, testapp_manifest};
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{Node, TestNamespace, operator, with_temp_ns_on};

use super::rolled_back;

/// The App's deadline; crash and pull failures must be seen well before it.
const DEADLINE: i32 = 120;

struct Case {
    app: &'static str,
    manifest: String,
    cause: &'static str,
    /// Words the failure's message must hold.
    says: &'static str,
    /// The deadline of this App, when it is the failure's own limit.
    deadline: i32,
}

fn cases() -> Vec<Case> {
    let missing_tag = testapp_manifest(&[], "").replace(
        &image("testapp"),
        &format!(
            "{}/slipway/testapp:no-such-tag",
            slipway_tests::realnode::registry()
        ),
    );
    vec![
        Case {
            app: "neverready",
            manifest: testapp_manifest(&["NEVER_READY=1"], ""),
            cause: "ProgressDeadlineExceeded",
            says: "made no progress for 20s",
            deadline: 20,
        },
        Case {
            app: "crashes",
            manifest: testapp_manifest(&["EXIT_AFTER=0", "EXIT_CODE=3"], ""),
            cause: "CrashLoop",
            says: "exit code 3",
            deadline: DEADLINE,
        },
        Case {
            app: "notag",
            manifest: missing_tag,
            cause: "ImagePull",
            says: "not found",
            deadline: DEADLINE,
        },
        Case {
            app: "oom",
            manifest: testapp_manifest(&["ALLOCATE_MB=96"], "    scale:\n      memory: 32\n"),
            cause: "CrashLoop",
            says: "killed for exceeding its memory limit",
            deadline: DEADLINE,
        },
    ]
}

#[tokio::test]
async fn real_failures_roll_back_by_themselves_within_their_limits() {
    with_temp_ns_on(Node::Real, "real-fail", |ns| async move {
        let _operator = operator::start(ns.name());
        let runs = cases()
            .into_iter()
            .map(|case| fail_and_roll_back(&ns, case));
        futures::future::join_all(runs).await;
    })
    .await;
}

async fn fail_and_roll_back(ns: &TestNamespace, case: Case) {
    let app = create_app(ns, case.app, case.deadline).await;
    let good = format!("r{}good", case.app);
    let bad = format!("r{}bad", case.app);
    create_release(ns, &app, &good, &testapp_manifest(&[], ""), &Env::new()).await;
    promote(ns, case.app, &good).await;
    wait_app(ns, case.app, "the good release to run", running(&good)).await;

    create_release(ns, &app, &bad, &case.manifest, &Env::new()).await;
    let started = Instant::now();
    promote(ns, case.app, &bad).await;
    let what = format!("{} to roll back for {}", case.app, case.cause);
    let app = wait_app(ns, case.app, &what, rolled_back(&bad, case.cause, &good)).await;
    let took = started.elapsed();
    let failed = app
        .status
        .and_then(|s| s.failed_release)
        .expect("a failed release");
    assert!(
        failed.message.contains(case.says),
        "{}: the reason should say {:?}: {}",
        case.app,
        case.says,
        failed.message
    );
    if case.cause != "ProgressDeadlineExceeded" {
        assert!(
            took < Duration::from_secs(case.deadline as u64 / 2),
            "{}: {} took {took:?}, not well within the {}s deadline",
            case.app,
            case.cause,
            case.deadline
        );
    }
    // The good release serves again, on real pods that are Ready.
    wait_app(ns, case.app, "the good release to serve", |s| {
        let web = s.services.iter().find(|svc| svc.name == "web");
        match web {
            Some(w) if w.ready >= 1 && w.release.as_deref() == Some(good.as_str()) => Ok(()),
            _ => Err("the good release's pods are not ready".into()),
        }
    })
    .await;
}
