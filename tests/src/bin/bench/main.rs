//! `make bench`: how fast Slipway reacts, what it adds to a rollout, how it scales, what the
//! CLI costs; on the real test control plane, each figure beside its baseline in one run. The
//! operator runs as the chart's ServiceAccount, the baselines as the admin.
//! Writes BENCHMARKS.md at the repository root. Reports; never judges (exit 0 on missed goals).

mod build;
mod cli;
mod details;
mod kube;
mod objects;
mod operator;
mod rbac;
mod reaction;
mod report;
mod rollout;
mod scale;
mod stats;
mod summary;

use std::time::Instant;

use slipway_tests::workspace_root;

/// The sizes of one run, from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// `BENCH_PROMOTES`: promotes in the reaction benchmark.
    pub promotes: usize,
    /// `BENCH_ROLLOUT_PAIRS`: pairs of rollouts of kwok's instant pods.
    pub pairs: usize,
    /// `BENCH_ROLLOUT_READY_PAIRS`: pairs of rollouts of kwok pods Ready late.
    pub ready_pairs: usize,
    /// `BENCH_READY_AFTER`: how late those pods become Ready (a Go duration).
    pub ready_after: String,
    /// `BENCH_ROLLOUT_REAL_PAIRS`: pairs of rollouts on the real node.
    pub real_pairs: usize,
    /// `BENCH_SCALE_APPS`: the App counts of the scale benchmark, comma-separated.
    pub sizes: Vec<usize>,
    /// `BENCH_SCALE_REPEATS`: repetitions of each size.
    pub repeats: usize,
    /// `BENCH_RELEASES_PER_APP`: releases of each App in the scale benchmark.
    pub releases_per_app: usize,
    /// `BENCH_CLI_APPS`: apps in the CLI benchmark's namespace.
    pub cli_apps: usize,
    /// `BENCH_CLI_RELEASES`: releases in the CLI benchmark's namespace, over all apps.
    pub cli_releases: usize,
    /// `BENCH_CLI_RUNS`: runs of `convox releases` per measurement.
    pub cli_runs: usize,
    /// `BENCH_BUILD_PAIRS`: pairs of builds from source (cold and cached).
    pub build_pairs: usize,
    /// `BENCH_ONLY`: the benchmarks to run ([`ALL`]), comma-separated.
    pub only: Vec<String>,
}

/// Every benchmark `BENCH_ONLY` can name, in the order they run.
pub const ALL: &str = "reaction,rollout,rollout-ready,rollout-real,cli,build,scale";

impl Config {
    fn from_env() -> Config {
        let num = |key: &str, default: usize| {
            std::env::var(key)
                .ok()
                .map(|v| {
                    v.trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("{key}={v} is not a number"))
                })
                .unwrap_or(default)
        };
        let list = |key: &str, default: &str| {
            std::env::var(key)
                .unwrap_or_else(|_| default.to_string())
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        };
        let pairs = num("BENCH_ROLLOUT_PAIRS", 20).max(1);
        Config {
            promotes: num("BENCH_PROMOTES", 200).max(1),
            pairs,
            ready_pairs: num("BENCH_ROLLOUT_READY_PAIRS", pairs.min(10)).max(1),
            ready_after: std::env::var("BENCH_READY_AFTER").unwrap_or_else(|_| "3s".into()),
            real_pairs: num("BENCH_ROLLOUT_REAL_PAIRS", pairs.min(10)).max(1),
            sizes: list("BENCH_SCALE_APPS", "100,1000")
                .iter()
                .map(|s| {
                    s.parse()
                        .unwrap_or_else(|_| panic!("BENCH_SCALE_APPS: {s} is not a number"))
                })
                .collect(),
            repeats: num("BENCH_SCALE_REPEATS", 3).max(1),
            releases_per_app: num("BENCH_RELEASES_PER_APP", 10).max(1),
            cli_apps: num("BENCH_CLI_APPS", 100).max(1),
            cli_releases: num("BENCH_CLI_RELEASES", 10_000),
            cli_runs: num("BENCH_CLI_RUNS", 20).max(1),
            build_pairs: num("BENCH_BUILD_PAIRS", 3).max(1),
            only: list("BENCH_ONLY", ALL),
        }
    }

    fn runs(&self, bench: &str) -> bool {
        self.only.iter().any(|b| b == bench)
    }
}

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Results {
    /// 1. Reaction.
    pub reaction: Option<reaction::Reaction>,
    /// 2. Overhead on a rollout, by kind of pods.
    pub rollouts: Vec<rollout::Rollout>,
    /// 3 and 5. Scale, by size.
    pub scale: Vec<scale::Scale>,
    /// 4. The CLI.
    pub cli: Option<cli::Cli>,
    /// 6. Builds from source.
    pub build: Option<build::Builds>,
    /// Who the operator ran as (`namespace/name` of its ServiceAccount).
    pub operator_account: String,
}

