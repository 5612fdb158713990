//! The arguments of `convox env` and its subcommands.

use clap::{Args, Subcommand};

use super::{PromoteOpts, ReadOpts};

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
    /// Set keys (KEY=VALUE ...; with none, KEY=VALUE lines from stdin), making a new release
    Set {
        /// KEY=VALUE pairs [default: KEY=VALUE lines from stdin when it is not a terminal]
        #[arg(value_name = "KEY=VALUE")]
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
    /// List the masked (secret) keys, or mask and unmask keys
    Mask(EnvMaskArgs),
}

/// `convox env mask`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EnvMaskArgs {
    /// What to do with the mask list
    #[command(subcommand)]
    pub command: Option<EnvMaskCommand>,
    /// Release to read [default: the newest release]
    #[arg(long)]
    pub release: Option<String>,
}

/// `convox env mask …`.
#[derive(Subcommand, Debug)]
pub enum EnvMaskCommand {
    /// Mask keys: shown as **** on a terminal unless --reveal (makes a new release)
    Set {
        /// Keys to mask
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// Write flags
        #[command(flatten)]
        write: EnvWriteOpts,
    },
    /// Unmask keys (makes a new release)
    Unset {
        /// Keys to unmask
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// Write flags
        #[command(flatten)]
        write: EnvWriteOpts,
    },
}
