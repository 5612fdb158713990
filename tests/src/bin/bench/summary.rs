//! The summary table of BENCHMARKS.md: one row per figure, its goal (issue 12's) and whether
//! this run's figures meet it, computed here from the figures.

use crate::Results;
use crate::report::{Row, secs, verdict};
use crate::rollout::{Pods, Rollout};
use crate::scale::Scale;
use crate::stats::{Num, Summary, ms};

/// Reaction: p50 of Slipway over straight, promote by promote.
const REACTION_RATIO: f64 = 2.0;
/// Rollout of kwok's instant pods: p50 of Slipway − straight, pair by pair, ms.
const ROLLOUT_EXTRA_MS: f64 = 100.0;
/// Rollout with a readiness delay or on the real node: p50 of Slipway over straight.
const ROLLOUT_RATIO: f64 = 1.05;
/// Scale: median over repetitions of Slipway over straight, at [`FULL_SIZE`].
const SCALE_RATIO: f64 = 1.1;
/// Operator writes and reads per App while the Apps come up, at [`FULL_SIZE`].
const PER_APP: f64 = 5.0;
/// Peak memory, MiB, at [`FULL_SIZE`] Apps and [`FULL_RELEASES`] Releases.
const MEMORY_MIB: f64 = 48.0;
/// `convox releases`: p50 of crowded over alone, run by run.
const CLI_RATIO: f64 = 1.1;
/// The size the scale goals are set at.
pub const FULL_SIZE: usize = 1000;
/// The Releases the memory goal is set at.
const FULL_RELEASES: usize = 10_000;
/// Per-App cost counts as flat while the largest size costs at most this much more per App.
const FLAT: f64 = 1.25;

/// A per-pair ratio's median and spread, as the ratio column says it.
fn per_pair(ratio: &Summary) -> String {
    format!(
        "p50 {}× per pair (IQR {}–{})",
        Num(ratio.p50),
        Num(ratio.q1),
        Num(ratio.q3)
    )
}

/// The summary table.
pub fn rows(results: &Results) -> Vec<Row> {
    let mut rows = vec![];
    if let Some(r) = &results.reaction {
        let (s, b, ratio) = (
            Summary::of_ms(&r.slipway),
            Summary::of_ms(&r.straight),
            Summary::of(&r.ratios),
        );
        rows.push(Row {
            id: "1",
            figure: format!(
                "reaction: spec.release written → every Deployment has the new template ({} promotes)",
                s.n
            ),
            slipway: format!("p50 {} ms, p99 {} ms", Num(s.p50), Num(s.p99)),
            cpu: format!(
                "{} s ({} ms per promote)",
                Num(r.cpu_seconds),
                Num(r.cpu_seconds * 1000.0 / s.n.max(1) as f64)
            ),
            baseline: format!("p50 {} ms, p99 {} ms", Num(b.p50), Num(b.p99)),
            ratio: per_pair(&ratio),
            goal: format!("p50 per-pair ratio ≤ {REACTION_RATIO}×"),
            met: verdict(ratio.p50 <= REACTION_RATIO),
        });
    }
    for r in &results.rollouts {
        rows.push(rollout_row(r));
    }
    for s in &results.scale {
        rows.push(scale_row(s));
    }
    if let Some(s) = results.scale.last() {
        rows.extend(largest_rows(s, &results.scale));
    }
    if let Some(c) = &results.cli {
        let (alone, crowded, ratio) = (
            Summary::of_ms(&c.alone.latency),
            Summary::of_ms(&c.crowded.latency),
            Summary::of(&c.ratios),
        );
        rows.push(Row {
            id: "4",
            figure: format!(
                "`convox releases`, one app among {} apps / {} releases, alternating run by run with it alone",
                c.crowded.apps, c.crowded.releases
            ),
            slipway: format!(
                "p50 {} ms, {} requests",
                Num(crowded.p50),
                c.crowded.requests
            ),
            cpu: "".into(),
            baseline: format!(
                "p50 {} ms alone ({} releases), {} requests",
                Num(alone.p50),
                c.alone.releases,
                c.alone.requests
            ),
            ratio: per_pair(&ratio),
            goal: format!("crowded / alone ≤ {CLI_RATIO}×"),
            met: verdict(ratio.p50 <= CLI_RATIO),
        });
    }
    if results.scale.len() > 1 {
        rows.push(growth_row(&results.scale));
    }
    if let Some(b) = &results.build {
        let (ratio, cached, cold) = (
            Summary::of(&b.ratios),
            Summary::of_ms(&b.cached),
            Summary::of_ms(&b.cold),
        );
        rows.push(Row {
            id: "6",
            figure: format!("convox build from source, two services on the real node: unchanged source (layer cache) vs every layer again ({} pairs)", ratio.n),
            slipway: format!("cached p50 {} s", Num(cached.p50 / 1000.0)),
            cpu: "".into(),
            baseline: format!("cold p50 {} s", Num(cold.p50 / 1000.0)),
            ratio: format!("{}× (median of pairs)", Num(ratio.p50)),
            goal: "cached < cold".into(),
            met: verdict(ratio.p50 < 1.0),
        });
    }
    rows
}

