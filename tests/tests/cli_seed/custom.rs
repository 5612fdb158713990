//! Creating a custom release: `releases create-from` with each pair of flags.

use slipway_tests::TestNamespace;

use crate::creating::Made;
use crate::support::*;

/// Each flag pair of `create-from`, the two flag errors, and `--promote`.
pub async fn create_from(ns: &TestNamespace, convox: &Convox, made: &Made) {
    let Made { r1, r2, .. } = made;
    // Creating a custom release: each flag pair, and the two flag errors.
    let before = release_names(ns).await;
    convox
        .run(&["releases", "create-from", &format!("--env-from={r2}")])
        .await
        .error("must specify either --build-from or --use-active-release-build");
    convox
        .run(&["releases", "create-from", &format!("--build-from={r1}")])
        .await
        .error("must specify either --env-from or --use-active-release-env");
    assert_eq!(release_names(ns).await, before);

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
        active(ns).await.as_deref(),
        Some(r6.to_lowercase().as_str())
    );
}
