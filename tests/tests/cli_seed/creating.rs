//! On build creation, on environment change, listing releases and getting information about one.

use slipway_tests::TestNamespace;

use crate::support::*;

/// What the first steps made: the build, its release, and the release of an env change.
pub struct Made {
    /// The build's ID.
    pub build: String,
    /// The build's release.
    pub r1: String,
    /// The release of `env set FOO=bar`.
    pub r2: String,
}

/// `apps create`, `build`, the first promote, `env set`, `releases` and `releases info`.
pub async fn build_and_env_set(ns: &TestNamespace, convox: &Convox) -> Made {
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
        active(ns).await.as_deref(),
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

    Made { build, r1, r2 }
}
