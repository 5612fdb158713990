//! `convox build`, `convox deploy`, `convox builds`: builds from convox.yml, from source or images.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use slipway_crds::app::AppStatus;
use slipway_crds::build::BuildSource as BuildSourceSpec;
use slipway_crds::id::{IdKind, display_id, new_id};
use slipway_crds::labels::{self, CLI_MANAGER};
use slipway_crds::manifest::Manifest;
use slipway_crds::{Build, BuildPhase, BuildSpec, Release, builder};

use crate::args::{BuildSource, PromoteOpts, ReadOpts};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::output::logs::build_log;
use crate::output::views::{build_info_text, build_view, builds_table};
use crate::output::{Term, render};
use crate::{rollout, store};

mod log;

/// `convox builds`: `ID  STATUS  RELEASE  STARTED  ELAPSED  DESCRIPTION`, newest first.
pub async fn list(ctx: &Ctx, term: &mut Term, limit: usize, read: &ReadOpts) -> Result<()> {
    store::get_app(ctx).await?;
    let builds = store::list_builds(ctx).await?;
    let rows: Vec<_> = builds.iter().take(limit).map(build_view).collect();
    term.table(
        read.output,
        &render(read.output, &rows, || builds_table(&rows, store::now()))?,
    );
    Ok(())
}

/// `convox builds info B`.
pub async fn info(ctx: &Ctx, term: &mut Term, id: &str, read: &ReadOpts) -> Result<()> {
    store::get_app(ctx).await?;
    let view = build_view(&store::get_build(ctx, id).await?);
    term.text(&render(read.output, &view, || {
        build_info_text(&view, store::now())
    })?);
    Ok(())
}

/// `convox builds logs B`: the build's story and its events, then its build pod's log.
pub async fn logs(ctx: &Ctx, term: &mut Term, id: &str) -> Result<()> {
    store::get_app(ctx).await?;
    let build = store::get_build(ctx, id).await?;
    let name = build.name_any();
    let events = match ctx.events().list(&Default::default()).await {
        Ok(list) => list
            .items
            .iter()
            .filter(|e| {
                e.regarding.as_ref().is_some_and(|r| {
                    r.kind.as_deref() == Some("Build") && r.name.as_deref() == Some(&name)
                })
            })
            .map(|e| (rollout::event_time(e), e.note.clone().unwrap_or_default()))
            .collect(),
        // Without access to events the build's own status still tells the story.
        Err(_) => vec![],
    };
    term.text(&build_log(&build_view(&build), &events));
    match build.status.as_ref().and_then(|st| st.pod.as_deref()) {
        Some(pod) => log::print(ctx, term, pod).await,
        None => Ok(()),
    }
}

/// `convox build`: `Packaging source... OK` and `Uploading source... OK` when a service is built
/// from source, `Starting build... OK`, the build's log, then `Build:   B…` and `Release: R…`.
pub async fn build(ctx: &Ctx, term: &mut Term, source: &BuildSource) -> Result<Release> {
    let app = store::get_app(ctx).await?;
    let path = source.dir.join(&source.manifest);
    let text = std::fs::read_to_string(&path)
        .map_err(|err| Error::Local(format!("reading {}: {err}", path.display())))?;
    let manifest = Manifest::parse(&text)?;
    let images = images(&manifest, &source.images)?;
    let build_args = build_args(&source.build_args)?;
    let (description, git_sha) = match &source.description {
        Some(d) => (d.clone(), git(&source.dir, &["rev-parse", "HEAD"])),
        None => git_description(&source.dir),
    };
    let name = new_id(IdKind::Build).to_ascii_lowercase();
    let from_source = !builder::services_to_build(&manifest, &images)
        .map_err(Error::Usage)?
        .is_empty();
    let upload = if from_source {
        let repository = repository(ctx, app.status.clone()).await?;
        term.start("Packaging source");
        let packed = crate::source::pack(&source.dir)?;
        term.ok();
        term.start("Uploading source");
        let image = crate::source::push(&repository, &format!("source.{name}"), &packed).await?;
        term.ok();
        Some(BuildSourceSpec { image })
    } else {
        None
    };
    term.start("Starting build");
    let build = Build {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(labels::app_labels(&ctx.app)),
            owner_references: Some(app.owner_ref(&()).into_iter().collect()),
            ..ObjectMeta::default()
        },
        spec: BuildSpec {
            app: ctx.app.clone(),
            manifest: text,
            images,
            description,
            git_sha,
            created: Some(slipway_crds::stamp::now_stamp()),
            source: upload,
            no_cache: source.no_cache,
            build_args,
        },
        status: None,
    };
    let params = PostParams {
        field_manager: Some(CLI_MANAGER.to_string()),
        ..PostParams::default()
    };
    ctx.builds()
        .create(&params, &build)
        .await
        .map_err(|err| Error::kube("starting the build", err))?;
    term.ok();
    let release = if from_source {
        let waited = wait(ctx, &name, source.build_timeout);
        let log = log::follow(ctx, term, &name);
        tokio::pin!(waited, log);
        tokio::select! {
            release = &mut waited => {
                // The log's last lines may still be on their way when the status says done.
                let _ = tokio::time::timeout(Duration::from_secs(3), &mut log).await;
                release?
            }
            () = &mut log => waited.await?,
        }
    } else {
        wait(ctx, &name, source.build_timeout).await?
    };
    term.line(&format!("Build:   {}", display_id(&name)));
    term.line(&format!("Release: {}", display_id(&release)));
    store::get_release(ctx, &release).await
}

