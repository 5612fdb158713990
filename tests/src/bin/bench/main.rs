//! `make bench`: how fast Slipway reacts, what it adds to a rollout, how it scales, what the
//! CLI costs; on the real test control plane, each figure beside its baseline in one run.
//! Writes BENCHMARKS.md at the repository root. Reports; never judges (exit 0 on missed goals).

mod build;
mod cli;
mod details;
mod kube;
mod objects;
mod operator;
mod reaction;
mod report;
mod rollout;
mod scale;
mod stats;

use std::time::Instant;

use slipway_tests::workspace_root;

/// The sizes of one run, from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// `BENCH_PROMOTES`: promotes in the reaction benchmark.
    pub promotes: usize,
    /// `BENCH_ROLLOUT_PAIRS`: pairs of rollouts.
    pub pairs: usize,
    /// `BENCH_SCALE_APPS`: the App counts of the scale benchmark, comma-separated.
    pub sizes: Vec<usize>,
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
    /// `BENCH_ONLY`: the benchmarks to run (reaction, rollout, scale, cli, build), comma-separated.
    pub only: Vec<String>,
}

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
        Config {
            promotes: num("BENCH_PROMOTES", 200),
            pairs: num("BENCH_ROLLOUT_PAIRS", 20),
            sizes: list("BENCH_SCALE_APPS", "100,300,1000")
                .iter()
                .map(|s| {
                    s.parse()
                        .unwrap_or_else(|_| panic!("BENCH_SCALE_APPS: {s} is not a number"))
                })
                .collect(),
            releases_per_app: num("BENCH_RELEASES_PER_APP", 10).max(1),
            cli_apps: num("BENCH_CLI_APPS", 100).max(1),
            cli_releases: num("BENCH_CLI_RELEASES", 10_000),
            cli_runs: num("BENCH_CLI_RUNS", 20).max(1),
            build_pairs: num("BENCH_BUILD_PAIRS", 3).max(1),
            only: list("BENCH_ONLY", "reaction,rollout,cli,build,scale"),
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
    /// 2. Overhead on a rollout.
    pub rollout: Option<rollout::Rollout>,
    /// 3 and 5. Scale, by size.
    pub scale: Vec<scale::Scale>,
    /// 4. The CLI.
    pub cli: Option<cli::Cli>,
    /// 6. Builds from source.
    pub build: Option<build::Builds>,
}

#[tokio::main]
async fn main() {
    let config = Config::from_env();
    let started = Instant::now();
    let client = slipway_tests::client().await;
    let machine = report::Machine::now(&client).await;
    let suffix = std::process::id();
    let mut results = Results::default();
    if config.runs("reaction") {
        eprintln!("bench: 1. reaction, {} promotes", config.promotes);
        let ns = format!("bench-reaction-{suffix}");
        results.reaction = Some(reaction::run(&client, &ns, config.promotes).await);
        kube::delete_namespaces(&client, &[ns], std::time::Duration::from_secs(60)).await;
    }
    if config.runs("rollout") {
        eprintln!("bench: 2. rollout overhead, {} pairs", config.pairs);
        let ns = format!("bench-rollout-{suffix}");
        results.rollout = Some(rollout::run(&client, &ns, config.pairs).await);
        kube::delete_namespaces(&client, &[ns], std::time::Duration::from_secs(60)).await;
    }
    if config.runs("cli") {
        let per_app = (config.cli_releases / config.cli_apps).max(1);
        eprintln!(
            "bench: 4. convox releases, {} apps x {per_app} releases",
            config.cli_apps
        );
        let ns = format!("bench-cli-{suffix}");
        results.cli = Some(cli::run(&client, &ns, config.cli_apps, per_app, config.cli_runs).await);
        kube::delete_namespaces(&client, &[ns], std::time::Duration::from_secs(120)).await;
    }
    if config.runs("build") {
        eprintln!("bench: 6. builds from source, {} pairs", config.build_pairs);
        let ns = format!("bench-build-{suffix}");
        results.build = Some(build::run(&client, &ns, config.build_pairs).await);
        kube::delete_namespaces(&client, &[ns], std::time::Duration::from_secs(60)).await;
    }
    if config.runs("scale") {
        for &apps in &config.sizes {
            eprintln!(
                "bench: 3. scale, {apps} apps x {} releases",
                config.releases_per_app
            );
            results
                .scale
                .push(scale::run(&client, apps, config.releases_per_app).await);
        }
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
