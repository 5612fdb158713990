//! The figures of BENCHMARKS.md: the summary rows and one section per benchmark.

use std::fmt::Write;

use crate::report::{Row, secs, spread_ms, verdict};
use crate::scale::Scale;
use crate::stats::{Num, Summary, ms};
use crate::{Config, Results};

/// Memory goal, MiB, at the full size.
const MEMORY_GOAL_MIB: f64 = 64.0;
/// The size the memory goal is set at.
const FULL_SIZE: usize = 1000;
/// Per-App cost counts as flat while the largest size costs at most this much more per App.
const FLAT: f64 = 1.25;

/// The summary table.
pub fn summary_rows(config: &Config, results: &Results) -> Vec<Row> {
    let mut rows = vec![];
    if let Some(r) = &results.reaction {
        let (s, b) = (Summary::of_ms(&r.slipway), Summary::of_ms(&r.straight));
        let ratio = s.p50 / b.p50;
        rows.push(Row {
            id: "1",
            figure: format!("reaction: spec.release written → every Deployment has the new template ({} promotes)", s.n),
            slipway: format!("p50 {} ms, p99 {} ms", Num(s.p50), Num(s.p99)),
            baseline: format!("p50 {} ms, p99 {} ms", Num(b.p50), Num(b.p99)),
            ratio: format!("{}× (p99 {}×)", Num(ratio), Num(s.p99 / b.p99)),
            goal: "p50 ≤ 2×".into(),
            met: verdict(ratio <= 2.0),
        });
    }
    if let Some(r) = &results.rollout {
        let (ratio, s, b) = (
            Summary::of(&r.ratios),
            Summary::of_ms(&r.slipway),
            Summary::of_ms(&r.straight),
        );
        rows.push(Row {
            id: "2",
            figure: format!(
                "rollout of a 3-replica service, wall time to complete ({} pairs)",
                ratio.n
            ),
            slipway: format!("p50 {} s", Num(s.p50 / 1000.0)),
            baseline: format!("p50 {} s", Num(b.p50 / 1000.0)),
            ratio: format!(
                "{}× (IQR {}–{})",
                Num(ratio.p50),
                Num(ratio.q1),
                Num(ratio.q3)
            ),
            goal: "≤ 1.05×".into(),
            met: verdict(ratio.p50 <= 1.05),
        });
    }
    for s in &results.scale {
        let ratio = s.slipway.as_secs_f64() / s.straight.as_secs_f64();
        rows.push(Row {
            id: "3",
            figure: format!("{} Apps × 2 services created at once → all Running", s.apps),
            slipway: secs(&s.slipway),
            baseline: secs(&s.straight),
            ratio: format!("{}×", Num(ratio)),
            goal: "≤ 1.1×".into(),
            met: verdict(ratio <= 1.1),
        });
    }
    if let Some(s) = results.scale.last() {
        let peak = s.peak_mib.max(s.restart_peak_mib);
        let full = s.apps >= FULL_SIZE;
        rows.push(Row {
            id: "3",
            figure: format!(
                "operator peak memory, {} Apps and {} Releases",
                s.apps, s.releases
            ),
            slipway: format!("{} MiB", Num(peak)),
            baseline: "".into(),
            ratio: "".into(),
            goal: format!(
                "≤ {MEMORY_GOAL_MIB} MiB at {FULL_SIZE} Apps / {} Releases",
                FULL_SIZE * 10
            ),
            met: if full {
                verdict(peak <= MEMORY_GOAL_MIB)
            } else {
                format!("{} (smaller size)", verdict(peak <= MEMORY_GOAL_MIB))
            },
        });
        rows.push(Row {
            id: "3",
            figure: format!("operator writes per App while {} Apps come up", s.apps),
            slipway: Num(s.writes).to_string(),
            baseline: "".into(),
            ratio: "".into(),
            goal: "(reported)".into(),
            met: "".into(),
        });
        rows.push(Row {
            id: "3",
            figure: format!(
                "restart with {} Apps converged: writes; time to ready / every App reconciled",
                s.apps
            ),
            slipway: format!(
                "{} writes; {} / {}",
                s.restart_writes,
                secs(&s.restart_ready),
                secs(&s.restart_converged)
            ),
            baseline: "".into(),
            ratio: "".into(),
            goal: "0 writes".into(),
            met: verdict(s.restart_writes == 0.0),
        });
    }
    if let Some(c) = &results.cli {
        let (alone, crowded) = (
            Summary::of_ms(&c.alone.latency),
            Summary::of_ms(&c.crowded.latency),
        );
        rows.push(Row {
            id: "4",
            figure: format!(
                "`convox releases`, one app among {} apps / {} releases",
                c.crowded.apps, c.crowded.releases
            ),
            slipway: format!(
                "p50 {} ms, {} requests",
                Num(crowded.p50),
                c.crowded.requests
            ),
            baseline: format!(
                "p50 {} ms alone ({} releases), {} requests",
                Num(alone.p50),
                c.alone.releases,
                c.alone.requests
            ),
            ratio: format!("{}×", Num(crowded.p50 / alone.p50)),
            goal: "≤ 200 ms; flat in others' releases".into(),
            met: verdict(
                crowded.p50 <= 200.0
                    && c.crowded.requests <= c.alone.requests
                    && crowded.p50 / alone.p50 <= FLAT,
            ),
        });
    }
    if results.scale.len() > 1 {
        let (first, last) = (&results.scale[0], &results.scale[results.scale.len() - 1]);
        let growth = per_app_ms(last) / per_app_ms(first);
        rows.push(Row {
            id: "5",
            figure: format!(
                "cost per App, {} → {} Apps (time, writes, memory)",
                first.apps, last.apps
            ),
            slipway: format!(
                "time/App {}×, writes/App {}×",
                Num(growth),
                Num(last.writes / first.writes)
            ),
            baseline: format!(
                "straight time/App {}×",
                Num(straight_per_app_ms(last) / straight_per_app_ms(first))
            ),
            ratio: "".into(),
            goal: "flat".into(),
            met: verdict(growth <= FLAT && last.writes / first.writes <= FLAT),
        });
    }
    let _ = config;
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
            baseline: format!("cold p50 {} s", Num(cold.p50 / 1000.0)),
            ratio: format!("{}× (median of pairs)", Num(ratio.p50)),
            goal: "cached < cold".into(),
            met: verdict(ratio.p50 < 1.0),
        });
    }
    rows
}

