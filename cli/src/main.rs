//! `convox`: the Convox release workflow over Slipway's App, Build and Release objects.

mod args;
mod commands;
mod context;
mod diagnose;
mod envchange;
mod error;
mod output;
mod rollout;
mod source;
mod store;

use clap::{CommandFactory, FromArgMatches};
use kube::ResourceExt;

use args::{
    AppsCommand, BuildsCommand, Cli, Command, EnvCommand, EnvMaskCommand, PsCommand, ReadOpts,
    ReleasesCommand, ServicesCommand,
};
use commands::{apps, builds, env, logs, ps, releases, run, scale};
use context::Ctx;
use error::{Error, Result};
use output::{Term, colour_enabled, error_line};

#[tokio::main]
async fn main() {
    // The registry client (source uploads) takes the process's TLS provider: kube's ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let argv: Vec<String> = std::env::args().collect();
    let name = invoked_as(argv.first().map(String::as_str).unwrap_or_default());
    let parsed = Cli::command()
        .bin_name(name)
        .try_get_matches_from(&argv)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err)
            if !err.use_stderr()
                || err.kind()
                    == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            err.exit()
        }
        Err(err) => {
            // Convox's form for every error: one `ERROR:` line and exit 1.
            let message =
                arg_count_error(&err, &argv).unwrap_or_else(|| usage_error(&err.to_string()));
            eprintln!("{}", error_line(&message, stdout_colour()));
            std::process::exit(1);
        }
    };
    match run(cli).await {
        // At once: a read of stdin still blocked in a runtime thread (run, exec) must not hold
        // the exit.
        Ok(()) => std::process::exit(0),
        // The exit status of `run` and `exec` is the command's, with nothing added.
        Err(Error::Exit(code)) => std::process::exit(code),
        Err(err) => {
            eprintln!("{}", error_line(&err.to_string(), stdout_colour()));
            std::process::exit(1);
        }
    }
}

/// The name usage and help show: `kubectl slipway` when run as kubectl's plugin
/// `kubectl-slipway` (a link to or copy of this binary), else `convox`.
fn invoked_as(argv0: &str) -> &'static str {
    let file = std::path::Path::new(argv0)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    if file.starts_with("kubectl-slipway") {
        "kubectl slipway"
    } else {
        "convox"
    }
}

fn stdout_colour() -> bool {
    use std::io::IsTerminal;
    colour_enabled(std::io::stdout().is_terminal())
}

/// Whether the command prints only the resulting ID on stdout.
fn id_mode(command: &Command) -> bool {
    match command {
        Command::Build(a) => a.id,
        Command::Deploy(a) => a.id,
        Command::Releases(a) => matches!(
            &a.command,
            Some(ReleasesCommand::Rollback { id_only: true, .. })
        ),
        Command::Env(a) => match &a.command {
            Some(
                EnvCommand::Set { write, .. }
                | EnvCommand::Unset { write, .. }
                | EnvCommand::Edit { write },
            ) => write.id,
            _ => false,
        },
        _ => false,
    }
}

/// The `-o`/`--watch` flags of a read command that Convox lets `--watch`.
fn read_opts(command: &Command) -> Option<&ReadOpts> {
    match command {
        Command::Apps(a) if a.command.is_none() => Some(&a.read),
        Command::Builds(a) if a.command.is_none() => Some(&a.read),
        Command::Releases(a) if a.command.is_none() => Some(&a.read),
        Command::Env(a) if a.command.is_none() => Some(&a.read),
        Command::Ps(a) => match &a.command {
            None => Some(&a.read),
            Some(PsCommand::Info { read, .. }) => Some(read),
            Some(PsCommand::Stop { .. }) => None,
        },
        Command::Scale(a) if a.count.is_none() && a.cpu.is_none() && a.memory.is_none() => {
            Some(&a.read)
        }
        Command::Services(a) if a.command.is_none() => Some(&a.read),
        _ => None,
    }
}

