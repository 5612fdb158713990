//! Bad input to the convox CLI: each is refused with `ERROR: <message>` and exit 1, and
//! nothing is written (no release, build or App change, nothing that runs touched).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::ResourceExt;
use kube::api::ListParams;
use slipway_crds::{App, Build, Release};
use slipway_tests::cli::{Run, convox, run_with};
use slipway_tests::reliability::{generations, scrub, scrub_ids};
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{TestNamespace, operator};

use super::{Outcome, in_namespace};

const MANIFEST: &str = "services:\n  web:\n    image: nginx:1\n    port: 80\n";

/// What a CLI command could have changed.
#[derive(Debug, PartialEq)]
struct Snapshot {
    releases: Vec<String>,
    builds: Vec<String>,
    apps: BTreeMap<String, (Option<String>, BTreeMap<String, String>)>,
    generations: BTreeMap<String, i64>,
}

async fn snapshot(ns: &TestNamespace) -> Snapshot {
    let names = |items: Vec<String>| {
        let mut items = items;
        items.sort();
        items
    };
    let all = ListParams::default();
    let releases = ns.api::<Release>().list(&all).await.unwrap().items;
    let builds = ns.api::<Build>().list(&all).await.unwrap().items;
    let apps = ns.api::<App>().list(&all).await.unwrap().items;
    Snapshot {
        releases: names(releases.iter().map(|r| r.name_any()).collect()),
        builds: names(builds.iter().map(|b| b.name_any()).collect()),
        apps: apps
            .iter()
            .map(|a| {
                (
                    a.name_any(),
                    (a.spec.release.clone(), a.annotations().clone()),
                )
            })
            .collect(),
        generations: generations(ns).await,
    }
}

/// The CLI cases.
pub async fn cases() -> Vec<Outcome> {
    in_namespace("bad-cli", run).await
}