/// Where the app's builds push, as the operator reports it; an app made a moment ago is given
/// a few seconds for the operator's first look.
async fn repository(ctx: &Ctx, mut status: Option<AppStatus>) -> Result<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while status.is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        status = store::get_app(ctx).await?.status;
    }
    match status {
        Some(status) => status.repository.ok_or_else(|| {
            Error::Config("this cluster builds no source: its Slipway chart sets no build.registry (or give the services image: in convox.yml)".into())
        }),
        None => Err(Error::Config(format!(
            "the Slipway operator has not reported on app {} yet: is it running?",
            ctx.app
        ))),
    }
}

/// `--build-args KEY=VALUE` flags as a map.
fn build_args(flags: &[String]) -> Result<BTreeMap<String, String>> {
    flags
        .iter()
        .map(|flag| {
            flag.split_once('=')
                .filter(|(key, _)| slipway_crds::env::validate_key(key).is_ok())
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .ok_or_else(|| {
                    Error::Usage(format!("invalid --build-args {flag:?}: expected KEY=VALUE"))
                })
        })
        .collect()
}

/// `convox deploy`: a build, then the promotion of its release.
pub async fn deploy(
    ctx: &Ctx,
    term: &mut Term,
    source: &BuildSource,
    opts: &PromoteOpts,
) -> Result<Release> {
    let release = build(ctx, term, source).await?;
    rollout::promote(ctx, term, &release, opts, true).await?;
    Ok(release)
}

/// The image of each service given by `--image SERVICE=REF`; the others need `image:` or `build:`.
pub fn images(manifest: &Manifest, flags: &[String]) -> Result<BTreeMap<String, String>> {
    let mut images = BTreeMap::new();
    for flag in flags {
        let (service, image) = flag
            .split_once('=')
            .filter(|(s, i)| !s.is_empty() && !i.is_empty())
            .ok_or_else(|| {
                Error::Usage(format!("invalid --image {flag:?}: expected SERVICE=REF"))
            })?;
        if !manifest.services.contains_key(service) {
            return Err(Error::Usage(format!(
                "--image {flag}: convox.yml has no service {service}"
            )));
        }
        images.insert(service.to_string(), image.to_string());
    }
    for (name, service) in &manifest.services {
        if service.image.is_none() && service.build.is_none() && !images.contains_key(name) {
            return Err(Error::Usage(format!(
                "service {name} has no image: add image: or build: to convox.yml or pass --image {name}=REF"
            )));
        }
    }
    Ok(images)
}

/// The outcome of a build once it has ended: its release, or why it failed.
pub fn outcome(build: &Build) -> Option<Result<String>> {
    let status = build.status.as_ref()?;
    match status.phase? {
        BuildPhase::Complete => status.release.clone().map(Ok),
        BuildPhase::Failed => Some(Err(Error::BuildFailed {
            id: display_id(&build.name_any()),
            reason: status
                .reason
                .clone()
                .unwrap_or_else(|| "no reason given".into()),
        })),
        BuildPhase::Created | BuildPhase::Running => None,
    }
}