fn per_app_ms(s: &Scale) -> f64 {
    ms(&s.slipway) / s.apps as f64
}

fn straight_per_app_ms(s: &Scale) -> f64 {
    ms(&s.straight) / s.apps as f64
}

/// One section per benchmark, with every spread.
pub fn sections(w: &mut String, config: &Config, results: &Results) {
    if let Some(r) = &results.reaction {
        let _ = writeln!(w, "## 1. Reaction\n");
        let _ = writeln!(
            w,
            "One App of two services (web with a port, worker; 0 replicas, so only the template \
             write is timed), {} releases made as the CLI makes them. Each promote is a merge \
             PATCH of `spec.release`; the clock stops when a watch on Deployments shows both \
             Deployments with the release's pod template. The baseline, interleaved with it: the \
             same two Deployments' templates patched straight (both PATCHes at once) until the \
             same watch shows both. After each promote the benchmark waits for the App to report \
             Running, so measurements do not overlap.\n",
            config.promotes + 1
        );
        let _ = writeln!(w, "| series | spread |\n|---|---|");
        for (name, samples) in [
            ("Slipway: App PATCH → both templates seen", &r.slipway),
            ("straight: both Deployment PATCHes → both seen", &r.straight),
            ("App PATCH round trip alone", &r.app_patch),
            ("Deployment PATCH round trip alone", &r.deployment_patch),
        ] {
            let _ = writeln!(w, "| {name} | {} |", spread_ms(&Summary::of_ms(samples)));
        }
        let _ = writeln!(
            w,
            "\nPer promote the operator sent {} writes and {} reads (get/list) and ran {} App reconciles.\n",
            Num(r.writes),
            Num(r.reads),
            Num(r.reconciles)
        );
    }
    if let Some(r) = &results.rollout {
        let _ = writeln!(w, "## 2. Overhead on a rollout\n");
        let _ = writeln!(
            w,
            "One service of 3 replicas (Convox's defaults: 50% minimum, 200% maximum). Slipway: \
             promote, then wait until the App reports the release Running (what `convox releases \
             promote` waits for). Straight: patch the template of a plain copy of the rendered \
             Deployment, then wait until it is rolled out (`kubectl rollout status`'s rule). The \
             two alternate which goes first.\n"
        );
        let _ = writeln!(w, "| series | spread |\n|---|---|");
        let _ = writeln!(
            w,
            "| Slipway | {} |",
            spread_ms(&Summary::of_ms(&r.slipway))
        );
        let _ = writeln!(
            w,
            "| straight | {} |",
            spread_ms(&Summary::of_ms(&r.straight))
        );
        let extra: Vec<f64> = r
            .slipway
            .iter()
            .zip(&r.straight)
            .map(|(s, p)| ms(s) - ms(p))
            .collect();
        let extra = Summary::of(&extra);
        let _ = writeln!(
            w,
            "| Slipway − straight, pair by pair | p50 {} ms (IQR {}–{}, min {}, max {}) |",
            Num(extra.p50),
            Num(extra.q1),
            Num(extra.q3),
            Num(extra.min),
            Num(extra.max)
        );
        let s = Summary::of(&r.ratios);
        let _ = writeln!(
            w,
            "| ratio, pair by pair | p50 {} (IQR {}–{}, min {}, max {}; n={}) |\n",
            Num(s.p50),
            Num(s.q1),
            Num(s.q3),
            Num(s.min),
            Num(s.max),
            s.n
        );
    }
    if !results.scale.is_empty() {
        scale_section(w, config, &results.scale);
    }
    if let Some(b) = &results.build {
        let _ = writeln!(w, "## 6. Builds from source\n");
        let _ = writeln!(
            w,
            "`convox build` (the release-built CLI, start to exit: packing, the source pushed to \
             the node's registry, the build pod, BuildKit, the pushes, the Release) of a \
             two-service app on the real node: `web` writes a 20 MiB layer and copies the source, \
             `worker` one small step. Cold is `--no-cache` (every step runs); cached is the \
             unchanged source again, its layers from the registry cache (`mode=max`). Each build \
             pod starts BuildKit afresh, so both pull their base images. A first build fills the \
             cache and is not counted; the pairs alternate which goes first.\n"
        );
        let _ = writeln!(w, "| series | spread |\n|---|---|");
        for (name, samples) in [("cold (`--no-cache`)", &b.cold), ("cached", &b.cached)] {
            let _ = writeln!(w, "| {name} | {} |", spread_ms(&Summary::of_ms(samples)));
        }
        let _ = writeln!(w);
    }
    if let Some(c) = &results.cli {
        let _ = writeln!(w, "## 4. The CLI\n");
        let _ = writeln!(
            w,
            "`target/release/convox releases -a app-0000`, process start to exit, {} runs each; \
             requests counted by the API server (`apiserver_request_total`, group slipway.dev). \
             First with only that app's releases in the namespace, then with {} apps' releases.\n",
            config.cli_runs, c.crowded.apps
        );
        let _ = writeln!(
            w,
            "| namespace holds | latency | requests per run | rows shown |\n|---|---|---|---|"
        );
        for runs in [&c.alone, &c.crowded] {
            let _ = writeln!(
                w,
                "| {} apps, {} releases | {} | {} | {} |",
                runs.apps,
                runs.releases,
                spread_ms(&Summary::of_ms(&runs.latency)),
                runs.requests,
                runs.rows
            );
        }
        let _ = writeln!(w);
    }
}