async fn run(ns: &TestNamespace) -> Vec<Outcome> {
    let _operator = operator::start(ns.name());
    let myapp = create_app(ns, "myapp", 60).await;
    let other = create_app(ns, "other", 60).await;
    let env = [("FOO".to_string(), "one".to_string())].into();
    create_release(ns, &myapp, "rgoodgoodgo", MANIFEST, &env).await;
    create_release(ns, &other, "rotherappre", MANIFEST, &env).await;
    promote(ns, "myapp", "rgoodgoodgo").await;
    wait_app(
        ns,
        "myapp",
        "the good release to run",
        running("rgoodgoodgo"),
    )
    .await;

    let dir = std::env::temp_dir().join(format!("slipway-bad-cli-{}", ns.name()));
    let bad_manifest = dir.join("bad");
    let no_manifest = dir.join("empty");
    std::fs::create_dir_all(&bad_manifest).unwrap();
    std::fs::create_dir_all(&no_manifest).unwrap();
    std::fs::write(
        bad_manifest.join("convox.yml"),
        "services:\n  web:\n    imag: x\n",
    )
    .unwrap();
    // A multi-megabyte value cannot travel as one argument (Linux caps one at 128 KiB), so it
    // comes through `env edit`: the "editor" copies a 3 MiB env file over the one to edit.
    let big = dir.join("big.env");
    std::fs::write(&big, format!("FOO=one\nBIG={}\n", "x".repeat(3 << 20))).unwrap();
    let medium = dir.join("medium.env");
    std::fs::write(&medium, format!("FOO=one\nBIG={}\n", "x".repeat(3 << 19))).unwrap();
    let no_equals = dir.join("noequals.env");
    std::fs::write(&no_equals, "FOO=one\nJUSTAKEY\n").unwrap();
    let copy = |file: &std::path::Path| format!("cp {}", file.display());
    let (copy_big, copy_medium) = (copy(&big), copy(&medium));
    let copy_no_equals = copy(&no_equals);
    let bad_dir = bad_manifest.display().to_string();
    let empty_dir = no_manifest.display().to_string();

    // (input, app, arguments, environment, expected message)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<&'a str>,
        Vec<(&'a str, &'a str)>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "env set FOO (a token without =)",
            "myapp",
            vec!["env", "set", "FOO"],
            vec![],
            "invalid env assignment \"FOO\": expected KEY=VALUE",
        ),
        (
            "env set A=1 FOO (one good token, one without =)",
            "myapp",
            vec!["env", "set", "A=1", "FOO"],
            vec![],
            "invalid env assignment \"FOO\": expected KEY=VALUE",
        ),
        (
            "env set 1BAD=x",
            "myapp",
            vec!["env", "set", "1BAD=x"],
            vec![],
            "invalid env key \"1BAD\"",
        ),
        (
            "env set FOO-BAR=x",
            "myapp",
            vec!["env", "set", "FOO-BAR=x"],
            vec![],
            "invalid env key \"FOO-BAR\"",
        ),
        (
            "env set =x (empty key)",
            "myapp",
            vec!["env", "set", "=x"],
            vec![],
            "invalid env key \"\"",
        ),
        (
            "env get 1BAD",
            "myapp",
            vec!["env", "get", "1BAD"],
            vec![],
            "invalid env key \"1BAD\"",
        ),
        (
            "env get NOPE",
            "myapp",
            vec!["env", "get", "NOPE"],
            vec![],
            "env not found: NOPE",
        ),
        (
            "env unset NOPE",
            "myapp",
            vec!["env", "unset", "NOPE"],
            vec![],
            "env not found: NOPE",
        ),
        (
            "env unset 1BAD",
            "myapp",
            vec!["env", "unset", "1BAD"],
            vec![],
            "invalid env key \"1BAD\"",
        ),
        (
            "env set FOO=1 on an unknown app",
            "nosuchapp",
            vec!["env", "set", "FOO=1"],
            vec![],
            "no such app: nosuchapp",
        ),
        (
            "releases of an unknown app",
            "nosuchapp",
            vec!["releases"],
            vec![],
            "no such app: nosuchapp",
        ),
        (
            "releases promote of an unknown release",
            "myapp",
            vec!["releases", "promote", "RNOSUCHRELE"],
            vec![],
            "no such release: RNOSUCHRELE",
        ),
        (
            "releases promote of another app's release",
            "myapp",
            vec!["releases", "promote", "ROTHERAPPRE"],
            vec![],
            "no such release: ROTHERAPPRE",
        ),
        (
            "releases info of an unknown release",
            "myapp",
            vec!["releases", "info", "RNOSUCHRELE"],
            vec![],
            "no such release: RNOSUCHRELE",
        ),
        (
            "releases manifest of an unknown release",
            "myapp",
            vec!["releases", "manifest", "RNOSUCHRELE"],
            vec![],
            "no such release: RNOSUCHRELE",
        ),
        (
            "releases rollback to an unknown release",
            "myapp",
            vec!["releases", "rollback", "RNOSUCHRELE"],
            vec![],
            "no such release: RNOSUCHRELE",
        ),
        (
            "env set --release of an unknown release",
            "myapp",
            vec!["env", "set", "--release", "RNOSUCHRELE", "FOO=1"],
            vec![],
            "no such release: RNOSUCHRELE",
        ),
        (
            "releases create-from without a build source",
            "myapp",
            vec!["releases", "create-from", "--use-active-release-env"],
            vec![],
            "must specify either --build-from or --use-active-release-build",
        ),
        (
            "releases create-from with two build sources",
            "myapp",
            vec![
                "releases",
                "create-from",
                "--build-from",
                "RGOODGOODGO",
                "--use-active-release-build",
                "--use-active-release-env",
            ],
            vec![],
            "cannot specify both --build-from and --use-active-release-build",
        ),
        (
            "apps create My_App",
            "myapp",
            vec!["apps", "create", "My_App"],
            vec![],
            "invalid app name \"My_App\"",
        ),
        (
            "apps create of an app that exists",
            "myapp",
            vec!["apps", "create", "myapp"],
            vec![],
            "app already exists: myapp",
        ),
        (
            "builds info of an unknown build",
            "myapp",
            vec!["builds", "info", "BNOSUCHBUIL"],
            vec![],
            "no such build: BNOSUCHBUIL",
        ),
        (
            "env on an unknown rack",
            "myapp",
            vec!["-r", "nosuchrack", "env"],
            vec![],
            "no such rack: nosuchrack",
        ),
        (
            "releases promote --timeout abc",
            "myapp",
            vec!["releases", "promote", "RGOODGOODGO", "--timeout", "abc"],
            vec![],
            "invalid duration \"abc\"",
        ),
        (
            "build of a convox.yml with an unknown field",
            "myapp",
            vec!["build", &bad_dir],
            vec![],
            "invalid convox.yml: service web: unknown field \"imag\"",
        ),
        (
            "build of a directory without convox.yml",
            "myapp",
            vec!["build", &empty_dir],
            vec![],
            "convox.yml",
        ),
        (
            "env edit saving a line without =",
            "myapp",
            vec!["env", "edit"],
            vec![("EDITOR", &copy_no_equals)],
            "invalid env assignment \"JUSTAKEY\": expected KEY=VALUE",
        ),
        (
            "env edit saving a 3 MiB value",
            "myapp",
            vec!["env", "edit"],
            vec![("EDITOR", &copy_big)],
            "Request entity too large",
        ),
        (
            "env edit saving a 1.5 MiB value",
            "myapp",
            vec!["env", "edit"],
            vec![("EDITOR", &copy_medium)],
            "may not be more than 1048576 bytes",
        ),
    ];
    let mut outcomes = vec![];
    for (input, app, args, env, want) in cases {
        let before = snapshot(ns).await;
        let run = run_with(ns.name(), app, &args, &env).await;
        let after = snapshot(ns).await;
        outcomes.push(outcome(input, want, &run, before == after));
    }
    // A promotion the operator refuses: the CLI says why at once, not after its timeout.
    let needs = "environment: [TOKEN]\nservices:\n  web:\n    image: nginx:1\n";
    let same_env = [("FOO".to_string(), "one".to_string())].into();
    create_release(ns, &myapp, "rneedsenvvv", needs, &same_env).await;
    let before = generations(ns).await;
    let started = Instant::now();
    // --force: the test's own promotions wrote spec.release as another field manager.
    let args = [
        "releases",
        "promote",
        "RNEEDSENVVV",
        "--force",
        "--timeout",
        "90s",
    ];
    let run = convox(ns.name(), "myapp", &args).await;
    let took = started.elapsed();
    let check = if run.ok() {
        Err("it exited 0".to_string())
    } else if generations(ns).await != before {
        Err("what runs changed".to_string())
    } else if took > Duration::from_secs(60) {
        Err(format!("it took {}s", took.as_secs()))
    } else {
        Ok(())
    };
    outcomes.push(Outcome::expect(
        "convox releases promote of a release the operator cannot use (a required env var is missing)",
        "release RNEEDSENVVV: required env: TOKEN",
        format!("exit {}: {}", run.code, first_line(&run.error())),
        check,
    ));
    promote(ns, "myapp", "rgoodgoodgo").await;
    wait_app(
        ns,
        "myapp",
        "the good release again",
        running("rgoodgoodgo"),
    )
    .await;

    // The app still runs the good release and its env is intact.
    let env = convox(ns.name(), "myapp", &["env"]).await;
    outcomes.push(Outcome::expect(
        "all of the above: `convox env` afterwards",
        "FOO=one",
        env.stdout.trim().to_string(),
        if env.ok() { Ok(()) } else { Err(env.error()) },
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for o in &mut outcomes {
        o.observed = scrub(&o.observed, ns.name());
    }
    outcomes
}

fn outcome(input: &str, want: &str, run: &Run, unchanged: bool) -> Outcome {
    let refused = if run.ok() {
        Err("it exited 0".to_string())
    } else if !run.stderr.contains("ERROR: ") && !run.stderr.contains("error: ") {
        Err("stderr has no ERROR: line".to_string())
    } else if !unchanged {
        Err("something changed in the cluster".to_string())
    } else {
        Ok(())
    };
    Outcome::expect(
        &format!("convox {input}"),
        want,
        scrub_ids(
            &format!("exit {}: {}", run.code, first_line(&run.error())),
            &["RGOODGOODGO", "RNOSUCHRELE", "ROTHERAPPRE", "RNEEDSENVVV"],
        ),
        refused,
    )
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}
