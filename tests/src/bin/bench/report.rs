//! BENCHMARKS.md: the machine, the versions, each figure with its spread and goal, and how
//! to reproduce it.

use std::fmt::Write;
use std::time::Duration;

use kube::Client;
use slipway_tests::workspace_root;

use crate::stats::{Num, Summary, ms};
use crate::{ALL, Config, Results, details, summary};

/// Where and with what the benchmark ran.
#[derive(Debug, Default)]
pub struct Machine {
    /// UTC start time.
    pub date: String,
    /// CPU model and core count.
    pub cpu: String,
    /// Total memory.
    pub memory: String,
    /// Kernel release.
    pub kernel: String,
    /// Load averages at the start.
    pub load_start: String,
    /// Load averages at the end.
    pub load_end: String,
    /// The commit benchmarked, with `+dirty` for uncommitted changes.
    pub commit: String,
    /// Tool and library versions.
    pub versions: Vec<(String, String)>,
    /// Wall time of the whole benchmark.
    pub took: Duration,
}

impl Machine {
    /// Describes this machine and the control plane behind `client`.
    pub async fn now(client: &Client) -> Machine {
        let cpuinfo = read("/proc/cpuinfo");
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let mem_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let server = client
            .apiserver_version()
            .await
            .map(|v| v.git_version)
            .unwrap_or_else(|e| format!("unknown ({e})"));
        let testenv = read(
            &workspace_root()
                .join("tests/testenv/testenv")
                .to_string_lossy(),
        );
        let pinned = |key: &str| {
            testenv
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or("unknown")
                .to_string()
        };
        let dirty = !command("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
        Machine {
            date: jiff::Timestamp::now()
                .strftime("%Y-%m-%d %H:%M UTC")
                .to_string(),
            cpu: format!("{model}, {cores} cores"),
            memory: format!("{:.1} GiB", mem_kib / 1024.0 / 1024.0),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            load_start: loadavg(),
            commit: format!(
                "{}{}",
                command("git", &["rev-parse", "--short", "HEAD"]),
                if dirty { "+dirty" } else { "" }
            ),
            versions: vec![
                ("kube-apiserver (server)".into(), server),
                ("etcd".into(), pinned("ETCD_VERSION")),
                ("kwok".into(), pinned("KWOK_VERSION")),
                ("rustc".into(), command("rustc", &["--version"])),
                (
                    "kube-rs / k8s-openapi".into(),
                    format!("{} / {}", locked("kube"), locked("k8s-openapi")),
                ),
                (
                    "operator and CLI build".into(),
                    "release (`cargo build --release --bins`)".into(),
                ),
            ],
            ..Machine::default()
        }
    }

    /// Records the end of the run.
    pub fn finish(mut self, took: Duration) -> Machine {
        self.load_end = loadavg();
        self.took = took;
        self
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The version of a crate in Cargo.lock.
fn locked(name: &str) -> String {
    let lock = read(&workspace_root().join("Cargo.lock").to_string_lossy());
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{name}\"")
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = "))
        {
            return v.trim_matches('"').to_string();
        }
    }
    "unknown".into()
}

/// One line of the summary table.
pub struct Row {
    /// Which benchmark, as numbered in issue 7 (goals of issue 12).
    pub id: &'static str,
    /// What is measured.
    pub figure: String,
    /// Through Slipway.
    pub slipway: String,
    /// The operator's CPU time for that figure.
    pub cpu: String,
    /// The baseline beside it.
    pub baseline: String,
    /// Slipway over baseline.
    pub ratio: String,
    /// The goal.
    pub goal: String,
    /// yes, no, or a word on why not judged.
    pub met: String,
}

/// `yes` or `**no**`.
pub fn verdict(met: bool) -> String {
    if met { "yes".into() } else { "**no**".into() }
}

/// `p50 a ms (p99 b, min c, max d, n)`.
pub fn spread_ms(s: &Summary) -> String {
    format!(
        "p50 {} ms (IQR {}–{}, p99 {}, min {}, max {}; n={})",
        Num(s.p50),
        Num(s.q1),
        Num(s.q3),
        Num(s.p99),
        Num(s.min),
        Num(s.max),
        s.n
    )
}

/// A duration in seconds, for long waits.
pub fn secs(d: &Duration) -> String {
    format!("{} s", Num(ms(d) / 1000.0))
}

/// The whole report.
pub fn render(config: &Config, machine: &Machine, results: &Results) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Generated by `make bench` on {}, commit `{}`, in {:.1} minutes. Everything below was \
         measured in that one run, on the project's own control plane (`tests/testenv`: real \
         etcd, kube-apiserver, controller manager and scheduler; kwok fakes most nodes, so pods \
         become Ready about a second after they are bound, with no container runtime, unless a \
         figure says otherwise; one real node runs the containers of the real-node rollouts and \
         the builds). Each Slipway figure stands beside its baseline from the same run, measured \
         alternately with it; this machine is shared and noisy, so read the ratios and medians, \
         not single times.\n",
        machine.date,
        machine.commit,
        machine.took.as_secs_f64() / 60.0
    );
    let _ = writeln!(
        w,
        "Who does what: the operator runs as the chart's ServiceAccount (`{}`, with the \
         ClusterRole and binding that `helm template charts/slipway` renders, and a token from \
         the TokenRequest API), so API priority and fairness queues its requests as any \
         workload's (flow schema `service-accounts`, priority level `workload-low`). The baselines (\"straight to the API\"), the \
         CLI, the benchmark's own watches and the control plane's controllers use the admin \
         certificate, which is in `system:masters` and so exempt from priority and fairness: \
         the comparison does not favour Slipway.\n",
        results.operator_account
    );
    let rows = summary::rows(results);
    let _ = writeln!(w, "## Summary\n");
    let _ = writeln!(
        w,
        "| # | figure | Slipway | operator CPU | baseline (straight to the API) | ratio | goal | met |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.id, r.figure, r.slipway, r.cpu, r.baseline, r.ratio, r.goal, r.met
        );
    }
    let _ = writeln!(w, "\n## Machine and versions\n");
    let _ = writeln!(w, "| | |\n|---|---|");
    for (k, v) in [
        ("CPU", &machine.cpu),
        ("memory", &machine.memory),
        ("kernel", &machine.kernel),
        (
            "load average at start / end",
            &format!("{} / {}", machine.load_start, machine.load_end),
        ),
    ] {
        let _ = writeln!(w, "| {k} | {v} |");
    }
    for (k, v) in &machine.versions {
        let _ = writeln!(w, "| {k} | {v} |");
    }
    let _ = writeln!(
        w,
        "\nControl plane limits (tests/testenv/lib/up.sh): controller manager `--kube-api-qps=200 \
         --kube-api-burst=400`, 10 concurrent Deployment and ReplicaSet syncs; scheduler \
         `--kube-api-qps=200 --kube-api-burst=400`; kwok unthrottled. The operator uses kube-rs's \
         defaults (no client-side rate limit). Operator CPU is user plus system time from \
         `/proc/<pid>/stat` (clock ticks of `getconf CLK_TCK`).\n"
    );
    details::sections(w, config, results);
    // Read when the report is written, so the analysis can follow the figures of this run.
    let notes = workspace_root().join("tests/src/bin/bench/notes.md");
    let _ = writeln!(w, "{}", read(&notes.to_string_lossy()).trim_end());
    let _ = writeln!(w, "\n## Reproduce\n");
    let _ = writeln!(
        w,
        "```sh\nmake bench    # builds release binaries, starts its own control plane in \
         target/testenv-bench, runs, writes BENCHMARKS.md, stops the control plane\n```\n\n\
         Sizes come from the environment (defaults in brackets): `BENCH_PROMOTES` [200], \
         `BENCH_ROLLOUT_PAIRS` [20] (kwok's instant pods), `BENCH_ROLLOUT_READY_PAIRS` [10, or \
         `BENCH_ROLLOUT_PAIRS` if fewer] and `BENCH_READY_AFTER` [3s] (kwok pods Ready late), \
         `BENCH_ROLLOUT_REAL_PAIRS` [10, or `BENCH_ROLLOUT_PAIRS` if fewer] (the real node), \
         `BENCH_SCALE_APPS` [100,1000], `BENCH_SCALE_REPEATS` [3], `BENCH_RELEASES_PER_APP` [10], \
         `BENCH_CLI_APPS` [100], `BENCH_CLI_RELEASES` [10000], `BENCH_CLI_RUNS` [20], \
         `BENCH_BUILD_PAIRS` [3], `BENCH_ONLY` [{ALL}], `BENCH_OUT` [BENCHMARKS.md]; \
         `BENCH_KEEP` set keeps the namespaces of the last benchmark. This run: promotes {}, rollout pairs \
         {} / {} (Ready after {}) / {} (real node), sizes {:?} × {} repetitions with {} releases \
         per App, CLI {} apps / {} releases, {} runs, {} build pairs.",
        config.promotes,
        config.pairs,
        config.ready_pairs,
        config.ready_after,
        config.real_pairs,
        config.sizes,
        config.repeats,
        config.releases_per_app,
        config.cli_apps,
        config.cli_releases,
        config.cli_runs,
        config.build_pairs
    );
    out
}
