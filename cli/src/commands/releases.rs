//! `convox releases`: list, info, manifest, promote, rollback, create-from.

use kube::ResourceExt;
use slipway_crds::fork::{self, EnvCarry};
use slipway_crds::id::{display_id, object_name};
use slipway_crds::{Release, ReleaseSpec};

use crate::args::{CreateFromArgs, PromoteOpts, ReadOpts};
use crate::context::Ctx;
use crate::envchange;
use crate::error::{Error, Result};
use crate::output::diff::{diff_text, release_diff, same_env};
use crate::output::releases::{release_info, release_info_text, release_row, releases_table};
use crate::output::{Term, mask_keys, render};
use crate::store::NewEnv;
use crate::{rollout, store};

/// `convox releases`: `ID  STATUS  BUILD  CREATED  DESCRIPTION`, newest first.
pub async fn list(ctx: &Ctx, term: &mut Term, limit: usize, read: &ReadOpts) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let releases = store::list_releases(ctx).await?;
    let rows: Vec<_> = releases
        .iter()
        .take(limit)
        .map(|r| release_row(r, &app))
        .collect();
    term.table(
        read.output,
        &render(read.output, &rows, || releases_table(&rows, store::now()))?,
    );
    Ok(())
}

/// `convox releases info R`: `Id`, `Build`, `Created`, `Description`, `Env`.
pub async fn info(
    ctx: &Ctx,
    term: &mut Term,
    id: &str,
    reveal: bool,
    read: &ReadOpts,
) -> Result<()> {
    store::get_app(ctx).await?;
    let release = store::get_release(ctx, id).await?;
    let (env, hidden) = store::release_env_for_display(ctx, &release).await?;
    if hidden {
        eprintln!(
            "WARNING: you may not read the environment values of this release: showing keys only"
        );
    }
    let mask = mask_keys(term, reveal, &release.spec.secret_keys);
    let view = release_info(&release, &env, &mask);
    term.text(&render(read.output, &view, || release_info_text(&view))?);
    Ok(())
}

/// The manifest as printed: trimmed, with one final newline (Convox's form).
pub fn manifest_text(manifest: &str) -> String {
    format!("{}\n", manifest.trim())
}

/// `convox releases manifest R`: the convox.yml text.
pub async fn manifest(ctx: &Ctx, term: &mut Term, id: &str) -> Result<()> {
    store::get_app(ctx).await?;
    let release = store::get_release(ctx, id).await?;
    term.text(&manifest_text(&release.spec.manifest));
    Ok(())
}

/// How `releases promote` runs: `--dry-run`, `--supersede` and the promotion flags.
pub struct PromoteHow<'a> {
    /// Show the diff against what runs, change nothing.
    pub dry_run: bool,
    /// Replace a rollout in flight instead of waiting for it.
    pub supersede: bool,
    /// Promotion flags.
    pub opts: &'a PromoteOpts,
}

/// `convox releases promote [R]`: `Promoting R...`, the rollout, `OK`.
pub async fn promote(
    ctx: &Ctx,
    term: &mut Term,
    id: Option<&str>,
    how: PromoteHow<'_>,
) -> Result<()> {
    let app = store::get_app(ctx).await?;
    if how.dry_run {
        let release = promoted(ctx, &app, id).await?;
        let step = format!("Promoting {}", display_id(&release.name_any()));
        return dry_run(ctx, term, &app, &release, &step).await;
    }
    if !how.supersede {
        rollout::wait_ready(ctx, term, how.opts).await?;
    }
    let release = match id {
        Some(id) => {
            // Convox names the release before asking for it: a missing one leaves the line.
            rollout::announce(term, &display_id(&object_name(id)), true);
            store::get_release(ctx, id).await?
        }
        None => {
            let release = promoted(ctx, &app, None).await?;
            rollout::announce(term, &display_id(&release.name_any()), true);
            release
        }
    };
    let started = rollout::start(ctx, &release, how.opts).await?;
    rollout::follow(ctx, term, started, true).await?;
    term.ok();
    Ok(())
}

/// The release `promote` means: the one named, else the newest.
async fn promoted(ctx: &Ctx, app: &slipway_crds::App, id: Option<&str>) -> Result<Release> {
    match id {
        Some(id) => store::get_release(ctx, id).await,
        None => envchange::newest_release(ctx, app)
            .await?
            .ok_or_else(|| Error::NoReleases(ctx.app.clone())),
    }
}

