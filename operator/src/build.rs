//! The Build controller: a Build whose services all have images yields its Release.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Resource, ResourceExt};
use slipway_crds::build::{BuildPhase, BuildStatus};
use slipway_crds::env::{self, Env};
use slipway_crds::fork::{self, EnvCarry};
use slipway_crds::labels::{self, OPERATOR_MANAGER};
use slipway_crds::manifest::Manifest;
use slipway_crds::release::{EnvSecretRef, newest_first};
use slipway_crds::{App, Build, Release, ReleaseSpec, id, order, stamp};

use crate::context::Context;
use crate::error::{Error, Result};

/// Runs the Build controller over `builds` until shutdown.
pub async fn run(ctx: Arc<Context>, builds: Api<Build>) {
    let (store, writer) = reflector::store();
    let events = watcher(builds, watcher::Config::default())
        .reflect(writer)
        .backoff(crate::watch::Quick::default())
        .applied_objects();
    Controller::for_stream(
        crate::watch::without_errors(events, "builds", ctx.metrics.clone()),
        store,
    )
    .trigger_backoff(crate::watch::Quick::default())
    .shutdown_on_signal()
    .run(reconcile, error_policy, ctx)
    .for_each(|_| futures::future::ready(()))
    .await;
}

/// The Release a Build yields: `B…` builds give `R…` with the same letters, others `<build>-release`.
pub fn release_name(build: &str) -> String {
    if id::is_generated(build) {
        format!("r{}", &build[1..])
    } else {
        format!("{build}-release")
    }
}

/// Why a build cannot yield a release, if it cannot.
fn unbuildable(build: &Build) -> Option<String> {
    let manifest = match Manifest::parse(&build.spec.manifest) {
        Ok(m) => m,
        Err(e) => return Some(e.to_string()),
    };
    let missing: Vec<_> = manifest
        .services
        .iter()
        .filter(|(name, s)| !build.spec.images.contains_key(*name) && s.image.is_none())
        .map(|(name, _)| name.as_str())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "services {} have no image: source builds (build: .) are not supported yet; set image: in convox.yml",
            missing.join(", ")
        )
    })
}

#[tracing::instrument(skip_all, fields(build = %build.name_any(), namespace = build.namespace().unwrap_or_default()))]
async fn reconcile(build: Arc<Build>, ctx: Arc<Context>) -> Result<Action> {
    let started = std::time::Instant::now();
    let result = reconcile_build(&build, &ctx).await;
    ctx.metrics.reconciled("build", started.elapsed());
    result
}

