//! The command line: every command, flag and argument, as clap parses them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod env;
mod ops;

pub use env::{EnvArgs, EnvCommand, EnvMaskCommand, EnvWriteOpts};
pub use ops::{
    ExecArgs, LogsArgs, PsArgs, PsCommand, RestartArgs, RunArgs, ScaleArgs, ServicesArgs,
    ServicesCommand,
};

/// `convox`: the Convox release workflow over Slipway's App, Build and Release objects.
#[derive(Parser, Debug)]
#[command(
    name = "convox",
    version,
    about = "The Convox release workflow on Kubernetes (Slipway)",
    propagate_version = true
)]
pub struct Cli {
    /// Where to work: app, rack (kube context) and namespace.
    #[command(flatten)]
    pub global: Global,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// App name [default: the contents of .convox/app, else the directory name]
    #[arg(short, long, global = true, env = "CONVOX_APP")]
    pub app: Option<String>,
    /// Rack: the kube context to use [default: the current context]
    #[arg(short, long, global = true, env = "CONVOX_RACK")]
    pub rack: Option<String>,
    /// Namespace [default: the context's namespace, else default]
    #[arg(short, long, global = true)]
    pub namespace: Option<String>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List apps, or create, inspect, delete an app and cancel its rollout
    Apps(AppsArgs),
    /// Create a build from convox.yml and wait for its release
    Build(BuildArgs),
    /// List builds, or show one
    Builds(BuildsArgs),
    /// Create a build and promote its release
    Deploy(DeployArgs),
    /// List releases, or inspect, promote, roll back and compose them
    Releases(ReleasesArgs),
    /// Show or change the environment (every change makes a new release)
    Env(EnvArgs),
    /// List the app's processes, or show or stop one
    Ps(PsArgs),
    /// Stream the app's logs, with its rollout events
    Logs(LogsArgs),
    /// Run a one-off process of a service
    Run(RunArgs),
    /// Run a command in a running process
    Exec(ExecArgs),
    /// Show or change the count, CPU and memory of services (kept across releases)
    Scale(ScaleArgs),
    /// Restart the processes of the app (or of one service), without a new release
    Restart(RestartArgs),
    /// List the app's services, or restart one
    Services(ServicesArgs),
    /// Print a shell completion script
    Completion(CompletionArgs),
}

/// Output format of read commands.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Convox's tables and info blocks
    #[default]
    Text,
    /// JSON
    Json,
    /// YAML
    Yaml,
}

/// The `-o` and `--watch` flags of read commands.
#[derive(Args, Debug, Clone, Default)]
pub struct ReadOpts {
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Print again every N seconds until interrupted (N <= 0 or not a number: once)
    #[arg(long, value_name = "N")]
    pub watch: Option<String>,
}

impl ReadOpts {
    /// The `--watch` period, when it asks for one (Convox: N <= 0 or a non-number runs once).
    pub fn watch_every(&self) -> Option<Duration> {
        let seconds: i64 = self.watch.as_deref()?.trim().parse().ok()?;
        (seconds > 0).then(|| Duration::from_secs(seconds.unsigned_abs()))
    }
}

/// Flags of every command that promotes a release.
#[derive(Args, Debug, Clone, Default)]
pub struct PromoteOpts {
    /// Write spec.release even when a GitOps tool manages it
    #[arg(long)]
    pub force: bool,
    /// How long to follow the rollout (e.g. 90s, 15m) [default: twice the app's progress deadline plus a minute]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,
    /// Accepted for Convox scripts: Slipway always follows the rollout to its end
    #[arg(long)]
    pub wait: bool,
}

/// `convox apps`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AppsArgs {
    /// What to do with apps
    #[command(subcommand)]
    pub command: Option<AppsCommand>,
    /// Output format
    #[command(flatten)]
    pub read: ReadOpts,
}

/// `convox apps …`.
#[derive(Subcommand, Debug)]
pub enum AppsCommand {
    /// Create an app
    Create {
        /// App name [default: -a, .convox/app, the directory name]
        name: Option<String>,
        /// Accepted for Convox scripts: an app is ready once created
        #[arg(long)]
        wait: bool,
    },
    /// Show an app
    Info {
        /// App name [default: -a, .convox/app, the directory name]
        name: Option<String>,
        /// Output format
        #[command(flatten)]
        read: ReadOpts,
    },
    /// Delete an app with its builds, releases and processes
    Delete {
        /// App name
        name: String,
        /// Accepted for Convox scripts: the app's objects are deleted in the background
        #[arg(long)]
        wait: bool,
    },
    /// Cancel the rollout in flight: return to the active release
    Cancel {
        /// App name [default: -a, .convox/app, the directory name]
        name: Option<String>,
        /// Promotion flags
        #[command(flatten)]
        promote: PromoteOpts,
    },
}