/// `--dry-run`: the diff from the active release to `release`; nothing changes.
async fn dry_run(
    ctx: &Ctx,
    term: &mut Term,
    app: &slipway_crds::App,
    release: &Release,
    step: &str,
) -> Result<()> {
    let active = app.status.as_ref().and_then(|s| s.release.clone());
    term.line(&format!("{step} (dry run: nothing changes)"));
    match active {
        Some(active) => {
            let active = store::get_release(ctx, &active).await?;
            term.text(&compare(ctx, &active, release).await?);
        }
        None => term.line(&format!(
            "{} runs nothing yet: every service starts",
            ctx.app
        )),
    }
    Ok(())
}

/// The diff text of two releases, comparing env values when they may be read.
async fn compare(ctx: &Ctx, from: &Release, to: &Release) -> Result<String> {
    let envs = if same_env(from, to) {
        None
    } else {
        match (
            store::release_env(ctx, from).await,
            store::release_env(ctx, to).await,
        ) {
            (Ok(a), Ok(b)) => Some((a, b)),
            (Err(Error::NeedsEnvReader(_)), _) | (_, Err(Error::NeedsEnvReader(_))) => None,
            (Err(err), _) | (_, Err(err)) => return Err(err),
        }
    };
    let ids = (display_id(&from.name_any()), display_id(&to.name_any()));
    let d = release_diff(
        (&ids.0, from),
        (&ids.1, to),
        envs.as_ref().map(|(a, b)| (a, b)),
    );
    Ok(diff_text(&d))
}

/// `convox releases diff A B`: images, env keys (never values) and services that change.
pub async fn diff(ctx: &Ctx, term: &mut Term, from: &str, to: &str) -> Result<()> {
    store::get_app(ctx).await?;
    let from = store::get_release(ctx, from).await?;
    let to = store::get_release(ctx, to).await?;
    term.text(&compare(ctx, &from, &to).await?);
    Ok(())
}

/// `convox releases rollback R`: copies R, promotes the copy: `Rolling back to R... OK, RNEW`.
pub async fn rollback(
    ctx: &Ctx,
    term: &mut Term,
    id: &str,
    dry_run_only: bool,
    opts: &PromoteOpts,
) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let source = store::get_release(ctx, id).await?;
    if dry_run_only {
        let step = format!("Rolling back to {}", display_id(&source.name_any()));
        return dry_run(ctx, term, &app, &source, &step).await;
    }
    term.start(&format!(
        "Rolling back to {}",
        display_id(&source.name_any())
    ));
    let spec = source.spec.rollback_copy(&source.name_any());
    let copy = if !opts.force && rollout::foreign_release_owner(&app).is_some() {
        // Git promotes it, not this command: the copy only is made, for the commit to name,
        // and the App is left as git wrote it (no env head written).
        let fork = envchange::Fork {
            app,
            build: None,
            env: None,
            annotations: Vec::new(),
        };
        copy_release(ctx, fork, &source, "releases rollback", spec).await?
    } else {
        envchange::commit_with(ctx, None, |fork| {
            copy_release(ctx, fork, &source, "releases rollback", spec.clone())
        })
        .await?
    };
    // The copy stays even when the promotion cannot start: it is the env head now (the next
    // change forks it), and for a GitOps-managed App the change to commit to git names it.
    let started = rollout::start(ctx, &copy, opts).await?;
    let copy_id = display_id(&copy.name_any());
    term.ok_id(&copy_id);
    rollout::announce(term, &copy_id, true);
    rollout::follow(ctx, term, started, true).await?;
    term.ok();
    term.result_id(&copy_id);
    Ok(())
}

/// Which release a create-from flag pair names.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// A release by ID.
    Release(String),
    /// The active release.
    Active,
}

/// The build and env sources of `create-from`, or the flag error.
pub fn create_from_sources(args: &CreateFromArgs) -> Result<(Source, Source)> {
    let pick =
        |id: &Option<String>, active: bool, flags: (&'static str, &'static str)| match (id, active)
        {
            (Some(_), true) => Err(Error::BothFlags(flags.0, flags.1)),
            (Some(id), false) => Ok(Source::Release(id.clone())),
            (None, true) => Ok(Source::Active),
            (None, false) => Err(Error::EitherFlag(flags.0, flags.1)),
        };
    let build = pick(
        &args.build_from,
        args.use_active_release_build,
        ("build-from", "use-active-release-build"),
    )?;
    let env = pick(
        &args.env_from,
        args.use_active_release_env,
        ("env-from", "use-active-release-env"),
    )?;
    Ok((build, env))
}

