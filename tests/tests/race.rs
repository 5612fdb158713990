//! Races: two promotions of different releases at once (50 rounds in the full run), and two
//! `convox env set` at once. At rest the release that won runs everywhere and the App says so;
//! no env change is silently lost.
#![cfg(feature = "cluster")]

use std::collections::BTreeMap;
use std::time::Duration;

use rand::RngExt;
use slipway_crds::App;
use slipway_tests::cli::{Run, convox};
use slipway_tests::reliability::{
    Table, env_secrets, full, objects_at_rest, verdict, write_section,
};
use slipway_tests::slipway::{CONVERGE, create_app, create_release, promote, running, wait_app};
use slipway_tests::{TestNamespace, operator, wait_for, with_temp_ns};

const MANIFEST: &str = "services:
  web:
    image: nginx:1
    port: 5000
    scale:
      count: 2
  worker:
    image: busybox:1
";
/// Releases named as the CLI names them (R and ten letters), so the CLI takes their IDs.
const POOL: [&str; 4] = ["rpoolzeroaa", "rpoolonebbb", "rpooltwoccc", "rpoolthreed"];

fn rounds(quick: usize, full_run: usize) -> usize {
    if full() { full_run } else { quick }
}

/// How one side of a race promotes.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// A merge patch of spec.release, as kubectl or a GitOps tool writes it.
    Api,
    /// `convox releases promote`, which follows the rollout.
    Cli,
}

async fn promote_via(ns: &TestNamespace, via: Via, release: &str, delay: Duration) -> Option<Run> {
    tokio::time::sleep(delay).await;
    match via {
        Via::Api => {
            promote(ns, "myapp", release).await;
            None
        }
        Via::Cli => {
            let id = release.to_uppercase();
            Some(
                convox(
                    ns.name(),
                    "myapp",
                    &[
                        "releases",
                        "promote",
                        &id,
                        "--supersede",
                        "--timeout",
                        "120s",
                    ],
                )
                .await,
            )
        }
    }
}

#[tokio::test]
async fn two_promotions_racing_end_with_the_winner_everywhere() {
    with_temp_ns("race-promote", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        for (i, name) in POOL.iter().enumerate() {
            let env = [("ROUND".to_string(), i.to_string())].into();
            create_release(&ns, &app, name, MANIFEST, &env).await;
        }
        promote(&ns, "myapp", POOL[0]).await;
        wait_app(&ns, "myapp", "the first release to run", running(POOL[0])).await;

        let mut table = Table::new(&["round", "racers", "won", "at rest", "pass"]);
        let mut wins: BTreeMap<String, usize> = BTreeMap::new();
        let mut current = POOL[0].to_string();
        for round in 0..rounds(5, 50) {
            let (a, b, via, delays) = pick_racers(&current, round);
            let (run_a, run_b) = tokio::join!(
                promote_via(&ns, via, a, delays.0),
                promote_via(&ns, via, b, delays.1)
            );
            let won = ns.api::<App>().get("myapp").await.unwrap().spec.release.unwrap_or_default();
            wait_app(&ns, "myapp", &format!("round {round}: {won} to run"), running(&won)).await;
            wait_for(CONVERGE, &format!("round {round}: only {won}'s objects"), || {
                objects_at_rest(&ns, "myapp", &won)
            })
            .await;
            // The side that promoted the winner followed it to the end.
            for (run, release) in [(&run_a, a), (&run_b, b)] {
                if let Some(run) = run.as_ref().filter(|_| release == won) {
                    assert!(run.ok(), "round {round}: the CLI that promoted the winner {won}: {}", run.error());
                }
            }
            table.row(&[
                round.to_string(),
                format!("{a} vs {b} ({via:?}, {}ms/{}ms)", delays.0.as_millis(), delays.1.as_millis()),
                won.clone(),
                "every Deployment and Pod on it, App Running it".into(),
                verdict(true),
            ]);
            *wins.entry(won.clone()).or_default() += 1;
            current = won;
        }
        if full() {
            write_section(
                "race-promote",
                &format!(
                    "### Two promotions racing: {} rounds, all at rest on the winner (wins: {wins:?})\n\n{}",
                    rounds(5, 50),
                    table.markdown()
                ),
            );
        }
    })
    .await;
}