/// What to build: shared by `build` and `deploy`.
#[derive(Args, Debug, Clone, Default)]
pub struct BuildSource {
    /// Directory holding convox.yml
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Manifest file, relative to the directory
    #[arg(
        short = 'm',
        long = "manifest",
        visible_short_alias = 'f',
        visible_alias = "file",
        default_value = "convox.yml"
    )]
    pub manifest: PathBuf,
    /// Image of a service, overriding convox.yml (repeatable)
    #[arg(long = "image", value_name = "SERVICE=REF")]
    pub images: Vec<String>,
    /// Build description [default: `build <sha> <subject>` of a clean git tree]
    #[arg(short, long)]
    pub description: Option<String>,
    /// How long to wait for the build (e.g. 90s, 15m)
    #[arg(long = "build-timeout", value_parser = parse_duration, default_value = "10m", value_name = "DURATION")]
    pub build_timeout: Duration,
    /// Build every layer again, without the layer cache
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// A build argument, over the one from the release env (repeatable)
    #[arg(long = "build-args", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
}

/// `convox build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// What to build
    #[command(flatten)]
    pub source: BuildSource,
    /// Print only the release ID on stdout, progress on stderr
    #[arg(long)]
    pub id: bool,
    /// Accepted for Convox scripts: Slipway always waits for the build
    #[arg(long)]
    pub wait: bool,
}

/// `convox builds`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BuildsArgs {
    /// What to do with builds
    #[command(subcommand)]
    pub command: Option<BuildsCommand>,
    /// Number of builds to list
    #[arg(short, long, default_value_t = 20)]
    pub limit: usize,
    /// Output format
    #[command(flatten)]
    pub read: ReadOpts,
}

/// `convox builds …`.
#[derive(Subcommand, Debug)]
pub enum BuildsCommand {
    /// Print what the build did
    Logs {
        /// Build ID
        id: String,
    },
    /// Show a build
    Info {
        /// Build ID
        id: String,
        /// Output format
        #[command(flatten)]
        read: ReadOpts,
    },
}

/// `convox deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// What to build
    #[command(flatten)]
    pub source: BuildSource,
    /// Promotion flags
    #[command(flatten)]
    pub promote: PromoteOpts,
    /// Print only the release ID on stdout, progress on stderr
    #[arg(long)]
    pub id: bool,
}

/// `convox releases`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReleasesArgs {
    /// What to do with releases
    #[command(subcommand)]
    pub command: Option<ReleasesCommand>,
    /// Number of releases to list
    #[arg(short, long, default_value_t = 10)]
    pub limit: usize,
    /// Output format
    #[command(flatten)]
    pub read: ReadOpts,
}

/// `convox releases …`.
#[derive(Subcommand, Debug)]
pub enum ReleasesCommand {
    /// Show a release
    Info {
        /// Release ID
        id: String,
        /// Show values of secret env keys
        #[arg(long)]
        reveal: bool,
        /// Output format
        #[command(flatten)]
        read: ReadOpts,
    },
    /// Print the convox.yml of a release
    Manifest {
        /// Release ID
        id: String,
    },
    /// Promote a release and follow its rollout (waits for a rollout in flight, unless --supersede)
    Promote {
        /// Release ID [default: the newest release]
        id: Option<String>,
        /// Show what would change against what runs, and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Replace a rollout in flight at once instead of waiting for the app to be ready
        #[arg(long)]
        supersede: bool,
        /// Promotion flags
        #[command(flatten)]
        promote: PromoteOpts,
    },
    /// Copy a release and promote the copy
    Rollback {
        /// Release ID to return to
        id: String,
        /// Print only the new release ID on stdout, progress on stderr
        #[arg(long = "id")]
        id_only: bool,
        /// Show what would change against what runs, and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Promotion flags
        #[command(flatten)]
        promote: PromoteOpts,
    },
    /// Show what changes from release A to release B: images, env keys, services
    Diff {
        /// The release to compare from
        from: String,
        /// The release to compare to
        to: String,
    },
    /// Create a release from the build of one release and the env of another
    CreateFrom(CreateFromArgs),
}

/// `convox releases create-from`.
#[derive(Args, Debug, Default)]
pub struct CreateFromArgs {
    /// Release ID to use as the build source
    #[arg(long, value_name = "RELEASE")]
    pub build_from: Option<String>,
    /// Release ID to use as the environment source
    #[arg(long, value_name = "RELEASE")]
    pub env_from: Option<String>,
    /// Use the currently active release's build
    #[arg(long)]
    pub use_active_release_build: bool,
    /// Use the currently active release's environment
    #[arg(long)]
    pub use_active_release_env: bool,
    /// Promote the new release
    #[arg(long)]
    pub promote: bool,
    /// Promotion flags
    #[command(flatten)]
    pub opts: PromoteOpts,
}

/// `convox completion`.
#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// Shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Parses `90`, `90s`, `15m` or `1h` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 90s, 15m or 1h"))?;
    let seconds = match unit {
        "" | "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        _ => {
            return Err(format!(
                "invalid duration {text:?}: expected e.g. 90s, 15m or 1h"
            ));
        }
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests;
