//! The operator killed (SIGKILL) at twenty moments of promotions, rollbacks and automatic
//! rollbacks, then started again: every run must end in the right state with no duplicated or
//! orphaned object. The quick run (`make test`) takes four moments; `make reliability` all.
#![cfg(feature = "cluster")]

mod backwards;
mod cleanup;
mod moments;
mod random;

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use slipway_crds::conditions::{READY, find, reason};
use slipway_crds::{App, AppPhase, Release, env, labels};
use slipway_tests::reliability::{
    Table, full, objects_at_rest, pick, poll, verdict, write_section,
};
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{TestNamespace, operator, wait_for, with_temp_ns};

use moments::{Action, KillAt, Moment, WhileDown, reached, reconciles};

/// Rolls web one pod at a time (no surge), so that a rollout lasts long enough to be caught.
const BASE: &str = "services:
  web:
    image: nginx:1
    port: 5000
    deployment:
      minimum: 50
      maximum: 100
    scale:
      count: 3
  worker:
    image: busybox:1
";
/// Moments of the quick run: one of each kind.
const QUICK: &[usize] = &[4, 9, 13, 17];
/// Moments run at once, each in its own namespace with its own operator.
const AT_ONCE: usize = 4;
/// Random moments of the full run (`make reliability`) and of the quick one (`make test`).
const RANDOM_FULL: usize = 8;
const RANDOM_QUICK: usize = 1;

fn manifest(action: Action) -> String {
    let annotated = |a: &str| {
        BASE.replace(
            "    port: 5000\n",
            &format!("    port: 5000\n    annotations:\n      - {a}=true\n"),
        )
    };
    match action {
        Action::Promote | Action::Rollback => BASE.to_string(),
        Action::RemoveService => BASE.split("  worker:").next().unwrap().to_string(),
        Action::AddService => format!("{BASE}  queue:\n    image: busybox:1\n"),
        Action::NeverReady => annotated(slipway_tests::NEVER_READY_ANNOTATION),
        Action::CrashLoop => annotated(slipway_tests::CRASHLOOP_ANNOTATION),
    }
}

/// One row of the report.
struct Row {
    moment: String,
    at_kill: String,
    end: String,
    pass: bool,
}

#[tokio::test]
async fn the_operator_killed_at_twenty_moments_ends_right_with_nothing_duplicated() {
    let rows = run_all(pick(moments::all(), QUICK)).await;
    report("crash", "Operator killed", &rows);
}

#[tokio::test]
async fn the_operator_killed_at_random_moments_ends_right_and_the_seed_replays_them() {
    let seed = random::seed();
    let count = if full() { RANDOM_FULL } else { RANDOM_QUICK };
    let rows = run_all(random::moments(seed, count)).await;
    let title = format!(
        "Operator killed at random moments (`{}={seed}` replays them)",
        random::SEED_VAR
    );
    report("crash-random", &title, &rows);
}

/// Runs `moments`, [`AT_ONCE`] at a time, each in its own namespace.
async fn run_all(moments: Vec<Moment>) -> Vec<Row> {
    futures::stream::iter(moments)
        .map(|m| async move {
            let name = m.name.clone();
            let seen = Arc::new(Mutex::new(String::from("(not reached)")));
            let seen2 = seen.clone();
            let result = AssertUnwindSafe(with_temp_ns("crash", move |ns| async move {
                run(&ns, &m, &seen2).await;
            }))
            .catch_unwind()
            .await;
            let at_kill = seen.lock().unwrap().clone();
            let (end, pass) = match result {
                Ok(()) => ("right state; objects exact".to_string(), true),
                Err(panic) => (panic_text(&panic), false),
            };
            Row {
                moment: name,
                at_kill,
                end,
                pass,
            }
        })
        .buffered(AT_ONCE)
        .collect()
        .await
}

/// Prints the table (and in a full run writes it to RELIABILITY.md); fails if a moment failed.
fn report(section: &str, title: &str, rows: &[Row]) {
    let mut table = Table::new(&[
        "#",
        "killed when",
        "seen at the kill",
        "after restart",
        "pass",
    ]);
    for (i, r) in rows.iter().enumerate() {
        table.row(&[
            (i + 1).to_string(),
            r.moment.clone(),
            r.at_kill.clone(),
            r.end.clone(),
            verdict(r.pass),
        ]);
    }
    if full() {
        let passed = rows.iter().filter(|r| r.pass).count();
        write_section(
            section,
            &format!(
                "### {title}: {passed} of {} moments end right\n\n{}",
                rows.len(),
                table.markdown()
            ),
        );
    }
    eprintln!("{title}\n{}", table.markdown());
    assert!(
        rows.iter().all(|r| r.pass),
        "some moments failed ({title}):\n{}",
        table.markdown()
    );
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}

