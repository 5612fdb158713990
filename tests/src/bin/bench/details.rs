//! The sections of BENCHMARKS.md: one per benchmark, with every spread.

use std::fmt::Write;

use crate::report::{secs, spread_ms};
use crate::rollout::{Pods, Rollout};
use crate::scale::Scale;
use crate::stats::{Num, Summary};
use crate::summary::{FULL_SIZE, median_range, per_app_ms, pods_words, straight_per_app_ms};
use crate::{Config, Results};

/// One section per benchmark, with every spread.
pub fn sections(w: &mut String, config: &Config, results: &Results) {
    if let Some(r) = &results.reaction {
        let _ = writeln!(w, "## 1. Reaction\n");
        let _ = writeln!(
            w,
            "One App of two services (web with a port, worker; 0 replicas, so only the template \
             write is timed), {} releases made as the CLI makes them. Each promote is a merge \
             PATCH of `spec.release`; the clock stops when a watch on Deployments shows both \
             Deployments with the release's pod template. The baseline, interleaved with it \
             (alternating which goes first): the same two Deployments' templates patched straight \
             (both PATCHes at once) until the same watch shows both. Each promote is paired with \
             the straight patch measured next to it; the ratio is taken pair by pair. After each \
             promote the benchmark waits for the App to report Running, so measurements do not \
             overlap.\n",
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
            "| ratio, pair by pair | {} |",
            spread(&Summary::of(&r.ratios))
        );
        let _ = writeln!(
            w,
            "\nPer promote the operator sent {} writes and {} reads (get/list), ran {} App \
             reconciles and used {} ms of CPU ({} s over the run).\n",
            Num(r.writes),
            Num(r.reads),
            Num(r.reconciles),
            Num(r.cpu_seconds * 1000.0 / r.slipway.len().max(1) as f64),
            Num(r.cpu_seconds)
        );
    }
    if !results.rollouts.is_empty() {
        rollout_section(w, &results.rollouts);
    }
    if !results.scale.is_empty() {
        scale_section(w, config, &results.scale);
    }
    if let Some(c) = &results.cli {
        let _ = writeln!(w, "## 4. The CLI\n");
        let _ = writeln!(
            w,
            "`target/release/convox releases -a app-0000` (as the admin), process start to exit, \
             {} runs in each of two namespaces that exist side by side: one with only that app's \
             releases, one with {} apps' releases. The runs alternate between the two (which goes \
             first alternates too), and each crowded run is divided by the alone run beside it. \
             Requests are counted by the API server (`apiserver_request_total`, group \
             slipway.dev).\n",
            c.ratios.len(),
            c.crowded.apps
        );
        let _ = writeln!(
            w,
            "| namespace holds | latency | requests per run | rows shown |\n|---|---|---|---|"
        );
        for runs in [&c.alone, &c.crowded] {
            let _ = writeln!(
                w,
                "| {} app{}, {} releases | {} | {} | {} |",
                runs.apps,
                if runs.apps == 1 { "" } else { "s" },
                runs.releases,
                spread_ms(&Summary::of_ms(&runs.latency)),
                runs.requests,
                runs.rows
            );
        }
        let _ = writeln!(
            w,
            "| crowded / alone, run by run | {} | | |\n",
            spread(&Summary::of(&c.ratios))
        );
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
}

/// `p50 x (IQR a–b, min c, max d; n)` of a unitless figure.
fn spread(s: &Summary) -> String {
    format!(
        "p50 {} (IQR {}–{}, min {}, max {}; n={})",
        Num(s.p50),
        Num(s.q1),
        Num(s.q3),
        Num(s.min),
        Num(s.max),
        s.n
    )
}

fn rollout_section(w: &mut String, rollouts: &[Rollout]) {
    let _ = writeln!(w, "## 2. Overhead on a rollout\n");
    let _ = writeln!(
        w,
        "One service of 3 replicas (Convox's defaults: 50% minimum, 200% maximum). Slipway: \
         promote, then wait until the App reports the release Running (what `convox releases \
         promote` waits for). Straight: patch the template of a plain copy of the rendered \
         Deployment, in the same namespace, then wait until it is rolled out (`kubectl rollout \
         status`'s rule). The two alternate which goes first. Three kinds of pods: kwok's, Ready \
         about as soon as they are bound; kwok's with the annotation \
         `testenv.slipway.dev/ready-after` (tests/testenv/stages/pod-ready-after.yaml: Running at \
         once, Ready that long after, as a readiness probe that begins to pass); and the real \
         node's test app (containerd, `testenv image testapp`), Ready when its HTTP readiness \
         probe (`health: /`, every 2 s after 1 s) passes.\n"
    );
    for r in rollouts {
        let _ = writeln!(w, "### {}\n", pods_words(&r.pods));
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
        let extra = Summary::of(&r.extra_ms());
        let _ = writeln!(
            w,
            "| Slipway − straight, pair by pair | p50 {} ms (IQR {}–{}, min {}, max {}) |",
            Num(extra.p50),
            Num(extra.q1),
            Num(extra.q3),
            Num(extra.min),
            Num(extra.max)
        );
        let _ = writeln!(
            w,
            "| ratio, pair by pair | {} |",
            spread(&Summary::of(&r.ratios))
        );
        let _ = writeln!(
            w,
            "\nOperator CPU: {} s over the {} pairs ({} ms per Slipway rollout).\n",
            Num(r.cpu_seconds),
            r.ratios.len(),
            Num(r.cpu_seconds * 1000.0 / r.ratios.len().max(1) as f64)
        );
        if r.pods == Pods::Real {
            let _ = writeln!(
                w,
                "Readiness here moves in steps of the probe's period (2 s), on both paths, so a \
                 pair's difference is noisy; read the median of the pairs.\n"
            );
        }
    }
}

fn scale_section(w: &mut String, config: &Config, sizes: &[Scale]) {
    let _ = writeln!(w, "## 3. Scale, and 5. how it grows\n");
    let _ = writeln!(
        w,
        "N Apps of two services (one replica each; web also gets a Service), {} releases each \
         (the newest made as the CLI makes it), one operator watching the namespace. Slipway: \
         all N Apps created at once ({} requests in flight), until every App reports Running. \
         Straight, in a second namespace: the same 2N Deployments and N Services the operator \
         rendered (copied from the first repetition), applied at once, until every Deployment \
         is rolled out. Each size runs {} times, each repetition in two fresh namespaces (the \
         previous ones deleted and gone first), alternating which path goes first (the first \
         repetition runs Slipway first, since the straight path copies what it rendered). \
         Writes, reads and CPU are the operator's own (its `slipway_api_requests_total`, \
         `/proc/<pid>/stat`), counted from the Apps' creation until 3 s after the last App \
         turned Running. Then the operator is killed and started again with everything \
         converged.\n",
        config.releases_per_app,
        crate::kube::FAN_OUT,
        config.repeats
    );
    let _ = writeln!(
        w,
        "| Apps | Releases | ratio, median (min–max) | Slipway s | straight s | Slipway ms/App | straight ms/App | writes/App | reads/App | CPU s | peak MiB (max) |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|---|---|---|");
    for s in sizes {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.apps,
            s.releases,
            median_range(&s.each(|r| r.ratio())),
            median_range(&s.each(|r| r.slipway.as_secs_f64())),
            median_range(&s.each(|r| r.straight.as_secs_f64())),
            Num(per_app_ms(s)),
            Num(straight_per_app_ms(s)),
            median_range(&s.each(|r| r.writes)),
            median_range(&s.each(|r| r.reads)),
            median_range(&s.each(|r| r.cpu_seconds)),
            Num(s.peak_mib()),
        );
    }
    let _ = writeln!(w, "\nEach repetition:\n");
    let _ = writeln!(
        w,
        "| Apps | # | first | Slipway | straight | ratio | writes/App | reads/App | reconciles/App | CPU s | peak MiB | restart: ready / converged | restart writes | restart reads/App | restart CPU s | restart peak MiB |"
    );
    let _ = writeln!(
        w,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for s in sizes {
        for (i, r) in s.reps.iter().enumerate() {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} |",
                s.apps,
                i + 1,
                if r.slipway_first {
                    "Slipway"
                } else {
                    "straight"
                },
                secs(&r.slipway),
                secs(&r.straight),
                Num(r.ratio()),
                Num(r.writes),
                Num(r.reads),
                Num(r.reconciles),
                Num(r.cpu_seconds),
                Num(r.peak_mib),
                secs(&r.restart_ready),
                secs(&r.restart_converged),
                r.restart_writes,
                Num(r.restart_reads),
                Num(r.restart_cpu_seconds),
                Num(r.restart_peak_mib),
            );
        }
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
