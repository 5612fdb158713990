//! The errors a person must see as one `ERROR:` line, changing nothing.

use slipway_tests::TestNamespace;

use crate::support::*;

/// Unknown app, unknown release, a token without `=`, a bad key and a rolled-back promote:
/// one `ERROR:` line, exit 1, and nothing changed that should not be.
pub async fn errors_change_nothing(ns: &TestNamespace, convox: &Convox, active_id: &str) {
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