/// Two releases other than `current`, the way to promote, and each side's delay (up to 1.5 s,
/// so that the second promotion often lands in the middle of the first one's rollout).
fn pick_racers(
    current: &str,
    round: usize,
) -> (&'static str, &'static str, Via, (Duration, Duration)) {
    let others: Vec<&'static str> = POOL.iter().copied().filter(|r| *r != current).collect();
    let mut rng = rand::rng();
    let first = rng.random_range(0..others.len());
    let second = (first + 1 + rng.random_range(0..others.len() - 1)) % others.len();
    let via = if round % 3 == 2 { Via::Cli } else { Via::Api };
    let mut ms = |max: u64| Duration::from_millis(rng.random_range(0..=max));
    let delays = match round % 3 {
        0 => (Duration::ZERO, Duration::ZERO),
        _ => (ms(200), ms(1500)),
    };
    (others[first], others[second], via, delays)
}

#[tokio::test]
async fn two_env_sets_racing_lose_no_change() {
    with_temp_ns("race-env", |ns| async move {
        let app = create_app(&ns, "myapp", 60).await;
        create_release(&ns, &app, "rbasebaseba", MANIFEST, &Default::default()).await;
        let mut expected: BTreeMap<String, String> = BTreeMap::new();
        let mut table = Table::new(&["round", "commands", "exit codes", "env afterwards", "pass"]);
        for round in 0..rounds(3, 20) {
            let (ka, kb) = (format!("A{round}"), format!("B{round}"));
            let (va, vb) = (format!("{ka}=a{round}"), format!("{kb}=b{round}"));
            let (args_a, args_b) = (["env", "set", va.as_str()], ["env", "set", vb.as_str()]);
            let (ra, rb) = tokio::join!(
                convox(ns.name(), "myapp", &args_a),
                convox(ns.name(), "myapp", &args_b)
            );
            for (run, key, value) in [(&ra, &ka, &va), (&rb, &kb, &vb)] {
                // A failure must say so; only a success counts as a change made.
                assert!(
                    run.ok() || run.stderr.contains("ERROR: "),
                    "round {round}: env set {value} failed silently: {run:?}"
                );
                if run.ok() {
                    expected.insert(key.clone(), value.split_once('=').unwrap().1.to_string());
                }
            }
            let env = convox(ns.name(), "myapp", &["env"]).await;
            assert!(env.ok(), "convox env: {}", env.error());
            let shown: BTreeMap<String, String> = env
                .stdout
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let lost: Vec<&String> = expected
                .keys()
                .filter(|k| shown.get(*k) != expected.get(*k))
                .collect();
            let pass = lost.is_empty();
            table.row(&[
                round.to_string(),
                format!("env set {va} ‖ env set {vb}"),
                format!("{} / {}", ra.code, rb.code),
                if pass {
                    format!("all {} keys set so far", expected.len())
                } else {
                    format!("lost {lost:?}")
                },
                verdict(pass),
            ]);
            assert!(
                pass,
                "round {round}: changes lost {lost:?}; env shows {shown:?}"
            );
        }
        // The releases that lost a race were deleted with their Secrets; none is left orphaned.
        wait_for(Duration::from_secs(60), "no orphaned env Secret", || {
            env_secrets(&ns, "myapp")
        })
        .await;
        if full() {
            write_section(
                "race-env",
                &format!(
                    "### Two `convox env set` racing: {} rounds, no change lost\n\n{}",
                    rounds(3, 20),
                    table.markdown()
                ),
            );
        }
    })
    .await;
}