/// `convox releases create-from`: `Creating release... OK`, `Release: R`, and the promotion.
pub async fn create_from(ctx: &Ctx, term: &mut Term, args: &CreateFromArgs) -> Result<()> {
    let (build_source, env_source) = create_from_sources(args)?;
    let app = store::get_app(ctx).await?;
    let resolve = |source: Source| async {
        let id = match source {
            Source::Release(id) => id,
            Source::Active => app
                .status
                .as_ref()
                .and_then(|s| s.release.clone())
                .ok_or_else(|| Error::NoActiveRelease(ctx.app.clone()))?,
        };
        store::get_release(ctx, &id).await
    };
    let build = resolve(build_source).await?;
    let env = resolve(env_source).await?;
    term.start("Creating release");
    let spec = ReleaseSpec::create_from(
        (&build.name_any(), &build.spec),
        (&env.name_any(), &env.spec),
    );
    let release = envchange::commit_with(ctx, None, |fork| {
        copy_release(ctx, fork, &env, "releases create-from", spec.clone())
    })
    .await?;
    term.ok();
    term.line(&format!("Release: {}", display_id(&release.name_any())));
    if args.promote {
        rollout::promote(ctx, term, &release, &args.opts, false).await?;
    }
    Ok(())
}

/// Creates `spec` as a new release with `env_source`'s environment, read only when it must be.
async fn copy_release(
    ctx: &Ctx,
    fork: envchange::Fork,
    env_source: &Release,
    command: &str,
    spec: ReleaseSpec,
) -> Result<Release> {
    let (app, annotations) = (&fork.app, &fork.annotations);
    let annotations: Vec<(&str, &str)> = annotations
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let create = |spec, env| store::create_release(ctx, app, spec, env, &annotations);
    // The CLI never puts values in a CR: a hand-written source's plain values go into a Secret.
    match fork::carry(&env_source.spec) {
        // Deploying needs no read access to env values: the new release names the same Secret.
        EnvCarry::Share(reference) => create(spec, NewEnv::Share(&reference)).await,
        EnvCarry::Pin(values) if values.is_empty() => create(spec, NewEnv::Empty).await,
        EnvCarry::Pin(values) => create(spec, NewEnv::Pin(&values)).await,
        EnvCarry::Merge => {
            let values = store::release_env(ctx, env_source)
                .await
                .map_err(|err| err.in_command(command))?;
            create(spec, NewEnv::Pin(&values)).await
        }
    }
}

#[cfg(test)]
mod rollback_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        build: Option<&str>,
        env: Option<&str>,
        active_build: bool,
        active_env: bool,
    ) -> CreateFromArgs {
        CreateFromArgs {
            build_from: build.map(String::from),
            env_from: env.map(String::from),
            use_active_release_build: active_build,
            use_active_release_env: active_env,
            ..CreateFromArgs::default()
        }
    }

    #[test]
    fn create_from_takes_one_source_of_each() {
        assert_eq!(
            create_from_sources(&args(Some("R1"), Some("R2"), false, false)).unwrap(),
            (Source::Release("R1".into()), Source::Release("R2".into()))
        );
        assert_eq!(
            create_from_sources(&args(None, Some("R2"), true, false)).unwrap(),
            (Source::Active, Source::Release("R2".into()))
        );
        assert_eq!(
            create_from_sources(&args(Some("R1"), None, false, true)).unwrap(),
            (Source::Release("R1".into()), Source::Active)
        );
        let err = |a| create_from_sources(&a).unwrap_err().to_string();
        assert_eq!(
            err(args(None, Some("R2"), false, false)),
            "must specify either --build-from or --use-active-release-build"
        );
        assert_eq!(
            err(args(Some("R1"), None, false, false)),
            "must specify either --env-from or --use-active-release-env"
        );
        assert_eq!(
            err(args(Some("R1"), Some("R2"), true, false)),
            "cannot specify both --build-from and --use-active-release-build"
        );
    }
}
