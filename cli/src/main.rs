//! `convox`: the Convox release workflow over Slipway's App, Build and Release objects.

mod args;
mod commands;
mod context;
mod envchange;
mod error;
mod output;
mod rollout;
mod store;

use clap::{CommandFactory, Parser};
use kube::ResourceExt;

use args::{AppsCommand, BuildsCommand, Cli, Command, EnvCommand, ReleasesCommand};
use commands::{apps, builds, env, ps, releases};
use context::Ctx;
use error::Result;
use output::Term;

#[tokio::main]
async fn main() {
    let cli = match Cli::try_parse() {
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
            eprintln!("ERROR: {}", usage_error(&err.to_string()));
            std::process::exit(1);
        }
    };
    if let Err(err) = run(cli).await {
        eprintln!("ERROR: {err}");
        std::process::exit(1);
    }
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
    let term = &mut term;
    match cli.command {
        Command::Apps(a) => match a.command {
            None => apps::list(&ctx, term, a.read).await,
            Some(AppsCommand::Create { name }) => apps::create(&named(&ctx, name), term).await,
            Some(AppsCommand::Info { name, read }) => {
                apps::info(&named(&ctx, name), term, read).await
            }
            Some(AppsCommand::Delete { name }) => apps::delete(&ctx.for_app(&name), term).await,
            Some(AppsCommand::Cancel { promote }) => apps::cancel(&ctx, term, &promote).await,
        },
        Command::Build(a) => {
            let release = builds::build(&ctx, term, &a.source).await?;
            term.result_id(&slipway_crds::id::display_id(&release.name_any()));
            Ok(())
        }
        Command::Deploy(a) => {
            let release = builds::deploy(&ctx, term, &a.source, &a.promote).await?;
            term.result_id(&slipway_crds::id::display_id(&release.name_any()));
            Ok(())
        }
        Command::Builds(a) => match a.command {
            None => builds::list(&ctx, term, a.limit, a.read).await,
            Some(BuildsCommand::Info { id, read }) => builds::info(&ctx, term, &id, read).await,
        },
        Command::Releases(a) => match a.command {
            None => releases::list(&ctx, term, a.limit, a.read).await,
            Some(ReleasesCommand::Info { id, reveal, read }) => {
                releases::info(&ctx, term, &id, reveal, read).await
            }
            Some(ReleasesCommand::Manifest { id }) => releases::manifest(&ctx, term, &id).await,
            Some(ReleasesCommand::Promote { id, promote }) => {
                releases::promote(&ctx, term, id.as_deref(), &promote).await
            }
            Some(ReleasesCommand::Rollback { id, promote, .. }) => {
                releases::rollback(&ctx, term, &id, &promote).await
            }
            Some(ReleasesCommand::CreateFrom(args)) => {
                releases::create_from(&ctx, term, &args).await
            }
        },
        Command::Env(a) => match a.command {
            None => env::show(&ctx, term, a.release.as_deref(), a.reveal, a.read).await,
            Some(EnvCommand::Get { key, release }) => {
                env::get(&ctx, term, &key, release.as_deref()).await
            }
            Some(EnvCommand::Set {
                pairs,
                replace,
                secret,
                write,
            }) => env::set(&ctx, term, &pairs, replace, secret, &write).await,
            Some(EnvCommand::Unset { keys, write }) => env::unset(&ctx, term, &keys, &write).await,
            Some(EnvCommand::Edit { write }) => env::edit(&ctx, term, &write).await,
        },
        Command::Ps(a) => ps::list(&ctx, term, a.service.as_deref(), a.read).await,
        Command::Completion(_) => Ok(()),
    }
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
fn named(ctx: &Ctx, name: Option<String>) -> Ctx {
    name.map_or_else(|| ctx.clone(), |n| ctx.for_app(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

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