async fn run(cli: Cli) -> Result<()> {
    if let Command::Completion(a) = &cli.command {
        // Generated into memory: clap_complete panics on a closed pipe (`| head`).
        let mut script = Vec::new();
        clap_complete::generate(a.shell, &mut Cli::command(), "convox", &mut script);
        Term::stdio(false).text(&String::from_utf8_lossy(&script));
        return Ok(());
    }
    let mut term = Term::stdio(id_mode(&cli.command));
    let ctx = Ctx::connect(&cli.global).await?;
    let Some(every) = read_opts(&cli.command).and_then(ReadOpts::watch_every) else {
        return dispatch(&ctx, &mut term, &cli.command).await;
    };
    // `--watch N`: the output again every N seconds; errors print and the loop goes on.
    loop {
        if term.tty {
            term.text("\x1b[H\x1b[2J");
        }
        term.text(&format!("Every {}s:\n\n", every.as_secs()));
        if let Err(err) = dispatch(&ctx, &mut term, &cli.command).await {
            eprintln!("{}", error_line(&err.to_string(), term.colour));
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn dispatch(ctx: &Ctx, term: &mut Term, command: &Command) -> Result<()> {
    match command {
        Command::Apps(a) => match &a.command {
            None => apps::list(ctx, term, &a.read).await,
            Some(AppsCommand::Create { name, .. }) => apps::create(&named(ctx, name), term).await,
            Some(AppsCommand::Info { name, read }) => {
                apps::info(&named(ctx, name), term, read).await
            }
            Some(AppsCommand::Delete { name, .. }) => apps::delete(&ctx.for_app(name), term).await,
            Some(AppsCommand::Cancel { name, promote }) => {
                apps::cancel(&named(ctx, name), term, promote).await
            }
        },
        Command::Build(a) => {
            let release = builds::build(ctx, term, &a.source).await?;
            term.result_id(&slipway_crds::id::display_id(&release.name_any()));
            Ok(())
        }
        Command::Deploy(a) => {
            let release = builds::deploy(ctx, term, &a.source, &a.promote).await?;
            term.result_id(&slipway_crds::id::display_id(&release.name_any()));
            Ok(())
        }
        Command::Builds(a) => match &a.command {
            None => builds::list(ctx, term, a.limit, &a.read).await,
            Some(BuildsCommand::Info { id, read }) => builds::info(ctx, term, id, read).await,
            Some(BuildsCommand::Logs { id }) => builds::logs(ctx, term, id).await,
        },
        Command::Releases(a) => releases_command(ctx, term, a).await,
        Command::Env(a) => env_command(ctx, term, a).await,
        Command::Ps(a) => match &a.command {
            None => {
                let (service, release) = (a.service.as_deref(), a.release.as_deref());
                ps::list(ctx, term, service, release, &a.read).await
            }
            Some(PsCommand::Info { pid, read }) => ps::info(ctx, term, pid, read).await,
            Some(PsCommand::Stop { pid }) => ps::stop(ctx, term, pid).await,
        },
        Command::Logs(a) => logs::logs(ctx, term, a).await,
        Command::Run(a) => run::run(ctx, term, a).await,
        Command::Exec(a) => run::exec(ctx, a).await,
        Command::Scale(a) => scale::scale(ctx, term, a).await,
        Command::Restart(a) => scale::restart(ctx, term, a.service.as_deref(), a.force).await,
        Command::Services(a) => match &a.command {
            None => scale::services(ctx, term, &a.read).await,
            Some(ServicesCommand::Restart { service, force, .. }) => {
                scale::restart(ctx, term, Some(service), *force).await
            }
        },
        Command::Completion(_) => Ok(()),
    }
}

async fn releases_command(ctx: &Ctx, term: &mut Term, a: &args::ReleasesArgs) -> Result<()> {
    match &a.command {
        None => releases::list(ctx, term, a.limit, &a.read).await,
        Some(ReleasesCommand::Info { id, reveal, read }) => {
            releases::info(ctx, term, id, *reveal, read).await
        }
        Some(ReleasesCommand::Manifest { id }) => releases::manifest(ctx, term, id).await,
        Some(ReleasesCommand::Promote {
            id,
            dry_run,
            supersede,
            promote,
        }) => {
            let how = releases::PromoteHow {
                dry_run: *dry_run,
                supersede: *supersede,
                opts: promote,
            };
            releases::promote(ctx, term, id.as_deref(), how).await
        }
        Some(ReleasesCommand::Rollback {
            id,
            dry_run,
            promote,
            ..
        }) => releases::rollback(ctx, term, id, *dry_run, promote).await,
        Some(ReleasesCommand::Diff { from, to }) => releases::diff(ctx, term, from, to).await,
        Some(ReleasesCommand::CreateFrom(args)) => releases::create_from(ctx, term, args).await,
    }
}

async fn env_command(ctx: &Ctx, term: &mut Term, a: &args::EnvArgs) -> Result<()> {
    match &a.command {
        None => env::show(ctx, term, a.release.as_deref(), a.reveal, &a.read).await,
        Some(EnvCommand::Get { key, release }) => {
            env::get(ctx, term, key, release.as_deref()).await
        }
        Some(EnvCommand::Set {
            pairs,
            replace,
            secret,
            write,
        }) => env::set(ctx, term, pairs, *replace, *secret, write).await,
        Some(EnvCommand::Unset { keys, write }) => env::unset(ctx, term, keys, write).await,
        Some(EnvCommand::Edit { write }) => env::edit(ctx, term, write).await,
        Some(EnvCommand::Mask(m)) => match &m.command {
            None => env::masks(ctx, term, m.release.as_deref()).await,
            Some(EnvMaskCommand::Set { keys, write }) => {
                env::mask(ctx, term, keys, true, write).await
            }
            Some(EnvMaskCommand::Unset { keys, write }) => {
                env::mask(ctx, term, keys, false, write).await
            }
        },
    }
}

/// Convox's wording for a wrong number of arguments: `1 arg required`, `at least 1 arg required`.
fn arg_count_error(err: &clap::Error, argv: &[String]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let about_positionals = match (err.kind(), err.get(ContextKind::InvalidArg)) {
        (ErrorKind::MissingRequiredArgument, Some(ContextValue::Strings(args))) => {
            args.iter().all(|a| a.starts_with('<'))
        }
        (ErrorKind::UnknownArgument, Some(ContextValue::String(arg))) => !arg.starts_with('-'),
        _ => false,
    };
    if !about_positionals {
        return None;
    }
    let mut command = Cli::command();
    command.build();
    let mut current = &command;
    for word in argv.iter().skip(1).filter(|w| !w.starts_with('-')) {
        if let Some(sub) = current.find_subcommand(word) {
            current = sub;
        }
    }
    let required: Vec<&clap::Arg> = current
        .get_positionals()
        .filter(|a| a.is_required_set())
        .collect();
    let n = required.len();
    if n == 0 {
        return None;
    }
    let plural = if n == 1 { "arg" } else { "args" };
    let many = required
        .iter()
        .any(|a| a.get_num_args().is_some_and(|r| r.max_values() > 1));
    Some(if many {
        format!("at least {n} {plural} required")
    } else {
        format!("{n} {plural} required")
    })
}

/// The first line of a clap error, without its `error: ` prefix, and where to read more.
fn usage_error(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    // clap lists missing arguments on the indented lines that follow.
    let details: Vec<&str> = lines
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    if details.is_empty() {
        format!("{message} (see --help)")
    } else {
        format!("{message} {} (see --help)", details.join(", "))
    }
}

/// The context for an app named by a positional argument, else the usual app.
fn named(ctx: &Ctx, name: &Option<String>) -> Ctx {
    name.as_deref()
        .map_or_else(|| ctx.clone(), |n| ctx.for_app(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn run_as_kubectl_slipway_its_usage_says_so() {
        assert_eq!(
            invoked_as("/usr/local/bin/kubectl-slipway"),
            "kubectl slipway"
        );
        assert_eq!(invoked_as("target/debug/convox"), "convox");
        let err = Cli::command()
            .bin_name(invoked_as("kubectl-slipway"))
            .try_get_matches_from(["kubectl-slipway", "releases", "info"])
            .unwrap_err();
        let usage = err.render().to_string();
        assert!(
            usage.contains("Usage: kubectl slipway releases info"),
            "{usage}"
        );
    }

    fn count_error(line: &str) -> Option<String> {
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        let err = Cli::try_parse_from(&argv).unwrap_err();
        arg_count_error(&err, &argv)
    }

    #[test]
    fn argument_counts_read_like_convox() {
        assert_eq!(
            count_error("convox releases info").as_deref(),
            Some("1 arg required")
        );
        assert_eq!(
            count_error("convox ps stop").as_deref(),
            Some("1 arg required")
        );
        assert_eq!(
            count_error("convox releases diff RA").as_deref(),
            Some("2 args required")
        );
        assert_eq!(
            count_error("convox env unset -a myapp").as_deref(),
            Some("at least 1 arg required")
        );
        assert_eq!(
            count_error("convox exec myapp-web-1").as_deref(),
            Some("at least 2 args required")
        );
        assert_eq!(
            count_error("convox releases info R1 R2").as_deref(),
            Some("1 arg required")
        );
        assert_eq!(count_error("convox releases --bogus"), None);
    }

    #[test]
    fn usage_errors_are_one_convox_error_line() {
        let err = Cli::try_parse_from(["convox", "releases", "info"]).unwrap_err();
        assert_eq!(
            usage_error(&err.to_string()),
            "the following required arguments were not provided: <ID> (see --help)"
        );
        let err = Cli::try_parse_from(["convox", "releases", "--bogus"]).unwrap_err();
        assert_eq!(
            usage_error(&err.to_string()),
            "unexpected argument '--bogus' found (see --help)"
        );
    }
}
