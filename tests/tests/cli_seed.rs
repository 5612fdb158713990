#![cfg(feature = "cluster")]
//! The seed page (shared/seed/Release.md) step by step, with the real `convox` binary against
//! the test control plane and the real operator: build, env set, releases, info, create-from,
//! promote, manifest, rollback, and the errors a person must see as one `ERROR:` line.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use slipway_crds::{App, Release};
use slipway_tests::{CRASHLOOP_ANNOTATION, TestNamespace, operator, with_temp_ns};

const APP: &str = "myapp";

const MANIFEST: &str = "services:
  web:
    image: nginx:1
    command: bin/web
    port: 5000
";

/// What one run of `convox` printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    fn ok(self, what: &str) -> String {
        assert_eq!(
            self.code, 0,
            "{what} failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Asserts exit 1 with exactly one `ERROR: <message>` line on stderr.
    fn error(self, message: &str) {
        assert_eq!(
            self.code, 1,
            "expected failure, got:\n{}\n{}",
            self.stdout, self.stderr
        );
        assert_eq!(
            self.stderr,
            format!("ERROR: {message}\n"),
            "stdout:\n{}",
            self.stdout
        );
    }
}

/// The `convox` binary run in the app's directory, against the test namespace.
struct Convox {
    namespace: String,
    dir: PathBuf,
}

impl Convox {
    async fn run(&self, args: &[&str]) -> Run {
        let output = tokio::process::Command::new(operator::binary("convox"))
            .args(args)
            .args(["-n", &self.namespace])
            .current_dir(&self.dir)
            .env("KUBECONFIG", slipway_tests::kubeconfig_path())
            .env_remove("CONVOX_APP")
            .env_remove("CONVOX_RACK")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("run target/debug/convox (build it with `cargo build --bins`)");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
        }
    }
}

/// The ID after `prefix` on the line that starts with it.
fn id_after(text: &str, prefix: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"));
    let id = line[prefix.len()..].trim().to_string();
    assert!(
        slipway_crds::id::is_generated(&id) && id == id.to_uppercase(),
        "{id:?} in {line:?}"
    );
    id
}

/// Whether a line is `<RFC3339> system/k8s/<object> <note>`.
fn is_event_line(line: &str) -> bool {
    let mut parts = line.splitn(3, ' ');
    let (Some(time), Some(object), Some(note)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    time.len() == 20
        && time.ends_with('Z')
        && time.parse::<jiff::Timestamp>().is_ok()
        && object.starts_with("system/k8s/")
        && !note.is_empty()
}

/// Asserts a followed rollout: `first`, then event lines, then `OK`.
fn assert_streamed(stdout: &str, first: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&first), "{stdout}");
    assert_eq!(lines.last(), Some(&"OK"), "{stdout}");
    let events = &lines[1..lines.len() - 1];
    assert!(!events.is_empty(), "no rollout lines:\n{stdout}");
    for line in events {
        assert!(is_event_line(line), "not an event line: {line:?}\n{stdout}");
    }
    assert!(
        events
            .iter()
            .any(|l| l.contains(&format!("system/k8s/{APP}-web"))),
        "no Deployment, ReplicaSet or Pod events:\n{stdout}"
    );
}

async fn app(ns: &TestNamespace) -> App {
    ns.api::<App>().get(APP).await.expect("get App")
}

async fn active(ns: &TestNamespace) -> Option<String> {
    app(ns).await.status.and_then(|s| s.release)
}

async fn release_names(ns: &TestNamespace) -> Vec<String> {
    let mut names: Vec<String> = ns
        .api::<Release>()
        .list(&Default::default())
        .await
        .expect("list releases")
        .items
        .iter()
        .map(|r| r.name_any())
        .collect();
    names.sort();
    names
}

/// The app's directory (named after the app) with its convox.yml files; removed on drop.
struct AppDir(PathBuf);

