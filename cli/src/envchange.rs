//! Env changes: what a person asked for, applied on top of the newest release, and saved
//! without losing a change someone else saved at the same moment.
//!
//! Concurrency. Releases are immutable, so `env set` reads the newest release, makes a new
//! one, and two people doing that at once would each fork the same release: the second
//! release would silently drop the first one's change. To prevent it:
//! - each release made by an env command carries the annotation `slipway.dev/env-base`
//!   (the release it forked), which marks it as not yet trusted;
//! - the App annotation `slipway.dev/env-head` names the newest env release that won;
//!   it is written by a merge patch that carries the App's `resourceVersion`, so the
//!   apiserver applies it only if the App did not change since it was read (compare-and-swap);
//! - the base of a change follows one ordering rule (`slipway_crds::order`, the rule the
//!   operator's Build controller follows too): a release that lost the race, or is still being
//!   saved, is never forked, and a build made while a change was in flight keeps both;
//! - rollbacks and create-from are committed as the head the same way, so every release the
//!   CLI makes is ordered against every other;
//! - on a conflict the App is read again: if the base is still the same (only the App's
//!   status moved), the same release is committed again; otherwise the change is applied
//!   again on top of the new base, in a new release, and the release that lost is deleted.

use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use slipway_crds::env::{self, Env};
use slipway_crds::fork::env_head;
use slipway_crds::labels::{CLI_MANAGER, ENV_AFTER, ENV_BASE, ENV_HEAD};
use slipway_crds::order;
use slipway_crds::{App, Release, ReleaseSpec};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::store;

/// Attempts at the compare-and-swap before giving up.
const ATTEMPTS: u32 = 10;

/// A change to the environment, as asked for on the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvEdit {
    /// Keys to set, with their values.
    pub set: Vec<(String, String)>,
    /// Keys to remove.
    pub unset: Vec<String>,
    /// Whether the set keys replace the whole environment.
    pub replace: bool,
    /// Whether the set keys are secret (masked unless revealed).
    pub secret: bool,
    /// Whether unsetting a key that is already gone is fine (an edit replayed on a newer base).
    pub lenient: bool,
    /// Keys to mark secret (`env mask set`); each must exist.
    pub mask: Vec<String>,
    /// Keys to mark not secret (`env mask unset`).
    pub unmask: Vec<String>,
}

/// The environment and secret keys after `edit`; unsetting a missing key is an error.
pub fn apply(edit: &EnvEdit, base: &Env, base_secret: &[String]) -> Result<(Env, Vec<String>)> {
    let mut next = if edit.replace {
        Env::new()
    } else {
        base.clone()
    };
    for key in &edit.unset {
        if next.remove(key).is_none() && !edit.lenient {
            return Err(Error::EnvNotFound(key.clone()));
        }
    }
    for (key, value) in &edit.set {
        env::validate_key(key)?;
        next.insert(key.clone(), value.clone());
    }
    let mut secret: Vec<String> = base_secret
        .iter()
        .filter(|k| next.contains_key(*k))
        .cloned()
        .collect();
    if edit.secret {
        secret.extend(edit.set.iter().map(|(k, _)| k.clone()));
    }
    for key in &edit.mask {
        if !next.contains_key(key) {
            return Err(Error::EnvNotFound(key.clone()));
        }
        secret.push(key.clone());
    }
    secret.retain(|k| !edit.unmask.contains(k));
    secret.sort();
    secret.dedup();
    Ok((next, secret))
}

/// The edit that turns `old` into `new` (for `env edit`), so it can be applied to another base.
pub fn edit_between(old: &Env, new: &Env) -> EnvEdit {
    let change = env::diff(old, new);
    EnvEdit {
        set: change
            .added
            .iter()
            .chain(&change.changed)
            .map(|k| (k.clone(), new[k].clone()))
            .collect(),
        unset: change.removed,
        lenient: true,
        ..EnvEdit::default()
    }
}

/// What a new release is made from, as read at one attempt of a commit.
pub struct Fork {
    /// The App, as read.
    pub app: App,
    /// The release whose build, manifest and images the new one takes.
    pub build: Option<Release>,
    /// The release whose env the new one takes.
    pub env: Option<Release>,
    /// The annotations ordering the new release: the base it forked and the head it saw.
    pub annotations: Vec<(String, String)>,
}

/// The release env commands read: `--release`, else the env of the next change's base.
pub async fn base_release(ctx: &Ctx, app: &App, from: Option<&str>) -> Result<Option<Release>> {
    Ok(fork_of(ctx, app, from).await?.1)
}

