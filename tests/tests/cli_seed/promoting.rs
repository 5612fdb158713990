//! Promoting a release, getting its manifest, and rolling back.

use slipway_tests::TestNamespace;

use crate::creating::Made;
use crate::support::*;

/// Promotes the env release, reads its manifest, rolls back to the build's release; returns
/// the rollback's copy, which is then active.
pub async fn promote_and_roll_back(ns: &TestNamespace, convox: &Convox, made: &Made) -> String {
    let Made { build, r1, r2 } = made;
    // Promoting a release streams the rollout and ends OK.
    let out = convox.run(&["releases", "promote", r2]).await.ok("promote");
    assert_streamed(&out, &format!("Promoting {r2}... "));
    assert_eq!(
        active(ns).await.as_deref(),
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
            .run(&["releases", "manifest", r2])
            .await
            .ok("manifest"),
        MANIFEST
    );

    // Rolling back copies the release and promotes the copy.
    let out = convox
        .run(&["releases", "rollback", r1])
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
    assert_ne!(&copy, r1);
    assert_eq!(
        active(ns).await.as_deref(),
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
    copy
}