impl AppDir {
    fn create(ns: &str) -> AppDir {
        let dir = std::env::temp_dir()
            .join(format!("cli-seed-{ns}"))
            .join(APP);
        std::fs::create_dir_all(&dir).expect("app directory");
        std::fs::write(dir.join("convox.yml"), MANIFEST).expect("convox.yml");
        let crashing = format!("{MANIFEST}    annotations:\n      - {CRASHLOOP_ANNOTATION}=true\n");
        std::fs::write(dir.join("crashing.yml"), crashing).expect("crashing.yml");
        AppDir(dir)
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

#[tokio::test]
async fn the_seed_page_step_by_step() {
    with_temp_ns("cli-seed", |ns| async move {
        let _operator = operator::start(ns.name());
        let dir = AppDir::create(ns.name());
        // The app name comes from the directory name, as in Convox.
        let convox = Convox {
            namespace: ns.name().to_string(),
            dir: dir.0.clone(),
        };

        assert_eq!(
            convox.run(&["apps", "create"]).await.ok("apps create"),
            "Creating myapp... OK\n"
        );

        // On build creation.
        let out = convox.run(&["build"]).await.ok("build");
        let build = id_after(&out, "Build:   ");
        let r1 = id_after(&out, "Release: ");
        assert_eq!(
            out,
            format!("Starting build... OK\nBuild:   {build}\nRelease: {r1}\n")
        );

        let out = convox
            .run(&["releases", "promote", &r1])
            .await
            .ok("first promote");
        assert_streamed(&out, &format!("Promoting {r1}... "));
        assert_eq!(
            active(&ns).await.as_deref(),
            Some(r1.to_lowercase().as_str())
        );

        // On environment change.
        let out = convox.run(&["env", "set", "FOO=bar"]).await.ok("env set");
        let r2 = id_after(&out, "Release: ");
        assert_eq!(out, format!("Setting FOO... OK\nRelease: {r2}\n"));

        // Listing releases: newest first, the active one marked.
        let out = convox.run(&["releases"]).await.ok("releases");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(
            lines[0].starts_with("ID           STATUS  BUILD        CREATED"),
            "{out}"
        );
        assert!(lines[0].ends_with("  DESCRIPTION"), "{out}");
        assert!(
            lines[1].starts_with(&format!("{r2}          {build}  ")),
            "{out}"
        );
        assert!(lines[1].ends_with("  env add:FOO"), "{out}");
        assert!(
            lines[1].contains(" ago  ") || lines[1].contains("  now  "),
            "{out}"
        );
        assert!(
            lines[2].starts_with(&format!("{r1}  active  {build}  ")),
            "{out}"
        );

        // Getting information about a release (IDs in any case).
        let out = convox
            .run(&["releases", "info", &r2.to_lowercase()])
            .await
            .ok("releases info");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], format!("Id           {r2}"));
        assert_eq!(lines[1], format!("Build        {build}"));
        let created = lines[2].strip_prefix("Created      ").expect("Created row");
        assert!(
            created.len() == 20 && created.parse::<jiff::Timestamp>().is_ok(),
            "{created}"
        );
        assert_eq!(
            lines[3..],
            ["Description  env add:FOO", "Env          FOO=bar"]
        );

        // Creating a custom release: each flag pair, and the two flag errors.
        let before = release_names(&ns).await;
        convox
            .run(&["releases", "create-from", &format!("--env-from={r2}")])
            .await
            .error("must specify either --build-from or --use-active-release-build");
        convox
            .run(&["releases", "create-from", &format!("--build-from={r1}")])
            .await
            .error("must specify either --env-from or --use-active-release-env");
        assert_eq!(release_names(&ns).await, before);

        let out = convox
            .run(&[
                "releases",
                "create-from",
                &format!("--build-from={r1}"),
                &format!("--env-from={r2}"),
            ])
            .await
            .ok("create-from");
        let r3 = id_after(&out, "Release: ");
        assert_eq!(out, format!("Creating release... OK\nRelease: {r3}\n"));
        let info = convox
            .run(&["releases", "info", &r3])
            .await
            .ok("info of create-from");
        assert!(info.contains(&format!(
            "Description  Created from build release: {r1} and environment release: {r2}\n"
        )));
        assert!(info.ends_with("Env          FOO=bar\n"), "{info}");

        let out = convox
            .run(&[
                "releases",
                "create-from",
                "--use-active-release-build",
                &format!("--env-from={r2}"),
            ])
            .await
            .ok("create-from active build");
        id_after(&out, "Release: ");
        let out = convox
            .run(&[
                "releases",
                "create-from",
                &format!("--build-from={r2}"),
                "--use-active-release-env",
            ])
            .await
            .ok("create-from active env");
        let r5 = id_after(&out, "Release: ");
        let info = convox
            .run(&["releases", "info", &r5])
            .await
            .ok("info of active env");
        assert!(
            info.ends_with("Env          \n"),
            "the active release has no env:\n{info}"
        );
        let out = convox
            .run(&[
                "releases",
                "create-from",
                "--use-active-release-build",
                "--use-active-release-env",
                "--promote",
            ])
            .await
            .ok("create-from --promote");
        let r6 = id_after(&out, "Release: ");
        assert_eq!(
            out,
            format!("Creating release... OK\nRelease: {r6}\nPromoting {r6}... OK\n")
        );
        assert_eq!(
            active(&ns).await.as_deref(),
            Some(r6.to_lowercase().as_str())
        );

        // Promoting a release streams the rollout and ends OK.
        let out = convox
            .run(&["releases", "promote", &r2])
            .await
            .ok("promote");
        assert_streamed(&out, &format!("Promoting {r2}... "));
        assert_eq!(
            active(&ns).await.as_deref(),
            Some(r2.to_lowercase().as_str())
        );
        let out = convox.run(&["releases"]).await.ok("releases after promote");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{r2}  active  "))),
            "{out}"
        );

        // Getting the manifest for a release.
        assert_eq!(
            convox
                .run(&["releases", "manifest", &r2])
                .await
                .ok("manifest"),
            MANIFEST
        );

        // Rolling back copies the release and promotes the copy.
        let out = convox
            .run(&["releases", "rollback", &r1])
            .await
            .ok("rollback");
        let first = out.lines().next().unwrap_or_default();
        let copy = first
            .strip_prefix(&format!("Rolling back to {r1}... OK, "))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string();
        // Convox's rollback then promotes the copy: `Promoting RNEW... ` on its own line.
        let (_, rest) = out.split_once('\n').unwrap_or_default();
        assert_streamed(rest, &format!("Promoting {copy}... "));
        assert_ne!(copy, r1);
        assert_eq!(
            active(&ns).await.as_deref(),
            Some(copy.to_lowercase().as_str())
        );
        let info = convox
            .run(&["releases", "info", &copy])
            .await
            .ok("info of the copy");
        assert!(
            info.contains(&format!("Description  rollback to {r1}\n")),
            "{info}"
        );
        let out = convox
            .run(&["releases"])
            .await
            .ok("releases after rollback");
        assert!(
            out.lines()
                .nth(1)
                .unwrap()
                .starts_with(&format!("{copy}  active  {build}  ")),
            "{out}"
        );

        // `--id`: progress on stderr, only the new release's ID on stdout.
        let run = convox.run(&["env", "set", "BAZ=1", "--id"]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stderr,
            format!("Setting BAZ... OK\nRelease: {}\n", run.stdout)
        );
        id_after(&format!("R: {}", run.stdout), "R: ");

        // Values live in the release's own immutable Secret; secret keys carry forward.
        convox
            .run(&["env", "set", "TOKEN=s3cret", "--secret"])
            .await
            .ok("env set --secret");
        let out = convox
            .run(&["env", "set", "OTHER=1"])
            .await
            .ok("env set after --secret");
        let latest = id_after(&out, "Release: ").to_lowercase();
        let release = ns
            .api::<Release>()
            .get(&latest)
            .await
            .expect("the new release");
        assert_eq!(release.spec.secret_keys, ["TOKEN"]);
        assert!(
            release.spec.env.is_empty(),
            "env values in the Release: {:?}",
            release.spec.env
        );
        let reference = release.spec.env_secret.clone().expect("an env Secret");
        let secret = ns
            .api::<Secret>()
            .get(&reference.name)
            .await
            .expect("the env Secret");
        assert_eq!(secret.immutable, Some(true));
        let owners = secret.metadata.owner_references.unwrap_or_default();
        assert_eq!(
            owners.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            [latest.as_str()]
        );
        let env = convox.run(&["env"]).await.ok("env");
        assert_eq!(
            env, "BAZ=1\nOTHER=1\nTOKEN=s3cret\n",
            "env forks the newest release (the rollback copy, without FOO); piped output is never masked"
        );

        errors_change_nothing(&ns, &convox, &copy).await;
    })
    .await;
}