/// The newest release, for `promote` without an ID: the build of the next change's base.
pub async fn newest_release(ctx: &Ctx, app: &App) -> Result<Option<Release>> {
    Ok(fork_of(ctx, app, None).await?.0)
}

/// The build and env sources of the next change (`slipway_crds::order`), or `from` for both.
async fn fork_of(
    ctx: &Ctx,
    app: &App,
    from: Option<&str>,
) -> Result<(Option<Release>, Option<Release>)> {
    if let Some(id) = from {
        let release = store::get_release(ctx, id).await?;
        return Ok((Some(release.clone()), Some(release)));
    }
    let releases = store::list_releases(ctx).await?;
    Ok(match order::base(&releases, env_head(app)) {
        Some(base) => (Some(base.build.clone()), Some(base.env.clone())),
        None => (None, None),
    })
}

/// Makes the release for `edit` and commits it as the env head; see the module comment.
pub async fn commit(ctx: &Ctx, edit: &EnvEdit, from: Option<&str>) -> Result<Release> {
    commit_with(ctx, from, |fork| make(ctx, fork, edit)).await
}

/// Makes a release with `make` and commits it as the env head: every release the CLI makes
/// (env changes, rollbacks, create-from) is ordered by the same compare-and-swap.
pub async fn commit_with<F, Fut>(ctx: &Ctx, from: Option<&str>, make: F) -> Result<Release>
where
    F: Fn(Fork) -> Fut,
    Fut: Future<Output = Result<Release>>,
{
    // A release made on one attempt is committed again on the next only if it would be made
    // the same: same build and env sources, same head seen.
    let mut made: Option<(Release, [String; 3])> = None;
    for attempt in 0..ATTEMPTS {
        let app = store::get_app(ctx).await?;
        let (build, env) = fork_of(ctx, &app, from).await?;
        let name = |r: &Option<Release>| r.as_ref().map(|r| r.name_any()).unwrap_or_default();
        let head = env_head(&app).unwrap_or_default().to_string();
        let sources = [name(&build), name(&env), head.clone()];
        let release = match made.take() {
            Some((release, made_from)) if made_from == sources => release,
            stale => {
                if let Some((lost, _)) = stale {
                    store::delete_release(ctx, &lost.name_any()).await?;
                }
                let fork = Fork {
                    app: app.clone(),
                    annotations: vec![
                        (ENV_BASE.to_string(), name(&env)),
                        (ENV_AFTER.to_string(), head),
                    ],
                    build,
                    env,
                };
                make(fork).await?
            }
        };
        match swap_head(ctx, &app, &release.name_any()).await {
            Ok(()) => return Ok(release),
            Err(err) if Error::is_conflict(&err) => {
                made = Some((release, sources));
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt + 1))).await;
            }
            Err(err) => {
                store::delete_release(ctx, &release.name_any()).await?;
                return Err(Error::kube(
                    format!("saving the environment of {}", ctx.app),
                    err,
                ));
            }
        }
    }
    if let Some((lost, _)) = made {
        store::delete_release(ctx, &lost.name_any()).await?;
    }
    Err(Error::EnvContention(ctx.app.clone()))
}

/// Creates the release of `edit` applied to the fork's env (or to nothing, for a new app).
async fn make(ctx: &Ctx, fork: Fork, edit: &EnvEdit) -> Result<Release> {
    let (base_env, base_secret) = match &fork.env {
        Some(release) => (
            store::release_env(ctx, release).await?,
            release.spec.secret_keys.clone(),
        ),
        None => (Env::new(), Vec::new()),
    };
    let (next, secret_keys) = apply(edit, &base_env, &base_secret)?;
    let base_spec = fork.build.map(|b| b.spec).unwrap_or_default();
    let spec = ReleaseSpec {
        build: base_spec.build,
        manifest: base_spec.manifest,
        images: base_spec.images,
        secret_keys,
        description: description(edit, &base_env, &next),
        ..ReleaseSpec::default()
    };
    let annotations: Vec<(&str, &str)> = fork
        .annotations
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    store::create_release(
        ctx,
        &fork.app,
        spec,
        store::NewEnv::Pin(&next),
        &annotations,
    )
    .await
}

/// Convox's `env add:A change:B remove:C`, then Slipway's `mask:K` / `unmask:K` for mask changes.
pub fn description(edit: &EnvEdit, before: &Env, after: &Env) -> String {
    let mut text = env::diff(before, after).description();
    for (verb, keys) in [("mask", &edit.mask), ("unmask", &edit.unmask)] {
        if !keys.is_empty() {
            text.push_str(&format!(" {verb}:{}", keys.join(",")));
        }
    }
    text
}

