//! The env owner controller: a Release naming an env Secret becomes one of its owners.
//!
//! The CLI makes releases that share their source's Secret (rollback, create-from) or pin a
//! new one owned by the App; it never patches Secrets, so a person who deploys needs no
//! Secret rights at all (a patch's response holds the Secret's data). The operator adds the
//! Release as an owner here, once it has checked the Secret is a Slipway env Secret of the
//! same app; the garbage collector then keeps the Secret while any Release naming it lives.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use slipway_crds::{Release, env, fork};

use crate::context::Context;
use crate::error::{Error, Result};

/// Runs the env owner controller until shutdown over the Releases the App controller's watch
/// keeps in `store` and sends to `releases` (one watch and one store of every Release, not two).
pub async fn run(
    ctx: Arc<Context>,
    store: Store<Release>,
    releases: impl Stream<Item = Release> + Send + 'static,
) {
    // A restart looks at every Release once (a metadata read each): a few at a time.
    let config = controller::Config::default().concurrency(4);
    Controller::for_stream(releases.map(Ok::<_, watcher::Error>), store)
        .trigger_backoff(crate::watch::Quick::default())
        .with_config(config)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

async fn reconcile(release: Arc<Release>, ctx: Arc<Context>) -> Result<Action> {
    let started = std::time::Instant::now();
    let result = own_env(&ctx.client, &release).await;
    ctx.metrics.reconciled("release", started.elapsed());
    result.map(|()| Action::await_change())
}

/// Makes `release` an owner of the env Secret it names, if that is a Slipway env Secret of its app.
pub async fn own_env(client: &kube::Client, release: &Release) -> Result<()> {
    let Some(reference) = &release.spec.env_secret else {
        return Ok(());
    };
    let namespace = release
        .namespace()
        .ok_or(Error::MissingField("namespace"))?;
    let secrets = Api::<Secret>::namespaced(client.clone(), &namespace);
    // A missing Secret is the App controller's to report, when the release is promoted.
    let Some(secret) = secrets.get_metadata_opt(&reference.name).await? else {
        return Ok(());
    };
    if !fork::is_env_secret_of(secret.labels(), &release.spec.app) {
        return Ok(());
    }
    let owner = release.owner_ref(&()).ok_or(Error::MissingField("uid"))?;
    let own = reference.name == env::secret_name(&release.name_any());
    let Some(owners) = fork::owners_with(secret.owner_references(), &owner, own) else {
        return Ok(());
    };
    // The resourceVersion makes it a compare-and-swap: two releases adopting one Secret at
    // once must not drop each other (a conflict is retried with a fresh read).
    let patch = json!({
        "metadata": {
            "resourceVersion": secret.resource_version(),
            "ownerReferences": owners,
        }
    });
    secrets
        .patch_metadata(
            &reference.name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    tracing::info!(
        release = release.name_any(),
        secret = reference.name,
        "Added release as owner of its env Secret"
    );
    Ok(())
}

fn error_policy(release: Arc<Release>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failed("release", error.metric_label());
    tracing::warn!(release = %release.name_any(), error = %error, "Reconcile failed");
    let delay = match error.metric_label() {
        "conflict" => Duration::from_millis(100),
        _ => Duration::from_secs(5),
    };
    Action::requeue(delay)
}
