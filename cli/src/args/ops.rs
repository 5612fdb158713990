//! The arguments of the commands about running processes: ps, logs, run, exec, scale,
//! restart and services.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::{ReadOpts, parse_duration};

/// `convox ps`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PsArgs {
    /// Show, or stop, one process
    #[command(subcommand)]
    pub command: Option<PsCommand>,
    /// Only processes of this service
    #[arg(short, long)]
    pub service: Option<String>,
    /// Only processes of this release
    #[arg(long)]
    pub release: Option<String>,
    /// Output format
    #[command(flatten)]
    pub read: ReadOpts,
}

/// `convox ps …`.
#[derive(Subcommand, Debug)]
pub enum PsCommand {
    /// Show a process
    Info {
        /// Process ID (the pod name)
        pid: String,
        /// Output format
        #[command(flatten)]
        read: ReadOpts,
    },
    /// Stop a process (its Deployment starts a replacement)
    Stop {
        /// Process ID (the pod name)
        pid: String,
    },
}

/// `convox logs`.
#[derive(Args, Debug, Clone, Default)]
pub struct LogsArgs {
    /// Only this service
    #[arg(short, long)]
    pub service: Option<String>,
    /// Start this long ago (e.g. 10m, 2h)
    #[arg(long, value_parser = parse_duration, default_value = "2m", value_name = "DURATION")]
    pub since: Duration,
    /// Only lines containing this text
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Print what there is and stop, instead of following
    #[arg(long)]
    pub no_follow: bool,
    /// At most this many lines of each process to start with
    #[arg(long, value_name = "N")]
    pub tail: Option<i64>,
}

/// `convox run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Service whose image, command environment and resources the process gets
    pub service: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Release to run [default: the active release]
    #[arg(long)]
    pub release: Option<String>,
    /// Start the process and print its ID instead of attaching to it
    #[arg(short, long)]
    pub detach: bool,
    /// How long to wait for the process to start (e.g. 90s, 5m)
    #[arg(long, value_parser = parse_duration, default_value = "5m", value_name = "DURATION")]
    pub timeout: Duration,
}

/// `convox exec`.
#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    /// Process ID (the pod name)
    pub pid: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `convox scale`.
#[derive(Args, Debug, Clone, Default)]
pub struct ScaleArgs {
    /// Service to scale [default: with no flags, show every service]
    pub service: Option<String>,
    /// Number of processes
    #[arg(long, value_name = "N")]
    pub count: Option<i32>,
    /// CPU in millicores, as scale.cpu in convox.yml
    #[arg(long, value_name = "N")]
    pub cpu: Option<i32>,
    /// Memory in MB
    #[arg(long, value_name = "N")]
    pub memory: Option<i32>,
    /// Write the scale even when a GitOps tool manages it
    #[arg(long)]
    pub force: bool,
    /// Accepted for Convox scripts: the change is applied at once
    #[arg(long)]
    pub wait: bool,
    /// Output format (with no flags)
    #[command(flatten)]
    pub read: ReadOpts,
}

/// `convox restart`.
#[derive(Args, Debug, Clone, Default)]
pub struct RestartArgs {
    /// Service to restart [default: every service]
    pub service: Option<String>,
    /// Write the restart even when a GitOps tool manages it
    #[arg(long)]
    pub force: bool,
    /// Accepted for Convox scripts: the restart rolls on in the cluster
    #[arg(long)]
    pub wait: bool,
}

/// `convox services`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServicesArgs {
    /// Restart a service
    #[command(subcommand)]
    pub command: Option<ServicesCommand>,
    /// Output format
    #[command(flatten)]
    pub read: ReadOpts,
}

/// `convox services …`.
#[derive(Subcommand, Debug)]
pub enum ServicesCommand {
    /// Restart a service's processes, one by one, without a new release
    Restart {
        /// Service to restart
        service: String,
        /// Write the restart even when a GitOps tool manages it
        #[arg(long)]
        force: bool,
        /// Accepted for Convox scripts: the restart rolls on in the cluster
        #[arg(long)]
        wait: bool,
    },
}