/// Waits for the operator to finish the build; returns its release.
async fn wait(ctx: &Ctx, name: &str, timeout: Duration) -> Result<String> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut builds = watcher(ctx.builds(), config).default_backoff().boxed();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            item = builds.next() => match item {
                Some(Ok(watcher::Event::Apply(build) | watcher::Event::InitApply(build))) => {
                    if let Some(result) = outcome(&build) {
                        return result;
                    }
                }
                Some(Ok(watcher::Event::Delete(_))) => return Err(Error::NoSuchBuild(display_id(name))),
                Some(_) => {}
                None => return Err(Error::Unreachable("the watch on the build ended".into())),
            },
            _ = &mut deadline => {
                return Err(Error::Timeout { after: timeout, what: format!("build {}", display_id(name)) });
            }
        }
    }
}

/// Convox's build description: `build <10-char sha> <subject>` from a clean git tree.
pub fn describe(sha: &str, subject: &str, clean: bool) -> String {
    if clean && sha.len() >= 10 {
        format!("build {} {subject}", &sha[..10])
            .trim_end()
            .to_string()
    } else {
        String::new()
    }
}

/// The description and commit of the git tree at `dir`, if it is one.
fn git_description(dir: &Path) -> (String, Option<String>) {
    let Some(sha) = git(dir, &["rev-parse", "HEAD"]) else {
        return (String::new(), None);
    };
    let clean = git(dir, &["status", "--porcelain"]).is_some_and(|s| s.is_empty());
    let subject = git(dir, &["log", "-1", "--format=%s"]).unwrap_or_default();
    (describe(&sha, &subject, clean), Some(sha))
}

/// The trimmed output of a successful git command in `dir`.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text).unwrap()
    }

    #[test]
    fn images_given_by_flag_name_services_of_the_manifest() {
        let m = manifest("services:\n  web:\n    image: nginx\n  worker:\n    build: .\n");
        assert_eq!(
            images(&m, &[]).unwrap(),
            BTreeMap::new(),
            "worker builds from source"
        );
        let given = images(&m, &["worker=busybox:1".into()]).unwrap();
        assert_eq!(
            given,
            BTreeMap::from([("worker".into(), "busybox:1".into())])
        );
        assert!(
            images(&m, &["nope=x".into()])
                .unwrap_err()
                .to_string()
                .contains("no service nope")
        );
        assert!(
            images(&m, &["worker".into()])
                .unwrap_err()
                .to_string()
                .contains("SERVICE=REF")
        );
    }

    #[test]
    fn build_args_are_key_value_pairs() {
        assert_eq!(
            build_args(&["A=1".into(), "B=x=y".into()]).unwrap(),
            BTreeMap::from([("A".into(), "1".into()), ("B".into(), "x=y".into())])
        );
        let err = build_args(&["1A=x".into()]).unwrap_err().to_string();
        assert!(err.contains("expected KEY=VALUE"), "{err}");
    }

    #[test]
    fn descriptions_come_from_a_clean_tree() {
        let sha = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
        assert_eq!(
            describe(sha, "my commit message", true),
            "build 0a1b2c3d4e my commit message"
        );
        assert_eq!(describe(sha, "my commit message", false), "");
    }

    #[test]
    fn a_build_ends_complete_or_failed() {
        let build = |status: serde_json::Value| -> Build {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "slipway.dev/v1alpha1", "kind": "Build",
                "metadata": { "name": "babcdefghij" },
                "spec": { "app": "myapp", "manifest": "" },
                "status": status
            }))
            .unwrap()
        };
        assert!(outcome(&build(serde_json::json!({ "phase": "Running" }))).is_none());
        assert_eq!(
            outcome(&build(
                serde_json::json!({ "phase": "Complete", "release": "rb" })
            ))
            .unwrap()
            .unwrap(),
            "rb"
        );
        let failed = outcome(&build(
            serde_json::json!({ "phase": "Failed", "reason": "service web: no Dockerfile at ./Dockerfile" }),
        ));
        assert_eq!(
            failed.unwrap().unwrap_err().to_string(),
            "build BABCDEFGHIJ failed: service web: no Dockerfile at ./Dockerfile"
        );
    }
}
