//! The one ordering rule every release-making path follows.
//!
//! Env commands, rollbacks and create-from (the CLI) commit the release they make as the App's
//! env head by a compare-and-swap on the App (`slipway.dev/env-head`, see `cli/src/envchange.rs`):
//! those commits are totally ordered, and each such release records the head it saw
//! (`slipway.dev/env-after`), so the heads form a chain. A Build's release is made by the
//! operator, which never writes the App: it cannot take part in the swap, so it records the head
//! it saw too and the order is decided when the next change forks:
//! - a build release made after the head was committed carries the head's env: fork it whole;
//! - one made before some commits of the chain were made raced them: if they were all env
//!   changes (which change only env), the two commute, and the next change takes the build
//!   from the build release and the env from the head, so neither is lost;
//! - if a rollback or create-from (which set build and env) was committed after the build
//!   release saw its head, that commit came later and wins whole.
//!
//! Releases written by hand (GitOps) record nothing and are forked whole when newest, as before.

use kube::ResourceExt;

use crate::Release;
use crate::fork::env_base;
use crate::labels::{ENV_AFTER, ENV_BASE};

/// What the next release is made from: its build, manifest and images, and its env.
#[derive(Debug, Clone, Copy)]
pub struct Base<'a> {
    /// The release whose build, manifest and images the next one takes.
    pub build: &'a Release,
    /// The release whose env the next one takes (and edits, for an env command).
    pub env: &'a Release,
}