async fn reconcile_build(build: &Build, ctx: &Context) -> Result<Action> {
    let phase = build.status.as_ref().and_then(|s| s.phase);
    if matches!(phase, Some(BuildPhase::Complete | BuildPhase::Failed)) {
        return Ok(Action::await_change());
    }
    let namespace = build.namespace().ok_or(Error::MissingField("namespace"))?;
    let client = &ctx.client;
    let now = Time(jiff::Timestamp::now());
    let apps: Api<App> = Api::namespaced(client.clone(), &namespace);
    let status = match (unbuildable(build), apps.get_opt(&build.spec.app).await?) {
        (_, None) => failed(&now, format!("no such app: {}", build.spec.app)),
        (Some(reason), _) => failed(&now, reason),
        (None, Some(app)) => {
            let release = create_release(client, &namespace, build, &app).await?;
            BuildStatus {
                phase: Some(BuildPhase::Complete),
                reason: None,
                release: Some(release),
                started: Some(now.clone()),
                ended: Some(now),
            }
        }
    };
    let patch = serde_json::json!({
        "apiVersion": Build::api_version(&()),
        "kind": Build::kind(&()),
        "status": status,
    });
    Api::<Build>::namespaced(client.clone(), &namespace)
        .patch_status(
            &build.name_any(),
            &PatchParams::apply(OPERATOR_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    tracing::info!(phase = ?status.phase, release = ?status.release, "Reconciled build");
    Ok(Action::await_change())
}

fn failed(now: &Time, reason: String) -> BuildStatus {
    BuildStatus {
        phase: Some(BuildPhase::Failed),
        reason: Some(reason),
        release: None,
        started: Some(now.clone()),
        ended: Some(now.clone()),
    }
}

// A new Secret first, then the Release, then the Secret's owner: a Release never names a
// missing Secret. The env comes from the base the next env change would take (the same rule as
// the CLI, `slipway_crds::order`), so a build never inherits an env release that has not won.
async fn create_release(
    client: &kube::Client,
    namespace: &str,
    build: &Build,
    app: &App,
) -> Result<String> {
    let name = release_name(&build.name_any());
    let releases: Api<Release> = Api::namespaced(client.clone(), namespace);
    if let Some(existing) = releases.get_opt(&name).await? {
        if existing.spec.build.as_deref() == Some(build.name_any().as_str()) {
            // A reconcile cut short after creating it may have left its env Secret without it.
            crate::envowner::own_env(client, &existing).await?;
        }
        return Ok(name);
    }
    let base = env_source(&releases, app, &name).await?;
    let app_name = &build.spec.app;
    let env_secret = match base.as_ref().map(|b| (fork::carry(&b.spec), b)) {
        Some((EnvCarry::Share(reference), _)) => reference,
        Some((EnvCarry::Merge, base)) => {
            let env = release_env(client, namespace, base).await?;
            create_secret(client, namespace, app_name, &name, &env).await?
        }
        Some((EnvCarry::Pin(env), _)) => {
            create_secret(client, namespace, app_name, &name, &env).await?
        }
        None => create_secret(client, namespace, app_name, &name, &Env::new()).await?,
    };
    let mut release = Release::new(
        &name,
        ReleaseSpec {
            app: build.spec.app.clone(),
            build: Some(build.name_any()),
            manifest: build.spec.manifest.clone(),
            images: build.spec.images.clone(),
            env_secret: Some(env_secret),
            secret_keys: base.map(|r| r.spec.secret_keys).unwrap_or_default(),
            description: build.spec.description.clone(),
            created: Some(stamp::now_stamp()),
            ..ReleaseSpec::default()
        },
    );
    release.metadata.labels = Some(labels::app_labels(&build.spec.app));
    // The head this env came from: the next change orders this release by it (`order`).
    let seen = fork::env_head(app).unwrap_or_default().to_string();
    release.metadata.annotations = Some([(labels::ENV_AFTER.to_string(), seen)].into());
    release.metadata.owner_references = app.controller_owner_ref(&()).map(|mut o| {
        o.controller = Some(false);
        vec![o]
    });
    let params = PostParams {
        field_manager: Some(OPERATOR_MANAGER.into()),
        ..Default::default()
    };
    let created = match releases.create(&params, &release).await {
        Ok(created) => created,
        Err(kube::Error::Api(e)) if e.code == 409 => return Ok(name),
        Err(e) => return Err(e.into()),
    };
    crate::envowner::own_env(client, &created).await?;
    tracing::info!(release = name, "Created release from build");
    Ok(name)
}

/// The release a build takes its env from: the env of the next change's base (`order::base`).
async fn env_source(releases: &Api<Release>, app: &App, except: &str) -> Result<Option<Release>> {
    let mut list = releases
        .list(&ListParams::default().fields(&format!("spec.app={}", app.name_any())))
        .await?
        .items;
    list.retain(|r| r.name_any() != except);
    newest_first(&mut list);
    Ok(order::base(&list, fork::env_head(app)).map(|base| base.env.clone()))
}

/// The full env of a release: plain values plus its pinned Secret.
async fn release_env(client: &kube::Client, namespace: &str, release: &Release) -> Result<Env> {
    let mut env = release.spec.env.clone();
    if let Some(reference) = &release.spec.env_secret
        && let Some(secret) = Api::<Secret>::namespaced(client.clone(), namespace)
            .get_opt(&reference.name)
            .await?
    {
        env.extend(env::from_secret(&secret).unwrap_or_default());
    }
    Ok(env)
}

async fn create_secret(
    client: &kube::Client,
    namespace: &str,
    app: &str,
    release: &str,
    env: &Env,
) -> Result<EnvSecretRef> {
    let (secret, reference) = env::pinned_secret(app, release, env);
    let params = PostParams {
        field_manager: Some(OPERATOR_MANAGER.into()),
        ..Default::default()
    };
    match Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&params, &secret)
        .await
    {
        Ok(_) => Ok(reference),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(reference),
        Err(e) => Err(e.into()),
    }
}

fn error_policy(build: Arc<Build>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failed("build", error.metric_label());
    tracing::warn!(build = %build.name_any(), error = %error, "Reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_crds::BuildSpec;

    fn build(manifest: &str) -> Build {
        Build::new(
            "babcdefghij",
            BuildSpec {
                app: "myapp".into(),
                manifest: manifest.into(),
                ..BuildSpec::default()
            },
        )
    }

    #[test]
    fn releases_are_named_after_their_build() {
        assert_eq!(release_name("babcdefghij"), "rabcdefghij");
        assert_eq!(release_name("v1"), "v1-release");
    }

    #[test]
    fn image_services_build_and_source_builds_fail_clearly() {
        assert_eq!(
            unbuildable(&build("services:\n  web:\n    image: nginx\n")),
            None
        );
        let reason = unbuildable(&build("services:\n  web:\n    build: .\n")).unwrap();
        assert!(
            reason.contains("services web have no image: source builds"),
            "{reason}"
        );
        assert!(
            unbuildable(&build("services: ["))
                .unwrap()
                .contains("invalid convox.yml")
        );
    }
}