#[tokio::main]
async fn main() {
    let config = Config::from_env();
    let started = Instant::now();
    let client = slipway_tests::client().await;
    let machine = report::Machine::now(&client).await;
    let suffix = std::process::id();
    let account = rbac::install(&client, &format!("bench-system-{suffix}")).await;
    eprintln!(
        "bench: the operator runs as ServiceAccount {}",
        account.name
    );
    let mut results = Results {
        operator_account: account.name.clone(),
        ..Results::default()
    };
    // What a benchmark leaves behind is deleted before the next one starts, and waited for, so
    // no benchmark runs beside another's garbage collection; after the last one it is only
    // deleted (`make bench` stops the control plane anyway).
    let mut left: Vec<String> = vec![];
    let gone = |left: &mut Vec<String>| {
        let (client, names) = (client.clone(), std::mem::take(left));
        async move {
            kube::delete_namespaces(&client, &names, kube::GONE).await;
        }
    };
    if config.runs("reaction") {
        eprintln!("bench: 1. reaction, {} promotes", config.promotes);
        let ns = format!("bench-reaction-{suffix}");
        results.reaction = Some(reaction::run(&client, &account, &ns, config.promotes).await);
        left.push(ns);
    }
    for (pods, pairs) in [
        (rollout::Pods::Instant, config.pairs),
        (
            rollout::Pods::ReadyAfter(config.ready_after.clone()),
            config.ready_pairs,
        ),
        (rollout::Pods::Real, config.real_pairs),
    ] {
        if !config.runs(pods.key()) {
            continue;
        }
        gone(&mut left).await;
        eprintln!("bench: 2. rollout overhead ({}), {pairs} pairs", pods.key());
        let ns = format!("bench-{}-{suffix}", pods.key());
        results
            .rollouts
            .push(rollout::run(&client, &account, &ns, pairs, pods).await);
        left.push(ns);
    }
    if config.runs("cli") {
        gone(&mut left).await;
        let per_app = (config.cli_releases / config.cli_apps).max(1);
        eprintln!(
            "bench: 4. convox releases, {} apps x {per_app} releases",
            config.cli_apps
        );
        let ns = format!("bench-cli-{suffix}");
        results.cli = Some(cli::run(&client, &ns, config.cli_apps, per_app, config.cli_runs).await);
        left.extend([cli::alone_namespace(&ns), ns]);
    }
    if config.runs("build") {
        gone(&mut left).await;
        eprintln!("bench: 6. builds from source, {} pairs", config.build_pairs);
        let ns = format!("bench-build-{suffix}");
        results.build = Some(build::run(&client, &account, &ns, config.build_pairs).await);
        left.push(ns);
    }
    if config.runs("scale") {
        for &apps in &config.sizes {
            gone(&mut left).await;
            eprintln!(
                "bench: 3. scale, {apps} apps x {} releases, {} repetitions",
                config.releases_per_app, config.repeats
            );
            let size = scale::run(
                &client,
                &account,
                apps,
                config.releases_per_app,
                config.repeats,
            )
            .await;
            left.extend(size.namespaces.clone());
            results.scale.push(size);
        }
    }
    if std::env::var_os("BENCH_KEEP").is_none() {
        left.push(account.home.clone());
        kube::start_deleting(&client, &left).await;
    }
    let machine = machine.finish(started.elapsed());
    let text = report::render(&config, &machine, &results);
    let path = std::env::var_os("BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("BENCHMARKS.md"));
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    println!("{text}");
    eprintln!(
        "bench: wrote {} in {:.0?}",
        path.display(),
        started.elapsed()
    );
}
