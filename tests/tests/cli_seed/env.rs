//! `--id`, and env values kept in each release's own immutable Secret.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use slipway_crds::Release;
use slipway_tests::{TestNamespace, wait_for};

use crate::support::*;

/// `env set --id`, then `--secret` keys carried forward with every value out of the Release.
pub async fn id_and_secrets(ns: &TestNamespace, convox: &Convox) {
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
    // The CLI makes the Secret owned by the App; the operator then hands it to its Release.
    let secret = wait_for(
        Duration::from_secs(30),
        "the env Secret owned by its release alone",
        || async {
            let secret = ns
                .api::<Secret>()
                .get(&reference.name)
                .await
                .map_err(|e| e.to_string())?;
            let owners: Vec<String> = secret
                .metadata
                .owner_references
                .iter()
                .flatten()
                .map(|o| o.name.clone())
                .collect();
            if owners == [latest.clone()] {
                Ok(secret)
            } else {
                Err(format!("owned by {owners:?}"))
            }
        },
    )
    .await;
    assert_eq!(secret.immutable, Some(true));
    let env = convox.run(&["env"]).await.ok("env");
    assert_eq!(
        env, "BAZ=1\nOTHER=1\nTOKEN=s3cret\n",
        "env forks the newest release (the rollback copy, without FOO); piped output is never masked"
    );
}