/// Unknown app, unknown release, a token without `=`, a bad key and a rolled-back promote:
/// one `ERROR:` line, exit 1, and nothing changed that should not be.
async fn errors_change_nothing(ns: &TestNamespace, convox: &Convox, active_id: &str) {
    let releases = release_names(ns).await;
    let spec = app(ns).await.spec;

    convox
        .run(&["releases", "-a", "nope"])
        .await
        .error("no such app: nope");
    convox
        .run(&["env", "set", "FOO=baz", "-a", "nope"])
        .await
        .error("no such app: nope");
    convox
        .run(&["releases", "info", "RXXXXXXXXXX"])
        .await
        .error("no such release: RXXXXXXXXXX");
    convox
        .run(&["releases", "promote", "RXXXXXXXXXX"])
        .await
        .error("no such release: RXXXXXXXXXX");
    convox
        .run(&["releases", "rollback", "rxxxxxxxxxx"])
        .await
        .error("no such release: RXXXXXXXXXX");
    convox
        .run(&["env", "set", "FOO=baz", "BAR"])
        .await
        .error("invalid env assignment \"BAR\": expected KEY=VALUE");
    convox.run(&["env", "set", "1BAD=x"]).await.error(
        "invalid env key \"1BAD\": keys start with a letter or _ and hold only letters, digits and _",
    );
    convox
        .run(&["env", "get", "NOPE"])
        .await
        .error("env not found: NOPE");
    assert_eq!(
        release_names(ns).await,
        releases,
        "a failed command made or removed a release"
    );
    assert_eq!(app(ns).await.spec, spec, "a failed command changed the App");

    // A promote that gets rolled back: the stream, then ERROR: rollback; the active release stays.
    let out = convox
        .run(&["build", "--manifest", "crashing.yml"])
        .await
        .ok("build of a crashing release");
    let bad = id_after(&out, "Release: ");
    let run = convox.run(&["releases", "promote", &bad]).await;
    assert!(
        run.stdout.starts_with(&format!("Promoting {bad}... \n")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("\nOK\n"), "{}", run.stdout);
    // Beyond Convox: why, before the error (kwok pods have no log lines to add).
    let why = format!("Rolled back: process {APP}-web-");
    let diagnosis = run.stdout.lines().find(|l| l.starts_with(&why));
    assert!(
        diagnosis.is_some_and(|l| l.contains("of service web failed: CrashLoopBackOff")),
        "{}",
        run.stdout
    );
    run.error("rollback");
    let status = app(ns).await.status.unwrap_or_default();
    assert_eq!(
        status.release.as_deref(),
        Some(active_id.to_lowercase().as_str())
    );
    assert_eq!(
        status.failed_release.map(|f| f.release),
        Some(bad.to_lowercase())
    );
    let out = convox
        .run(&["releases"])
        .await
        .ok("releases after the failed promote");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{bad}  failed  "))),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{active_id}  active  "))),
        "{out}"
    );
}

#[tokio::test]
async fn concurrent_env_sets_keep_every_change() {
    with_temp_ns("cli-env-race", |ns| async move {
        let dir = AppDir::create(ns.name());
        let convox = Convox {
            namespace: ns.name().to_string(),
            dir: dir.0.clone(),
        };
        convox.run(&["apps", "create"]).await.ok("apps create");
        let keys: Vec<String> = (1..=6).map(|i| format!("K{i}=v{i}")).collect();
        let args: Vec<[&str; 3]> = keys.iter().map(|k| ["env", "set", k.as_str()]).collect();
        let runs = futures::future::join_all(args.iter().map(|a| convox.run(a))).await;
        for run in runs {
            run.ok("a concurrent env set");
        }
        let env = convox.run(&["env"]).await.ok("env");
        assert_eq!(
            env, "K1=v1\nK2=v2\nK3=v3\nK4=v4\nK5=v5\nK6=v6\n",
            "a change was lost"
        );
        // One release per change: the releases that lost a race were deleted.
        assert_eq!(release_names(&ns).await.len(), 6);
    })
    .await;
}