/// What the rollout's pods are, in words.
pub fn pods_words(pods: &Pods) -> String {
    match pods {
        Pods::Instant => "kwok's pods, Ready at once".into(),
        Pods::ReadyAfter(after) => format!("kwok's pods, Ready {after} after they run"),
        Pods::Real => "the real node's pods, Ready by HTTP readiness probe".into(),
    }
}

fn rollout_row(r: &Rollout) -> Row {
    let (ratio, extra, s, b) = (
        Summary::of(&r.ratios),
        Summary::of(&r.extra_ms()),
        Summary::of_ms(&r.slipway),
        Summary::of_ms(&r.straight),
    );
    let (goal, met) = match r.pods {
        Pods::Instant => (
            format!("Slipway − straight p50 ≤ {ROLLOUT_EXTRA_MS} ms"),
            extra.p50 <= ROLLOUT_EXTRA_MS,
        ),
        _ => (
            format!("p50 per-pair ratio ≤ {ROLLOUT_RATIO}×"),
            ratio.p50 <= ROLLOUT_RATIO,
        ),
    };
    Row {
        id: "2",
        figure: format!(
            "rollout of a 3-replica service, {}: wall time to complete ({} pairs)",
            pods_words(&r.pods),
            ratio.n
        ),
        slipway: format!("p50 {} s", Num(s.p50 / 1000.0)),
        cpu: format!(
            "{} s ({} ms per rollout)",
            Num(r.cpu_seconds),
            Num(r.cpu_seconds * 1000.0 / ratio.n.max(1) as f64)
        ),
        baseline: format!("p50 {} s", Num(b.p50 / 1000.0)),
        ratio: format!(
            "{}; Slipway − straight p50 {} ms (IQR {}–{})",
            per_pair(&ratio),
            Num(extra.p50),
            Num(extra.q1),
            Num(extra.q3)
        ),
        goal,
        met: verdict(met),
    }
}

/// `median (min–max)` of one figure over the repetitions.
pub fn median_range(values: &[f64]) -> String {
    let s = Summary::of(values);
    if s.n > 1 {
        format!("{} ({}–{})", Num(s.p50), Num(s.min), Num(s.max))
    } else {
        Num(s.p50).to_string()
    }
}

/// Whether `s` is the size the scale goals are set at.
pub fn full(s: &Scale) -> bool {
    s.apps >= FULL_SIZE
}

/// The verdict, or at a smaller size the verdict in parentheses (not judged).
fn judged(s: &Scale, met: bool) -> String {
    if full(s) {
        verdict(met)
    } else {
        format!("({}: smaller size)", verdict(met))
    }
}

fn scale_row(s: &Scale) -> Row {
    let ratio = Summary::of(&s.each(|r| r.ratio()));
    let cpu = Summary::of(&s.each(|r| r.cpu_seconds));
    Row {
        id: "3",
        figure: format!(
            "{} Apps × 2 services created at once → all Running ({})",
            s.apps,
            if ratio.n == 1 {
                "1 repetition".to_string()
            } else {
                format!("{} repetitions, alternating which path goes first", ratio.n)
            }
        ),
        slipway: format!("{} s", median_range(&s.each(|r| r.slipway.as_secs_f64()))),
        cpu: format!(
            "{} s ({} ms per App)",
            median_range(&s.each(|r| r.cpu_seconds)),
            Num(cpu.p50 * 1000.0 / s.apps as f64)
        ),
        baseline: format!("{} s", median_range(&s.each(|r| r.straight.as_secs_f64()))),
        ratio: format!(
            "median {}× ({}–{})",
            Num(ratio.p50),
            Num(ratio.min),
            Num(ratio.max)
        ),
        goal: format!("median ≤ {SCALE_RATIO}× at {FULL_SIZE} Apps"),
        met: judged(s, ratio.p50 <= SCALE_RATIO),
    }
}