/// Points the App's env head at `release` if the App is unchanged since it was read.
async fn swap_head(ctx: &Ctx, app: &App, release: &str) -> Result<(), kube::Error> {
    let patch = json!({
        "metadata": {
            "resourceVersion": app.resource_version(),
            "annotations": { ENV_HEAD: release },
        }
    });
    let params = PatchParams {
        field_manager: Some(CLI_MANAGER.to_string()),
        ..PatchParams::default()
    };
    ctx.apps()
        .patch(&ctx.app, &params, &Patch::Merge(&patch))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    use slipway_crds::env::from_pairs as env;

    fn set(pairs: &[(&str, &str)]) -> EnvEdit {
        EnvEdit {
            set: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..EnvEdit::default()
        }
    }

    #[test]
    fn set_merges_and_replace_replaces() {
        let base = env(&[("A", "1"), ("B", "2")]);
        let (next, _) = apply(&set(&[("B", "3"), ("C", "4")]), &base, &[]).unwrap();
        assert_eq!(next, env(&[("A", "1"), ("B", "3"), ("C", "4")]));
        let replace = EnvEdit {
            replace: true,
            ..set(&[("C", "4")])
        };
        assert_eq!(apply(&replace, &base, &[]).unwrap().0, env(&[("C", "4")]));
    }

    #[test]
    fn unset_of_a_missing_key_is_an_error() {
        let base = env(&[("A", "1")]);
        let edit = EnvEdit {
            unset: vec!["A".into()],
            ..EnvEdit::default()
        };
        assert_eq!(apply(&edit, &base, &[]).unwrap().0, Env::new());
        let missing = EnvEdit {
            unset: vec!["NOPE".into()],
            ..EnvEdit::default()
        };
        assert_eq!(
            apply(&missing, &base, &[]).unwrap_err().to_string(),
            "env not found: NOPE"
        );
    }

    #[test]
    fn secret_keys_are_carried_forward_and_dropped_with_their_key() {
        let base = env(&[("A", "1"), ("TOKEN", "x")]);
        let secret = vec!["TOKEN".to_string()];
        let (_, kept) = apply(&set(&[("A", "2")]), &base, &secret).unwrap();
        assert_eq!(kept, ["TOKEN"]);
        let marked = EnvEdit {
            secret: true,
            ..set(&[("PASSWORD", "p")])
        };
        assert_eq!(
            apply(&marked, &base, &secret).unwrap().1,
            ["PASSWORD", "TOKEN"]
        );
        let unset = EnvEdit {
            unset: vec!["TOKEN".into()],
            ..EnvEdit::default()
        };
        assert!(apply(&unset, &base, &secret).unwrap().1.is_empty());
    }

    #[test]
    fn masks_are_set_on_existing_keys_and_unset() {
        let base = env(&[("A", "1"), ("B", "2")]);
        let mask = EnvEdit {
            mask: vec!["B".into()],
            ..EnvEdit::default()
        };
        let (next, secret) = apply(&mask, &base, &["A".into()]).unwrap();
        assert_eq!(next, base);
        assert_eq!(secret, ["A", "B"]);
        assert_eq!(description(&mask, &base, &next), "env mask:B");
        let unmask = EnvEdit {
            unmask: vec!["A".into()],
            ..EnvEdit::default()
        };
        assert_eq!(apply(&unmask, &base, &secret).unwrap().1, ["B"]);
        let missing = EnvEdit {
            mask: vec!["C".into()],
            ..EnvEdit::default()
        };
        assert_eq!(
            apply(&missing, &base, &[]).unwrap_err().to_string(),
            "env not found: C"
        );
    }

    #[test]
    fn a_bad_key_is_refused() {
        let err = apply(&set(&[("1BAD", "x")]), &Env::new(), &[]).unwrap_err();
        assert!(err.to_string().starts_with("invalid env key \"1BAD\""));
    }

    #[test]
    fn an_edit_is_replayed_as_sets_and_unsets() {
        let old = env(&[("A", "1"), ("B", "2"), ("C", "3")]);
        let new = env(&[("A", "1"), ("B", "9"), ("D", "4")]);
        let edit = edit_between(&old, &new);
        assert_eq!(
            edit.set,
            [
                ("D".to_string(), "4".to_string()),
                ("B".to_string(), "9".to_string())
            ]
        );
        assert_eq!(edit.unset, ["C"]);
        let other_base = env(&[("A", "0"), ("C", "3"), ("E", "5")]);
        assert_eq!(
            apply(&edit, &other_base, &[]).unwrap().0,
            env(&[("A", "0"), ("B", "9"), ("D", "4"), ("E", "5")])
        );
    }
}