async fn run(ns: &TestNamespace, m: &Moment, seen: &Mutex<String>) {
    let mut operator = operator::start(ns.name());
    let deadline = if matches!(m.action, Action::NeverReady) {
        15
    } else {
        60
    };
    let app = create_app(ns, "myapp", deadline).await;
    let one = [("FOO".to_string(), "1".to_string())].into();
    create_release(ns, &app, "rone", BASE, &one).await;
    promote(ns, "myapp", "rone").await;
    wait_app(ns, "myapp", "the first release to run", running("rone")).await;

    let target = match m.action {
        Action::Rollback => {
            create_release(
                ns,
                &app,
                "rtwo",
                BASE,
                &[("FOO".to_string(), "2".to_string())].into(),
            )
            .await;
            promote(ns, "myapp", "rtwo").await;
            wait_app(ns, "myapp", "the second release to run", running("rtwo")).await;
            rollback_copy(ns, "rone", "rcopyofone").await;
            "rcopyofone".to_string()
        }
        action => {
            let env = [("FOO".to_string(), "2".to_string())].into();
            create_release(ns, &app, "rtarget", &manifest(action), &env).await;
            "rtarget".to_string()
        }
    };
    if matches!(m.down, WhileDown::PromoteAnother) {
        create_release(
            ns,
            &app,
            "rthree",
            BASE,
            &[("FOO".to_string(), "3".to_string())].into(),
        )
        .await;
    }

    let baseline = reconciles(&operator);
    promote(ns, "myapp", &target).await;
    let what = format!("the kill moment: {}", m.name);
    if let KillAt::After(wait) = m.kill {
        tokio::time::sleep(wait).await;
    }
    let at = poll(Duration::from_secs(120), &what, || {
        moments_reached(ns, &operator, m, &target, baseline)
    })
    .await;
    operator.kill();
    *seen.lock().unwrap() = at;

    let mut final_release = target.clone();
    match m.down {
        WhileDown::Nothing => tokio::time::sleep(Duration::from_secs(1)).await,
        WhileDown::PromoteAnother => {
            promote(ns, "myapp", "rthree").await;
            final_release = "rthree".into();
        }
        WhileDown::KillAgain(n) => {
            operator.restart();
            let again = reconciles(&operator);
            poll(
                Duration::from_secs(120),
                "the second operator's reconciles",
                || {
                    let count = reconciles(&operator);
                    async move {
                        if count >= again + n {
                            Ok(())
                        } else {
                            Err(count)
                        }
                    }
                },
            )
            .await;
            operator.kill();
        }
    }
    operator.restart();

    if matches!(m.action, Action::NeverReady | Action::CrashLoop) {
        wait_app(ns, "myapp", "the automatic rollback to end", |s| {
            rolled_back(s, &target)
        })
        .await;
        final_release = "rone".into();
    } else {
        wait_app(
            ns,
            "myapp",
            "the promoted release to run",
            running(&final_release),
        )
        .await;
    }
    wait_for(
        Duration::from_secs(90),
        "exactly the objects of the final release",
        || objects_at_rest(ns, "myapp", &final_release),
    )
    .await;
    let status = ns
        .api::<App>()
        .get("myapp")
        .await
        .unwrap()
        .status
        .unwrap_or_default();
    let twice = status.history.windows(2).find(|w| {
        (&w[0].release, &w[0].from, &w[0].result) == (&w[1].release, &w[1].from, &w[1].result)
    });
    assert!(twice.is_none(), "a promotion was recorded twice: {twice:?}");
}

async fn moments_reached(
    ns: &TestNamespace,
    operator: &operator::Operator,
    m: &Moment,
    target: &str,
    baseline: usize,
) -> Result<String, String> {
    reached(ns, operator, m.kill, target, "rone", baseline).await
}

fn rolled_back(s: &slipway_crds::AppStatus, failed: &str) -> Result<(), String> {
    let ready = find(&s.conditions, READY).map(|c| (c.status.as_str(), c.reason.as_str()));
    let ok = s.release.as_deref() == Some("rone")
        && s.failed_release
            .as_ref()
            .is_some_and(|f| f.release == failed)
        && s.phase == Some(AppPhase::Failed)
        && ready == Some(("False", reason::ROLLED_BACK));
    if ok {
        Ok(())
    } else {
        Err("not rolled back yet".into())
    }
}

/// Copies release `from` into `name` the way `convox releases rollback` does.
async fn rollback_copy(ns: &TestNamespace, from: &str, name: &str) {
    let source = ns
        .api::<Release>()
        .get(from)
        .await
        .expect("the release to roll back to");
    let secret_name = source
        .spec
        .env_secret
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let values = env::from_secret(&ns.api::<Secret>().get(&secret_name).await.unwrap()).unwrap();
    let (secret, reference) = env::pinned_secret("myapp", name, &values);
    ns.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let mut spec = source.spec.rollback_copy(from);
    spec.env_secret = Some(reference);
    let mut copy = Release::new(name, spec);
    copy.metadata.labels = Some(labels::app_labels("myapp"));
    ns.api::<Release>()
        .create(&PostParams::default(), &copy)
        .await
        .unwrap();
}
