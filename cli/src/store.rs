//! Reading and writing Slipway's objects, with errors in words a person understands.

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, PostParams};
use slipway_crds::env::{self, Env};
use slipway_crds::id::{IdKind, display_id, new_id, object_name};
use slipway_crds::labels::CLI_MANAGER;
pub use slipway_crds::newrelease::NewEnv;
use slipway_crds::newrelease::{Maker, new_release};
use slipway_crds::pinned;
use slipway_crds::release::newest_first;
use slipway_crds::{App, Build, Release, ReleaseSpec};

use crate::context::Ctx;
use crate::error::{Error, Result};

/// The App of the context.
pub async fn get_app(ctx: &Ctx) -> Result<App> {
    if ctx.app.is_empty() {
        return Err(Error::Usage("no app given: use -a APP".to_string()));
    }
    match ctx.apps().get_opt(&ctx.app).await {
        Ok(Some(app)) => Ok(app),
        Ok(None) => Err(Error::NoSuchApp(ctx.app.clone())),
        Err(err) => Err(Error::kube(format!("reading app {}", ctx.app), err)),
    }
}

/// The app's releases, newest first.
pub async fn list_releases(ctx: &Ctx) -> Result<Vec<Release>> {
    let params = ListParams::default().fields(&format!("spec.app={}", ctx.app));
    let list = ctx
        .releases()
        .list(&params)
        .await
        .map_err(|err| Error::kube(format!("listing releases of {}", ctx.app), err))?;
    let mut releases: Vec<Release> = list
        .items
        .into_iter()
        .filter(|r| r.spec.app == ctx.app)
        .collect();
    newest_first(&mut releases);
    Ok(releases)
}

/// A release of the app, by ID in any case.
pub async fn get_release(ctx: &Ctx, id: &str) -> Result<Release> {
    let name = object_name(id);
    match ctx.releases().get_opt(&name).await {
        Ok(Some(release)) if release.spec.app == ctx.app => Ok(release),
        Ok(_) => Err(Error::NoSuchRelease(display_id(&name))),
        Err(err) => Err(Error::kube(
            format!("reading release {}", display_id(&name)),
            err,
        )),
    }
}

/// A release's whole environment: its plain `env` plus its Secret's values, checked against
/// the hash the release recorded (`slipway_crds::pinned`).
pub async fn release_env(ctx: &Ctx, release: &Release) -> Result<Env> {
    let id = display_id(&release.name_any());
    let secret = match pinned::secret_to_read(release) {
        None => None,
        Some(name) => match ctx.secrets().get_opt(name).await {
            Ok(secret) => secret,
            Err(kube::Error::Api(status)) if status.code == 403 => {
                return Err(Error::NeedsEnvReader("this command".to_string()));
            }
            Err(err) => return Err(Error::kube(format!("reading the environment of {id}"), err)),
        },
    };
    pinned::release_env(release, secret.as_ref()).map_err(|problem| Error::BrokenEnv {
        release: id,
        problem,
    })
}

/// The environment to show; when the Secret may not be read, its keys with `****` and `true`.
pub async fn release_env_for_display(ctx: &Ctx, release: &Release) -> Result<(Env, bool)> {
    match release_env(ctx, release).await {
        Err(Error::NeedsEnvReader(_)) => {
            let mut shown = release.spec.env.clone();
            for key in release.spec.env_secret.iter().flat_map(|r| &r.keys) {
                shown.insert(key.clone(), crate::output::releases::MASK.to_string());
            }
            Ok((shown, true))
        }
        other => other.map(|env| (env, false)),
    }
}

/// Creates a release of the app with `env`; a pinned Secret is made first and removed again
/// when the Release cannot be made.
pub async fn create_release(
    ctx: &Ctx,
    app: &App,
    spec: ReleaseSpec,
    env: NewEnv<'_>,
    annotations: &[(&str, &str)],
) -> Result<Release> {
    let name = new_id(IdKind::Release).to_ascii_lowercase();
    let id = display_id(&name);
    let annotations = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let objects = new_release(Maker::Cli, app, &name, spec, env, annotations);
    if let Some(secret) = &objects.secret {
        ctx.secrets()
            .create(&PostParams::default(), secret)
            .await
            .map_err(|err| Error::kube(format!("saving the environment of {id}"), err))?;
    }
    let params = PostParams {
        field_manager: Some(CLI_MANAGER.to_string()),
        ..PostParams::default()
    };
    let created = match ctx.releases().create(&params, &objects.release).await {
        Ok(created) => created,
        Err(err) => {
            if let Some(secret) = &objects.secret {
                let _ = ctx
                    .secrets()
                    .delete(&secret.name_any(), &DeleteParams::default())
                    .await;
            }
            return Err(Error::kube(format!("creating release {id}"), err));
        }
    };
    // The operator adds the Release to its env Secret's owners (and the App lets go): a person
    // who deploys needs no Secret rights, and no patch response hands them a Secret's data.
    Ok(created)
}

/// Deletes a release the CLI made, and the env Secret it pinned unless its Release owns it already.
pub async fn delete_release(ctx: &Ctx, name: &str) -> Result<()> {
    match ctx
        .releases()
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => {}
        Err(err) if Error::is_not_found(&err) => {}
        Err(err) => {
            return Err(Error::kube(
                format!("deleting release {}", display_id(name)),
                err,
            ));
        }
    }
    // Until the operator hands it to its Release, a pinned Secret is the App's and would stay.
    // Releases that share their source's Secret have none of their own (and a developer may
    // not delete Secrets: nothing to do then either).
    match ctx
        .secrets()
        .delete(&env::secret_name(name), &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if matches!(status.code, 403 | 404) => Ok(()),
        Err(err) => Err(Error::kube(
            format!("deleting the environment of {}", display_id(name)),
            err,
        )),
    }
}

/// The app's builds, newest first.
pub async fn list_builds(ctx: &Ctx) -> Result<Vec<Build>> {
    let params = ListParams::default().fields(&format!("spec.app={}", ctx.app));
    let list = ctx
        .builds()
        .list(&params)
        .await
        .map_err(|err| Error::kube(format!("listing builds of {}", ctx.app), err))?;
    let mut builds: Vec<Build> = list
        .items
        .into_iter()
        .filter(|b| b.spec.app == ctx.app)
        .collect();
    builds.sort_by_key(|b| {
        std::cmp::Reverse(slipway_crds::stamp::sort_key(
            b.spec.created.as_deref(),
            b.creation_timestamp().map(|t| t.0),
            &b.name_any(),
        ))
    });
    Ok(builds)
}

/// A build of the app, by ID in any case.
pub async fn get_build(ctx: &Ctx, id: &str) -> Result<Build> {
    let name = object_name(id);
    match ctx.builds().get_opt(&name).await {
        Ok(Some(build)) if build.spec.app == ctx.app => Ok(build),
        Ok(_) => Err(Error::NoSuchBuild(display_id(&name))),
        Err(err) => Err(Error::kube(
            format!("reading build {}", display_id(&name)),
            err,
        )),
    }
}

/// The current time, for ages.
pub fn now() -> Timestamp {
    Timestamp::now()
}