fn scale_section(w: &mut String, config: &Config, sizes: &[Scale]) {
    let _ = writeln!(w, "## 3. Scale, and 5. how it grows\n");
    let _ = writeln!(
        w,
        "N Apps of two services (one replica each; web also gets a Service), {} releases each \
         (the newest made as the CLI makes it), one operator watching the namespace. Slipway: \
         all N Apps created at once ({} requests in flight), until every App reports Running. \
         Straight, right after, in a second namespace: the same 2N Deployments and N Services \
         the operator rendered, applied at once, until every Deployment is rolled out. Writes and \
         reads are the operator's own (its `slipway_api_requests_total`), counted until 3 s after \
         the last App turned Running. Then the operator is killed and started again with \
         everything converged.\n",
        config.releases_per_app,
        crate::kube::FAN_OUT
    );
    let _ = writeln!(
        w,
        "| Apps | Releases | Slipway | straight | ratio | Slipway ms/App | straight ms/App | writes/App | reads/App | reconciles/App | peak MiB | restart: ready / converged | restart writes | restart reads/App | restart peak MiB |"
    );
    let _ = writeln!(
        w,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for s in sizes {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} |",
            s.apps,
            s.releases,
            secs(&s.slipway),
            secs(&s.straight),
            Num(s.slipway.as_secs_f64() / s.straight.as_secs_f64()),
            Num(per_app_ms(s)),
            Num(straight_per_app_ms(s)),
            Num(s.writes),
            Num(s.reads),
            Num(s.reconciles),
            Num(s.peak_mib),
            secs(&s.restart_ready),
            secs(&s.restart_converged),
            s.restart_writes,
            Num(s.restart_reads),
            Num(s.restart_peak_mib),
        );
    }
    let largest = sizes.iter().map(|s| s.apps).max().unwrap_or(0);
    if largest < FULL_SIZE {
        let _ = writeln!(
            w,
            "\n**Not run at the full size**: the largest size here is {largest} Apps, not {FULL_SIZE}; set `BENCH_SCALE_APPS` to run larger."
        );
    }
    let _ = writeln!(w);
}
