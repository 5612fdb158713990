//! Resolve: read a Release and its environment from the API, and check them.

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use slipway_crds::env::{self, Env};
use slipway_crds::{Release, id};

use super::plan::{Invalid, Plan, plan};
use crate::context::Context;
use crate::error::Result;

/// A release ready to render, and the env Secret the operator must make for it, if any.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// What to render.
    pub plan: Plan,
    /// The Secret pinning a hand-written release's plain env; CLI releases bring their own.
    pub own_secret: Option<Secret>,
}

/// Reads release `name` of `app` and its env; `Ok(Err(_))` says why it cannot run.
pub async fn resolve(
    ctx: &Context,
    namespace: &str,
    app: &str,
    name: &str,
    progress_deadline: i32,
) -> Result<Result<Resolved, Invalid>> {
    let releases: Api<Release> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(release) = releases.get_opt(name).await? else {
        return Ok(Err(Invalid(format!(
            "no such release: {}",
            id::display_id(name)
        ))));
    };
    let mut env = release.spec.env.clone();
    let (secret_name, own_secret) = match &release.spec.env_secret {
        Some(reference) => match pinned_env(ctx, namespace, name, reference).await? {
            Ok(pinned) => {
                env.extend(pinned);
                (reference.name.clone(), None)
            }
            Err(invalid) => return Ok(Err(invalid)),
        },
        None => {
            if let Err(invalid) = squatted(ctx, namespace, name, &env).await? {
                return Ok(Err(invalid));
            }
            let (secret, _) = env::pinned_secret(app, name, &env);
            (env::secret_name(name), Some(secret))
        }
    };
    if let Err(e) = env::validate(&env).and_then(|()| env::check_size(&env)) {
        return Ok(Err(Invalid(format!(
            "release {}: {e}",
            id::display_id(name)
        ))));
    }
    Ok(plan(app, &release, &env, &secret_name, progress_deadline)
        .map(|plan| Resolved { plan, own_secret }))
}

async fn pinned_env(
    ctx: &Context,
    namespace: &str,
    release: &str,
    reference: &slipway_crds::release::EnvSecretRef,
) -> Result<Result<Env, Invalid>> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let display = id::display_id(release);
    let Some(secret) = secrets.get_opt(&reference.name).await? else {
        return Ok(Err(Invalid(format!(
            "release {display}: its env Secret {} is missing",
            reference.name
        ))));
    };
    let pinned = match env::from_secret(&secret) {
        Ok(pinned) => pinned,
        Err(e) => return Ok(Err(Invalid(format!("release {display}: {e}")))),
    };
    if env::hash(&pinned) != reference.sha256 {
        return Ok(Err(Invalid(format!(
            "release {display}: its env Secret {} no longer holds the env the release was made with",
            reference.name
        ))));
    }
    Ok(Ok(pinned))
}

// A hand-written release's Secret is made by the operator; one that is there already must hold
// the release's env, or the pods would run with values the release never had.
async fn squatted(
    ctx: &Context,
    namespace: &str,
    release: &str,
    env: &Env,
) -> Result<Result<(), Invalid>> {
    let name = env::secret_name(release);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(secret) = secrets.get_opt(&name).await? else {
        return Ok(Ok(()));
    };
    let holds = env::from_secret(&secret).map(|held| env::hash(&held));
    if holds.as_ref() == Ok(&env::hash(env)) {
        return Ok(Ok(()));
    }
    Ok(Err(Invalid(format!(
        "release {}: the Secret {name} holds other values than the release's env; delete it and the operator makes it again",
        id::display_id(release)
    ))))
}
