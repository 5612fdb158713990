//! The Build controller: a Build yields its Release, once every service has an image. Services
//! with `build:` are built first, in a build pod of the Build's own (`slipway_crds::builder`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Resource, ResourceExt};
use slipway_crds::build::{BuildPhase, BuildStatus};
use slipway_crds::builder::{self, BuildEnv, PodOutcome, SourceService};
use slipway_crds::env::Env;
use slipway_crds::fork::{self, EnvCarry};
use slipway_crds::labels::{self, OPERATOR_MANAGER};
use slipway_crds::manifest::Manifest;
use slipway_crds::newrelease::{Maker, NewEnv, new_release};
use slipway_crds::pinned;
use slipway_crds::release::newest_first;
use slipway_crds::{App, Build, Release, ReleaseSpec, id, order, stamp};

use crate::context::Context;
use crate::error::{Error, Result};

/// Runs the Build controller over `builds` and their build pods until shutdown.
pub async fn run(ctx: Arc<Context>, builds: Api<Build>, pods: Api<Pod>) {
    let (store, writer) = reflector::store();
    let events = watcher(builds, watcher::Config::default())
        .reflect(writer)
        .backoff(crate::watch::Quick::default())
        .applied_objects();
    Controller::for_stream(
        crate::watch::without_errors(events, "builds", ctx.metrics.clone()),
        store,
    )
    .owns(
        pods,
        watcher::Config::default().labels(builder::BUILD_LABEL),
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

/// A value, or the reason the Build fails: it ends the Build and is not retried (an API error,
/// the outer `Result`, is).
type Outcome<T> = std::result::Result<T, String>;

/// Where a Build stands after one look at it.
enum Step {
    /// The build pod was made just now.
    Started(String),
    /// The build pod is at work; its changes bring the next look.
    Building,
    /// Every service has an image: the Release can be made.
    Built(BTreeMap<String, String>),
    /// It cannot be built, in words.
    Failed(String),
}

#[tracing::instrument(skip_all, fields(build = %build.name_any(), namespace = build.namespace().unwrap_or_default()))]
async fn reconcile(build: Arc<Build>, ctx: Arc<Context>) -> Result<Action> {
    let started = std::time::Instant::now();
    let result = reconcile_build(&build, &ctx).await;
    ctx.metrics.reconciled("build", started.elapsed());
    result
}

async fn reconcile_build(build: &Build, ctx: &Context) -> Result<Action> {
    let status = build.status.clone().unwrap_or_default();
    if matches!(
        status.phase,
        Some(BuildPhase::Complete | BuildPhase::Failed)
    ) {
        return Ok(Action::await_change());
    }
    let namespace = build.namespace().ok_or(Error::MissingField("namespace"))?;
    let client = &ctx.client;
    let Some(app) = Api::<App>::namespaced(client.clone(), &namespace)
        .get_opt(&build.spec.app)
        .await?
    else {
        return report(
            client,
            build,
            ended(status, Err(format!("no such app: {}", build.spec.app))),
        )
        .await;
    };
    let step = match Manifest::parse(&build.spec.manifest)
        .map_err(|e| e.to_string())
        .and_then(|m| builder::services_to_build(&m, &build.spec.images))
    {
        Err(reason) => Step::Failed(reason),
        Ok(services) if services.is_empty() => Step::Built(build.spec.images.clone()),
        Ok(services) => build_from_source(ctx, &namespace, build, &app, &services).await?,
    };
    let next = match step {
        Step::Building => return Ok(Action::await_change()),
        Step::Started(pod) => BuildStatus {
            phase: Some(BuildPhase::Running),
            started: Some(Time(jiff::Timestamp::now())),
            pod: Some(pod),
            ..status
        },
        Step::Failed(reason) => ended(status, Err(reason)),
        Step::Built(images) => {
            let release = create_release(client, &namespace, build, &app, images).await?;
            ended(status, release)
        }
    };
    report(client, build, next).await
}

/// Makes the build pod, or reads how it is doing.
async fn build_from_source(
    ctx: &Context,
    namespace: &str,
    build: &Build,
    app: &App,
    services: &[SourceService],
) -> Result<Step> {
    let names = || {
        services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(settings) = &ctx.builder else {
        return Ok(Step::Failed(format!(
            "services {} are built from source and this cluster has no builder: install the chart with build.registry set",
            names()
        )));
    };
    if build.spec.source.is_none() {
        return Ok(Step::Failed(format!(
            "services {} are built from source and the Build names no source: set spec.source.image to the source as an OCI artifact by digest",
            names()
        )));
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let name = builder::pod_name(&build.name_any());
    let running = build.status.as_ref().and_then(|s| s.phase) == Some(BuildPhase::Running);
    match pods.get_opt(&name).await? {
        Some(pod) => Ok(match builder::pod_outcome(&pod, services) {
            PodOutcome::Building if running => Step::Building,
            PodOutcome::Building => Step::Started(name),
            PodOutcome::Built(built) => {
                let mut images = build.spec.images.clone();
                images.extend(built);
                Step::Built(images)
            }
            PodOutcome::Failed(reason) => Step::Failed(reason),
        }),
        None if running => Ok(Step::Failed(format!(
            "the build pod {name} was deleted before the build ended"
        ))),
        None => {
            let releases: Api<Release> = Api::namespaced(ctx.client.clone(), namespace);
            let base = env_source(&releases, app, &release_name(&build.name_any())).await?;
            // The pod takes the base's Secret by name: it must hold what the base was made with.
            if let Some(base) = &base
                && let Err(reason) = release_env(&ctx.client, namespace, base).await?
            {
                return Ok(Step::Failed(reason));
            }
            let mut env = BuildEnv {
                secret: base
                    .as_ref()
                    .and_then(|b| b.spec.env_secret.as_ref())
                    .map(|s| s.name.clone()),
                plain: base.map(|b| b.spec.env).unwrap_or_default(),
            };
            env.plain.extend(build.spec.build_args.clone());
            let pod = builder::build_pod(build, namespace, services, settings, &env);
            let params = PostParams {
                field_manager: Some(OPERATOR_MANAGER.into()),
                ..Default::default()
            };
            match pods.create(&params, &pod).await {
                Ok(_) => tracing::info!(pod = name, "Started build pod"),
                // A look cut short after making it: the pod's own events bring the next one.
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
            Ok(Step::Started(name))
        }
    }
}

/// `status` once the build has ended: complete with its release, or failed with a reason.
fn ended(status: BuildStatus, outcome: Outcome<String>) -> BuildStatus {
    let now = Time(jiff::Timestamp::now());
    let (phase, release, reason) = match outcome {
        Ok(release) => (BuildPhase::Complete, Some(release), None),
        Err(reason) => (BuildPhase::Failed, None, Some(reason)),
    };
    BuildStatus {
        phase: Some(phase),
        release,
        reason,
        started: status.started.or_else(|| Some(now.clone())),
        ended: Some(now),
        pod: status.pod,
    }
}

async fn report(client: &kube::Client, build: &Build, status: BuildStatus) -> Result<Action> {
    let patch = serde_json::json!({
        "apiVersion": Build::api_version(&()),
        "kind": Build::kind(&()),
        "status": status,
    });
    Api::<Build>::namespaced(client.clone(), &build.namespace().unwrap_or_default())
        .patch_status(
            &build.name_any(),
            &PatchParams::apply(OPERATOR_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    tracing::info!(phase = ?status.phase, release = ?status.release, reason = ?status.reason, "Reconciled build");
    Ok(Action::await_change())
}

// A new Secret first, then the Release, then the Secret's owner: a Release never names a
// missing Secret. The env comes from the base the next env change would take (the same rule as
// the CLI, `slipway_crds::order`), so a build never inherits an env release that has not won;
// a base whose env Secret is broken fails the Build (its `Outcome`) rather than lose its env.
async fn create_release(
    client: &kube::Client,
    namespace: &str,
    build: &Build,
    app: &App,
    images: BTreeMap<String, String>,
) -> Result<Outcome<String>> {
    let name = release_name(&build.name_any());
    let releases: Api<Release> = Api::namespaced(client.clone(), namespace);
    if let Some(existing) = releases.get_opt(&name).await? {
        if existing.spec.build.as_deref() == Some(build.name_any().as_str()) {
            // A reconcile cut short after creating it may have left its env Secret without it.
            crate::envowner::own_env(client, &existing).await?;
        }
        return Ok(Ok(name));
    }
    let base = env_source(&releases, app, &name).await?;
    let mut pinned = Env::new();
    let mut shared = None;
    if let Some(base) = &base {
        let whole = match release_env(client, namespace, base).await? {
            Ok(whole) => whole,
            Err(reason) => return Ok(Err(reason)),
        };
        match fork::carry(&base.spec) {
            EnvCarry::Share(reference) => shared = Some(reference),
            EnvCarry::Pin(plain) => pinned = plain,
            EnvCarry::Merge => pinned = whole,
        }
    }
    let env = match &shared {
        Some(reference) => NewEnv::Share(reference),
        // With no base, an empty env is pinned: every release a Build makes names a Secret.
        None => NewEnv::Pin(&pinned),
    };
    let spec = ReleaseSpec {
        build: Some(build.name_any()),
        manifest: build.spec.manifest.clone(),
        images,
        secret_keys: base.map(|r| r.spec.secret_keys).unwrap_or_default(),
        description: build.spec.description.clone(),
        created: Some(stamp::now_stamp()),
        ..ReleaseSpec::default()
    };
    // The head this env came from: the next change orders this release by it (`order`).
    let seen = fork::env_head(app).unwrap_or_default().to_string();
    let annotations = [(labels::ENV_AFTER.to_string(), seen)].into();
    let objects = new_release(Maker::Build, app, &name, spec, env, annotations);
    let params = PostParams {
        field_manager: Some(OPERATOR_MANAGER.into()),
        ..Default::default()
    };
    if let Some(secret) = &objects.secret {
        match Api::<Secret>::namespaced(client.clone(), namespace)
            .create(&params, secret)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let created = match releases.create(&params, &objects.release).await {
        Ok(created) => created,
        Err(kube::Error::Api(e)) if e.code == 409 => return Ok(Ok(name)),
        Err(e) => return Err(e.into()),
    };
    crate::envowner::own_env(client, &created).await?;
    tracing::info!(release = name, "Created release from build");
    Ok(Ok(name))
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

/// The whole env of `release`, checked against its Secret (`slipway_crds::pinned`), or why
/// it cannot be taken, as a Build's reason.
async fn release_env(
    client: &kube::Client,
    namespace: &str,
    release: &Release,
) -> Result<Outcome<Env>> {
    let secret = match pinned::secret_to_read(release) {
        Some(name) => {
            Api::<Secret>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await?
        }
        None => None,
    };
    Ok(
        pinned::release_env(release, secret.as_ref()).map_err(|problem| {
            format!(
                "the environment of release {} is unusable: {problem}",
                id::display_id(&release.name_any())
            )
        }),
    )
}

fn error_policy(build: Arc<Build>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failed("build", error.metric_label());
    tracing::warn!(build = %build.name_any(), error = %error, "Reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_named_after_their_build() {
        assert_eq!(release_name("babcdefghij"), "rabcdefghij");
        assert_eq!(release_name("v1"), "v1-release");
    }
}
