//! The command line parses, is consistent, and every command has help.
use super::*;
use clap::CommandFactory;

fn help_of_every_command(command: &mut clap::Command, path: &str, seen: &mut Vec<String>) {
    let help = command.render_long_help().to_string();
    assert!(help.contains("Usage:"), "{path}: {help}");
    seen.push(path.to_string());
    for sub in command.get_subcommands_mut() {
        let name = format!("{path} {}", sub.get_name());
        help_of_every_command(sub, &name, seen);
    }
}

#[test]
fn the_command_line_is_consistent_and_every_command_has_help() {
    Cli::command().debug_assert();
    let mut command = Cli::command();
    command.build();
    let mut seen = vec![];
    help_of_every_command(&mut command, "convox", &mut seen);
    for expected in [
        "convox apps cancel",
        "convox builds info",
        "convox releases create-from",
        "convox env edit",
        "convox ps",
        "convox completion",
    ] {
        assert!(seen.iter().any(|s| s == expected), "{expected} in {seen:?}");
    }
}

#[test]
fn help_flag_works_for_every_command() {
    for args in [
        vec!["convox", "--help"],
        vec!["convox", "apps", "--help"],
        vec!["convox", "apps", "create", "--help"],
        vec!["convox", "apps", "info", "--help"],
        vec!["convox", "apps", "delete", "--help"],
        vec!["convox", "apps", "cancel", "--help"],
        vec!["convox", "build", "--help"],
        vec!["convox", "builds", "--help"],
        vec!["convox", "builds", "info", "--help"],
        vec!["convox", "deploy", "--help"],
        vec!["convox", "releases", "--help"],
        vec!["convox", "releases", "info", "--help"],
        vec!["convox", "releases", "manifest", "--help"],
        vec!["convox", "releases", "promote", "--help"],
        vec!["convox", "releases", "rollback", "--help"],
        vec!["convox", "releases", "create-from", "--help"],
        vec!["convox", "env", "--help"],
        vec!["convox", "env", "get", "--help"],
        vec!["convox", "env", "set", "--help"],
        vec!["convox", "env", "unset", "--help"],
        vec!["convox", "env", "edit", "--help"],
        vec!["convox", "ps", "--help"],
        vec!["convox", "ps", "info", "--help"],
        vec!["convox", "ps", "stop", "--help"],
        vec!["convox", "logs", "--help"],
        vec!["convox", "builds", "logs", "--help"],
        vec!["convox", "run", "--help"],
        vec!["convox", "exec", "--help"],
        vec!["convox", "scale", "--help"],
        vec!["convox", "restart", "--help"],
        vec!["convox", "services", "--help"],
        vec!["convox", "services", "restart", "--help"],
        vec!["convox", "releases", "diff", "--help"],
        vec!["convox", "env", "mask", "--help"],
        vec!["convox", "env", "mask", "set", "--help"],
        vec!["convox", "env", "mask", "unset", "--help"],
        vec!["convox", "completion", "--help"],
    ] {
        let err = Cli::try_parse_from(&args).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{args:?}");
    }
}

#[test]
fn seed_command_lines_parse() {
    let cli = Cli::try_parse_from([
        "convox",
        "releases",
        "create-from",
        "--build-from=RABCDEFGHIJ",
        "--env-from=RBCDEFGHIJK",
        "-a",
        "myapp",
        "--promote",
    ])
    .unwrap();
    assert_eq!(cli.global.app.as_deref(), Some("myapp"));
    let cli =
        Cli::try_parse_from(["convox", "env", "set", "FOO=bar", "-a", "myapp", "-p"]).unwrap();
    match cli.command {
        Command::Env(EnvArgs {
            command: Some(EnvCommand::Set { pairs, write, .. }),
            ..
        }) => {
            assert_eq!(pairs, ["FOO=bar"]);
            assert!(write.promote);
        }
        other => panic!("{other:?}"),
    }
    assert!(Cli::try_parse_from(["convox", "releases", "-a", "myapp"]).is_ok());
    assert!(Cli::try_parse_from(["convox", "releases", "rollback", "RABCDEFGHIJ", "--id"]).is_ok());
}

#[test]
fn convox_habits_parse() {
    for line in [
        "convox apps cancel myapp --wait",
        "convox apps create myapp --wait",
        "convox releases promote RABCDEFGHIJ --wait --supersede",
        "convox releases promote --dry-run",
        "convox releases rollback RABCDEFGHIJ --wait --dry-run",
        "convox deploy --wait",
        "convox build --wait --id",
        "convox services restart web --wait",
        "convox restart --wait",
        "convox env set FOO=bar --promote --wait",
        "convox env set",
        "convox releases --watch 5",
        "convox ps --watch x --release RABCDEFGHIJ -s web",
        "convox ps info myapp-web-1 --watch 2",
        "convox run web bin/migrate --step 2 -a myapp",
        "convox exec myapp-web-1 ls -la",
        "convox scale web --count 3 --cpu 256 --memory 512 --wait",
        "convox logs -s web --since 10m --filter GET --no-follow --tail 5",
    ] {
        let words: Vec<&str> = line.split(' ').collect();
        assert!(Cli::try_parse_from(&words).is_ok(), "{line}");
    }
    let cli = Cli::try_parse_from(["convox", "run", "web", "bin/migrate", "--step", "2"]).unwrap();
    match cli.command {
        Command::Run(run) => assert_eq!(run.command, ["bin/migrate", "--step", "2"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn watch_periods_follow_convox() {
    let every = |w: &str| {
        ReadOpts {
            watch: Some(w.to_string()),
            ..ReadOpts::default()
        }
        .watch_every()
    };
    assert_eq!(every("5"), Some(Duration::from_secs(5)));
    assert_eq!(every("0"), None);
    assert_eq!(every("-3"), None);
    assert_eq!(every("soon"), None);
    assert_eq!(ReadOpts::default().watch_every(), None);
}

#[test]
fn durations_parse() {
    assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
    assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
    assert!(parse_duration("soon").is_err());
    assert!(parse_duration("5d").is_err());
}
