//! The command line: every command, flag and argument, as clap parses them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// List the app's processes
    Ps(PsArgs),
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

/// The `-o` flag of read commands.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct ReadOpts {
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
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
    },
    /// Cancel the rollout in flight: return to the active release
    Cancel {
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
    /// Promote a release and follow its rollout
    Promote {
        /// Release ID [default: the newest release]
        id: Option<String>,
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
        /// Promotion flags
        #[command(flatten)]
        promote: PromoteOpts,
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

/// `convox env`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EnvArgs {
    /// What to do with the environment
    #[command(subcommand)]
    pub command: Option<EnvCommand>,
    /// Release to read [default: the newest release]
    #[arg(long)]
    pub release: Option<String>,
    /// Show values of secret keys
    #[arg(long)]
    pub reveal: bool,
    /// Output format
    #[command(flatten)]
    pub read: ReadOpts,
}

/// Flags of every command that changes the environment.
#[derive(Args, Debug, Clone, Default)]
pub struct EnvWriteOpts {
    /// Release to start from [default: the newest release]
    #[arg(long)]
    pub release: Option<String>,
    /// Promote the new release
    #[arg(short, long)]
    pub promote: bool,
    /// Print only the release ID on stdout, progress on stderr
    #[arg(long)]
    pub id: bool,
    /// Promotion flags
    #[command(flatten)]
    pub opts: PromoteOpts,
}

/// `convox env …`.
#[derive(Subcommand, Debug)]
pub enum EnvCommand {
    /// Print the value of one key
    Get {
        /// Key to print
        key: String,
        /// Release to read [default: the newest release]
        #[arg(long)]
        release: Option<String>,
    },
    /// Set keys (KEY=VALUE ...), making a new release
    Set {
        /// KEY=VALUE pairs
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
        /// Replace the whole environment instead of merging into it
        #[arg(long)]
        replace: bool,
        /// Mark the keys secret: shown as **** unless --reveal
        #[arg(long)]
        secret: bool,
        /// Write flags
        #[command(flatten)]
        write: EnvWriteOpts,
    },
    /// Remove keys, making a new release
    Unset {
        /// Keys to remove
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// Write flags
        #[command(flatten)]
        write: EnvWriteOpts,
    },
    /// Edit the environment in $EDITOR, making a new release
    Edit {
        /// Write flags
        #[command(flatten)]
        write: EnvWriteOpts,
    },
}

/// `convox ps`.
#[derive(Args, Debug)]
pub struct PsArgs {
    /// Only processes of this service
    #[arg(short, long)]
    pub service: Option<String>,
    /// Output format
    #[command(flatten)]
    pub read: ReadOpts,
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
