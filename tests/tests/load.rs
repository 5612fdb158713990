//! Load: many people at once, each with the CLI on an app of their own, change its env and
//! promote the release that made, again and again. Every command must succeed, no change may be
//! lost (each app's env holds every key a command reported set, and runs the last release its
//! person promoted), and the run reports p50/p99 latency per command and the operator's peak
//! memory. `make reliability` runs 50 people for two minutes and writes RELIABILITY.md; `make
//! test` runs 5 people for 20 seconds; `SLIPWAY_LOAD=<people>x<seconds>` runs another shape.
#![cfg(feature = "cluster")]

use std::time::{Duration, Instant};

use futures::StreamExt;
use slipway_crds::App;
use slipway_tests::cli::convox;
use slipway_tests::reliability::{Table, full, write_section};
use slipway_tests::slipway::{create_app, create_release, running, wait_app};
use slipway_tests::{TestNamespace, operator, with_temp_ns};

const MANIFEST: &str = "services:
  web:
    image: nginx:1
    port: 5000
  worker:
    image: busybox:1
";

/// People (one app each) and how long they work: `SLIPWAY_LOAD=<people>x<seconds>` when set,
/// else the full run's or the quick one's.
fn shape() -> (usize, Duration) {
    let asked = std::env::var("SLIPWAY_LOAD").ok().and_then(|v| {
        let (people, secs) = v.split_once('x')?;
        Some((
            people.parse().ok()?,
            Duration::from_secs(secs.parse().ok()?),
        ))
    });
    if let Some(shape) = asked {
        shape
    } else if full() {
        (50, Duration::from_secs(120))
    } else {
        (5, Duration::from_secs(20))
    }
}

/// What one person did: the latency of each command by kind, what they set, what they promoted.
#[derive(Default)]
struct Work {
    env_set: Vec<Duration>,
    promote: Vec<Duration>,
    keys: Vec<String>,
    last: Option<String>,
    failures: Vec<String>,
}

async fn person(ns: String, app: String, until: Instant) -> Work {
    let mut work = Work::default();
    let mut round = 0;
    while Instant::now() < until {
        let key = format!("K{round}=v{round}");
        let started = Instant::now();
        let set = convox(&ns, &app, &["env", "set", &key, "--id"]).await;
        work.env_set.push(started.elapsed());
        if !set.ok() {
            work.failures
                .push(format!("env set {key}: {}", set.error()));
            continue;
        }
        work.keys.push(key);
        let id = set.stdout.trim().to_string();
        let started = Instant::now();
        let promoted = convox(&ns, &app, &["releases", "promote", &id]).await;
        work.promote.push(started.elapsed());
        if promoted.ok() {
            work.last = Some(id);
        } else {
            work.failures
                .push(format!("promote {id}: {}", promoted.error()));
        }
        round += 1;
    }
    work
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn seconds(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Makes `app` with a first release, promoted with the CLI as its person will promote the next
/// ones (spec.release then has one manager, `convox`).
async fn setup(ns: &TestNamespace, index: usize, app: String) {
    let created = create_app(ns, &app, 120).await;
    // An ID of the CLI's form: R and ten letters.
    let letters: String = (0..5)
        .map(|k| char::from(b'a' + ((index / 26usize.pow(k)) % 26) as u8))
        .collect();
    let first = format!("rfirst{letters}");
    create_release(ns, &created, &first, MANIFEST, &Default::default()).await;
    let run = convox(
        ns.name(),
        &app,
        &["releases", "promote", &first.to_uppercase()],
    )
    .await;
    assert!(run.ok(), "the first promotion of {app}: {}", run.error());
    wait_app(ns, &app, "the first release to run", running(&first)).await;
}

/// Nothing lost: every key a command set is in the app's env, and the app runs the release its
/// person promoted last.
async fn lost(ns: &TestNamespace, app: &str, work: &Work) -> Vec<String> {
    let mut lost = vec![];
    let env = convox(ns.name(), app, &["env"]).await;
    for key in &work.keys {
        if !env.stdout.lines().any(|l| l == key) {
            lost.push(format!("{app}: {key} missing from `convox env`"));
        }
    }
    if let Some(last) = &work.last {
        let want = last.to_lowercase();
        let status = ns.api::<App>().get(app).await.ok().and_then(|a| a.status);
        let release = status.and_then(|s| s.release);
        if release.as_deref() != Some(want.as_str()) {
            lost.push(format!("{app}: runs {release:?}, promoted {want} last"));
        }
    }
    lost
}

#[tokio::test]
async fn people_changing_env_and_promoting_at_once_lose_nothing() {
    with_temp_ns("load", |ns| async move {
        let (people, length) = shape();
        let operator = operator::start(ns.name());
        let apps: Vec<String> = (0..people).map(|i| format!("app{i}")).collect();
        futures::stream::iter(apps.clone().into_iter().enumerate())
            .for_each_concurrent(10, |(i, app)| setup(&ns, i, app))
            .await;

        let started = Instant::now();
        let until = started + length;
        let runs = apps
            .iter()
            .map(|app| tokio::spawn(person(ns.name().to_string(), app.clone(), until)));
        let works: Vec<Work> = futures::future::join_all(runs)
            .await
            .into_iter()
            .map(|w| w.expect("a person's task"))
            .collect();
        let took = started.elapsed();
        let peak = operator.peak_mib();

        let mut lost_changes = vec![];
        for (app, work) in apps.iter().zip(&works) {
            lost_changes.extend(lost(&ns, app, work).await);
        }
        let failures: Vec<&String> = works.iter().flat_map(|w| &w.failures).collect();
        let mut env_set: Vec<Duration> = works.iter().flat_map(|w| w.env_set.clone()).collect();
        let mut promotes: Vec<Duration> = works.iter().flat_map(|w| w.promote.clone()).collect();
        env_set.sort();
        promotes.sort();
        let changes: usize = works.iter().map(|w| w.keys.len()).sum();

        let mut table = Table::new(&["command", "runs", "p50", "p99", "slowest"]);
        for (name, runs) in [
            ("`convox env set K=V --id`", &env_set),
            ("`convox releases promote R` (to rolled out)", &promotes),
        ] {
            table.row(&[
                name.to_string(),
                runs.len().to_string(),
                seconds(percentile(runs, 0.50)),
                seconds(percentile(runs, 0.99)),
                seconds(runs.last().copied().unwrap_or_default()),
            ]);
        }
        let summary = format!(
            "### {people} people at once for {}s: {changes} env changes, {} lost, {} commands failed\n\n\
             {}\nOperator peak memory (VmHWM): {peak:.0} MiB.\n",
            took.as_secs(),
            lost_changes.len(),
            failures.len(),
            table.markdown(),
        );
        eprintln!("{summary}");
        if full() {
            write_section("load", &summary);
        }
        assert!(failures.is_empty(), "commands failed: {failures:#?}");
        assert!(lost_changes.is_empty(), "changes lost: {lost_changes:#?}");
        assert!(
            works.iter().all(|w| w.last.is_some()),
            "every person promoted at least once"
        );
    })
    .await;
}