impl<'a> Base<'a> {
    /// Both from one release.
    pub fn whole(release: &'a Release) -> Base<'a> {
        Base {
            build: release,
            env: release,
        }
    }
}

/// The head a release's maker saw, when it recorded one (older env releases: their base).
pub fn after(release: &Release) -> Option<&str> {
    let annotations = release.annotations();
    annotations
        .get(ENV_AFTER)
        .or_else(|| annotations.get(ENV_BASE))
        .map(String::as_str)
}

/// Whether `release` is a Build's release made by the operator (it saw a head, swapped none).
fn build_made(release: &Release) -> bool {
    let annotations = release.annotations();
    annotations.contains_key(ENV_AFTER) && !annotations.contains_key(ENV_BASE)
}

/// Whether a committed release set the build as well as the env (rollback, create-from).
fn sets_build(release: &Release) -> bool {
    release.spec.rollback_of.is_some() || release.spec.created_from.is_some()
}

/// What the next release of an app is made from, given its releases newest first and its head.
pub fn base<'a>(newest_first: &'a [Release], head: Option<&str>) -> Option<Base<'a>> {
    let newest = env_base(newest_first, head)?;
    let find = |name: &str| newest_first.iter().find(|r| r.name_any() == name);
    let Some(head) = head.and_then(find) else {
        return Some(Base::whole(newest));
    };
    let Some(build) = newest_first.iter().find(|r| build_made(r)) else {
        return Some(Base::whole(newest));
    };
    if newest.name_any() != head.name_any() && newest.name_any() != build.name_any() {
        // Written by hand after both.
        return Some(Base::whole(newest));
    }
    let seen = after(build).unwrap_or_default();
    if seen == head.name_any() {
        return Some(Base::whole(build));
    }
    // Walk the chain of commits back from the head to the one the build release saw.
    let mut step = head;
    loop {
        if sets_build(step) {
            return Some(Base::whole(head));
        }
        match after(step).filter(|s| !s.is_empty()) {
            Some(previous) if previous == seen => break,
            Some(previous) => match find(previous) {
                Some(release) => step = release,
                // The chain is cut (cleanup deleted an old commit): the head's order is known.
                None => return Some(Base::whole(head)),
            },
            // The first commit: the build release saw no head, so it came before them all.
            None if seen.is_empty() => break,
            None => return Some(Base::whole(head)),
        }
    }
    Some(Base { build, env: head })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ReleaseSpec;

    /// A release: `kind` is `env`, `rollback`, `build` or `hand`; `seen` the head its maker saw.
    fn release(name: &str, kind: &str, seen: &str) -> Release {
        let mut release = Release::new(name, ReleaseSpec::default());
        let mut annotations = BTreeMap::new();
        match kind {
            "env" | "rollback" => {
                annotations.insert(ENV_BASE.to_string(), seen.to_string());
                annotations.insert(ENV_AFTER.to_string(), seen.to_string());
            }
            "build" => {
                annotations.insert(ENV_AFTER.to_string(), seen.to_string());
            }
            _ => {}
        }
        if kind == "rollback" {
            release.spec.rollback_of = Some("rold".into());
        }
        release.metadata.annotations = Some(annotations);
        release
    }

    fn picked(releases: &[Release], head: Option<&str>) -> (String, String) {
        let base = base(releases, head).unwrap();
        (base.build.name_any(), base.env.name_any())
    }

    fn pair(build: &str, env: &str) -> (String, String) {
        (build.to_string(), env.to_string())
    }

    #[test]
    fn a_build_made_while_an_env_set_was_in_flight_keeps_both() {
        // rtwo forked rone, rbuild saw rone as head, then rtwo was committed.
        let releases = [
            release("rbuild", "build", "rone"),
            release("rtwo", "env", "rone"),
            release("rone", "env", ""),
        ];
        assert_eq!(picked(&releases, Some("rtwo")), pair("rbuild", "rtwo"));
        // The same when the build release is older than the env release it raced.
        let releases = [
            release("rtwo", "env", "rone"),
            release("rbuild", "build", "rone"),
            release("rone", "env", ""),
        ];
        assert_eq!(picked(&releases, Some("rtwo")), pair("rbuild", "rtwo"));
        // Several env commits after it: still both.
        let releases = [
            release("rthree", "env", "rtwo"),
            release("rtwo", "env", "rone"),
            release("rbuild", "build", ""),
            release("rone", "env", ""),
        ];
        assert_eq!(picked(&releases, Some("rthree")), pair("rbuild", "rthree"));
    }

    #[test]
    fn a_build_made_after_the_head_is_forked_whole() {
        let releases = [
            release("rbuild", "build", "rtwo"),
            release("rtwo", "env", "rone"),
            release("rone", "env", ""),
        ];
        assert_eq!(picked(&releases, Some("rtwo")), pair("rbuild", "rbuild"));
    }

    #[test]
    fn a_rollback_committed_after_a_build_saw_its_head_wins_whole() {
        let releases = [
            release("rbuild", "build", "rone"),
            release("rback", "rollback", "rone"),
            release("rone", "env", ""),
        ];
        assert_eq!(picked(&releases, Some("rback")), pair("rback", "rback"));
        // An env change on top of that rollback: the rollback's build still wins.
        let releases = [
            release("rbuild", "build", "rone"),
            release("rthree", "env", "rback"),
            release("rback", "rollback", "rone"),
            release("rone", "env", ""),
        ];
        assert_eq!(picked(&releases, Some("rthree")), pair("rthree", "rthree"));
    }

    #[test]
    fn without_a_head_or_a_build_release_the_old_rule_holds() {
        let releases = [release("rbuild", "build", ""), release("rhand", "hand", "")];
        assert_eq!(picked(&releases, None), pair("rbuild", "rbuild"));
        let releases = [
            release("rsaving", "env", "rone"),
            release("rone", "env", ""),
        ];
        assert_eq!(picked(&releases, Some("rone")), pair("rone", "rone"));
        // Written by hand after everything: forked whole.
        let releases = [
            release("rhand", "hand", ""),
            release("rbuild", "build", "rone"),
            release("rtwo", "env", "rone"),
            release("rone", "env", ""),
        ];
        assert_eq!(picked(&releases, Some("rtwo")), pair("rhand", "rhand"));
        // A cut chain: the head.
        let releases = [
            release("rbuild", "build", "rgone"),
            release("rtwo", "env", "rmissing"),
        ];
        assert_eq!(picked(&releases, Some("rtwo")), pair("rtwo", "rtwo"));
    }
}
