//! `--id`, and env values kept in each release's own immutable Secret.

use k8s_openapi::api::core::v1::Secret;
use slipway_crds::Release;
use slipway_tests::TestNamespace;

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
}