/// Memory, writes and reads per App, and the restart, at the largest size; the restart's zero
/// writes judged over every repetition of every size.
fn largest_rows(s: &Scale, all: &[Scale]) -> Vec<Row> {
    let peak = s.peak_mib();
    let full_memory = full(s) && s.releases >= FULL_RELEASES;
    let (writes, reads) = (
        Summary::of(&s.each(|r| r.writes)).p50,
        Summary::of(&s.each(|r| r.reads)).p50,
    );
    let restart_writes = all
        .iter()
        .flat_map(|size| size.each(|r| r.restart_writes))
        .fold(0.0, f64::max);
    let row = |figure: String, slipway: String, cpu: String, goal: String, met: String| Row {
        id: "3",
        figure,
        slipway,
        cpu,
        baseline: "".into(),
        ratio: "".into(),
        goal,
        met,
    };
    vec![
        row(
            format!(
                "operator peak memory, {} Apps and {} Releases (highest of every repetition, restarts included)",
                s.apps, s.releases
            ),
            format!("{} MiB", Num(peak)),
            "".into(),
            format!("≤ {MEMORY_MIB} MiB at {FULL_SIZE} Apps / {FULL_RELEASES} Releases"),
            if full_memory {
                verdict(peak <= MEMORY_MIB)
            } else {
                format!("({}: smaller size)", verdict(peak <= MEMORY_MIB))
            },
        ),
        row(
            format!(
                "operator writes and reads (get, list) per App while {} Apps come up (median of repetitions)",
                s.apps
            ),
            format!(
                "{} writes, {} reads",
                median_range(&s.each(|r| r.writes)),
                median_range(&s.each(|r| r.reads))
            ),
            "".into(),
            format!("≤ {PER_APP} writes and ≤ {PER_APP} reads per App at {FULL_SIZE} Apps"),
            judged(s, writes <= PER_APP && reads <= PER_APP),
        ),
        row(
            format!(
                "restart with {} Apps converged: writes; time to ready / every App reconciled (median)",
                s.apps
            ),
            format!(
                "{} writes (most of any repetition of any size); {} / {}",
                restart_writes,
                secs_median(s, |r| r.restart_ready.as_secs_f64()),
                secs_median(s, |r| r.restart_converged.as_secs_f64())
            ),
            format!("{} s", median_range(&s.each(|r| r.restart_cpu_seconds))),
            "0 writes".into(),
            verdict(restart_writes == 0.0),
        ),
    ]
}

fn secs_median(s: &Scale, f: impl Fn(&crate::scale::Rep) -> f64) -> String {
    secs(&std::time::Duration::from_secs_f64(
        Summary::of(&s.each(f)).p50.max(0.0),
    ))
}

/// Median time per App of the Slipway path, ms.
pub fn per_app_ms(s: &Scale) -> f64 {
    Summary::of(&s.each(|r| ms(&r.slipway))).p50 / s.apps as f64
}

/// Median time per App of the straight path, ms.
pub fn straight_per_app_ms(s: &Scale) -> f64 {
    Summary::of(&s.each(|r| ms(&r.straight))).p50 / s.apps as f64
}

fn growth_row(sizes: &[Scale]) -> Row {
    let (first, last) = (&sizes[0], &sizes[sizes.len() - 1]);
    let growth = per_app_ms(last) / per_app_ms(first);
    let writes = |s: &Scale| Summary::of(&s.each(|r| r.writes)).p50;
    let cpu = |s: &Scale| Summary::of(&s.each(|r| r.cpu_seconds)).p50 / s.apps as f64;
    let write_growth = writes(last) / writes(first);
    Row {
        id: "5",
        figure: format!(
            "cost per App, {} → {} Apps (time, writes, CPU; medians)",
            first.apps, last.apps
        ),
        slipway: format!(
            "time/App {}×, writes/App {}×",
            Num(growth),
            Num(write_growth)
        ),
        cpu: format!("CPU/App {}×", Num(cpu(last) / cpu(first))),
        baseline: format!(
            "straight time/App {}×",
            Num(straight_per_app_ms(last) / straight_per_app_ms(first))
        ),
        ratio: "".into(),
        goal: "flat".into(),
        met: verdict(growth <= FLAT && write_growth <= FLAT),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::scale::Rep;

    fn rollout(pods: Pods, pairs: &[(u64, u64)]) -> Rollout {
        let ms = |v: u64| Duration::from_millis(v);
        Rollout {
            pods,
            slipway: pairs.iter().map(|p| ms(p.0)).collect(),
            straight: pairs.iter().map(|p| ms(p.1)).collect(),
            ratios: pairs.iter().map(|p| p.0 as f64 / p.1 as f64).collect(),
            cpu_seconds: 0.1,
        }
    }

    #[test]
    fn instant_rollouts_are_judged_by_the_difference_and_slow_ones_by_the_ratio() {
        // 80 ms more on a 300 ms rollout: within 100 ms, though 1.27×.
        let fast = rollout(Pods::Instant, &[(380, 300), (390, 310), (370, 290)]);
        assert_eq!(rollout_row(&fast).met, "yes");
        let slow = rollout(Pods::Real, &[(3380, 3300), (3390, 3310), (3370, 3290)]);
        assert_eq!(rollout_row(&slow).met, "yes");
        let slower = rollout(Pods::Real, &[(4000, 3300), (4100, 3310), (3370, 3290)]);
        assert_eq!(rollout_row(&slower).met, "**no**");
    }

    #[test]
    fn scale_is_judged_by_the_median_ratio_at_the_full_size_only() {
        let rep = |s: u64, p: u64| Rep {
            slipway: Duration::from_secs(s),
            straight: Duration::from_secs(p),
            ..Rep::default()
        };
        let size = |apps| Scale {
            apps,
            releases: apps * 10,
            reps: vec![rep(105, 100), rep(150, 100), rep(108, 100)],
            namespaces: vec![],
        };
        assert_eq!(scale_row(&size(1000)).met, "yes");
        assert_eq!(scale_row(&size(100)).met, "(yes: smaller size)");
        assert!(scale_row(&size(1000)).ratio.starts_with("median 1.08×"));
    }
}
