//! `convox run` (a one-off process from a release) and `convox exec` (a command in a process),
//! attached through kube's websocket support; the exit status is passed through.

use std::io::IsTerminal;

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, Pod, PodSpec, ResourceRequirements, SecretEnvSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{AttachParams, DeleteParams, LogParams, ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use slipway_crds::app::workload_name;
use slipway_crds::id::{IdKind, display_id, new_id};
use slipway_crds::labels::{self, CLI_MANAGER};
use slipway_crds::manifest::Manifest;
use slipway_crds::{App, Release};

use crate::args::{ExecArgs, RunArgs};
use crate::commands::ps::get_process;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::output::Term;
use crate::store;

/// The shell command Convox runs: the words joined, through `sh -c`.
pub fn shell(words: &[String]) -> Vec<String> {
    vec!["sh".into(), "-c".into(), words.join(" ")]
}

/// The exit status an attach or exec ended with, from the API server's final Status.
pub fn exit_code(status: Option<&Status>) -> i32 {
    let Some(status) = status else { return 0 };
    if status.status.as_deref() == Some("Success") {
        return 0;
    }
    status
        .details
        .iter()
        .flat_map(|d| d.causes.iter().flatten())
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref()?.parse().ok())
        .unwrap_or(1)
}

/// The pod of a one-off process of `service` from `release`: its image, env and resources.
// No restart; labelled so that no Service routes to it and no rollout counts it.
pub fn run_pod(
    app: &App,
    release: &Release,
    service: &str,
    command: &[String],
    interactive: bool,
) -> Result<Pod> {
    let name = app.name_any();
    let manifest = Manifest::parse(&release.spec.manifest)?;
    let svc = manifest
        .services
        .get(service)
        .ok_or_else(|| Error::NoSuchService(service.to_string()))?;
    let image = release.spec.images.get(service).or(svc.image.as_ref());
    let image = image.ok_or_else(|| Error::Usage(format!("service {service} has no image")))?;
    let suffix = new_id(IdKind::Release)[1..6].to_ascii_lowercase();
    let mut tags = labels::app_labels(&name);
    tags.insert(labels::RUN_SERVICE.into(), service.into());
    tags.insert(labels::RUN_RELEASE.into(), release.name_any());
    let var = |k: &str, v: String| EnvVar {
        name: k.into(),
        value: Some(v),
        ..EnvVar::default()
    };
    let mut env = vec![
        var("APP", name.clone()),
        var("SERVICE", service.into()),
        var("RELEASE", display_id(&release.name_any())),
        var(
            "BUILD",
            release
                .spec
                .build
                .as_deref()
                .map(display_id)
                .unwrap_or_default(),
        ),
    ];
    env.extend(release.spec.env.iter().map(|(k, v)| var(k, v.clone())));
    let mut requests = std::collections::BTreeMap::new();
    if let Some(cpu) = svc.scale.cpu {
        requests.insert("cpu".to_string(), Quantity(format!("{cpu}m")));
    }
    if let Some(memory) = svc.scale.memory {
        requests.insert("memory".to_string(), Quantity(format!("{memory}Mi")));
    }
    let container = Container {
        name: "main".into(),
        image: Some(image.clone()),
        command: Some(shell(command)),
        env: Some(env),
        env_from: release.spec.env_secret.as_ref().map(|s| {
            vec![EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: s.name.clone(),
                    optional: Some(false),
                }),
                ..EnvFromSource::default()
            }]
        }),
        resources: (!requests.is_empty()).then(|| ResourceRequirements {
            requests: Some(requests),
            ..ResourceRequirements::default()
        }),
        stdin: Some(interactive),
        stdin_once: Some(interactive),
        tty: Some(interactive),
        ..Container::default()
    };
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(format!("{}-run-{suffix}", workload_name(&name, service))),
            labels: Some(tags),
            owner_references: Some(app.owner_ref(&()).into_iter().collect()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![container],
            restart_policy: Some("Never".into()),
            ..PodSpec::default()
        }),
        status: None,
    })
}

/// Where a one-off process stands: still starting, running, ended with a code, or stuck.
fn progress(pod: &Pod) -> std::result::Result<Option<Option<i32>>, String> {
    let Some(c) = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
    else {
        return Ok(None);
    };
    let state = c.state.clone().unwrap_or_default();
    if let Some(t) = state.terminated {
        return Ok(Some(Some(t.exit_code)));
    }
    if state.running.is_some() {
        return Ok(Some(None));
    }
    // The rule a rollout follows too: the first failed pull is retried, so it is no verdict yet.
    match slipway_crds::pods::start_failure(c) {
        Some((reason, message)) => Err(format!("{reason}: {message}")),
        None => Ok(None),
    }
}

/// Waits until the process runs (`until_end`: until it ends); returns its exit code if it ended.
async fn wait(ctx: &Ctx, name: &str, until_end: bool, args: &RunArgs) -> Result<Option<i32>> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut pods = watcher(ctx.pods(), config).default_backoff().boxed();
    let deadline = tokio::time::sleep(args.timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            item = pods.next() => match item {
                Some(Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod))) => match progress(&pod) {
                    Ok(Some(Some(code))) => return Ok(Some(code)),
                    Ok(Some(None)) if !until_end => return Ok(None),
                    Ok(_) => {}
                    Err(why) => return Err(Error::Local(format!("process {name} cannot start: {why}"))),
                },
                Some(Ok(watcher::Event::Delete(_))) => return Err(Error::NoSuchProcess(name.into())),
                Some(_) => {}
                None => return Err(Error::Unreachable("the watch on the process ended".into())),
            },
            _ = &mut deadline => return Err(Error::Timeout { after: args.timeout, what: format!("process {name}") }),
        }
    }
}

/// `convox run SERVICE COMMAND...`: attached on a terminal, else its output streamed; the pod is removed after.
pub async fn run(ctx: &Ctx, term: &mut Term, args: &RunArgs) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let release = match &args.release {
        Some(id) => store::get_release(ctx, id).await?,
        None => {
            let active = app.status.as_ref().and_then(|s| s.release.clone());
            let active = active.ok_or_else(|| Error::NoActiveRelease(ctx.app.clone()))?;
            store::get_release(ctx, &active).await?
        }
    };
    let interactive = !args.detach && std::io::stdin().is_terminal();
    let pod = run_pod(&app, &release, &args.service, &args.command, interactive)?;
    let name = pod.name_any();
    let params = PostParams {
        field_manager: Some(CLI_MANAGER.to_string()),
        ..PostParams::default()
    };
    if args.detach {
        term.start("Running detached process");
    }
    ctx.pods()
        .create(&params, &pod)
        .await
        .map_err(|err| Error::kube(format!("starting a process of {}", args.service), err))?;
    if args.detach {
        term.ok_id(&name);
        return Ok(());
    }
    let result = attach_or_stream(ctx, &name, interactive, args).await;
    // The process is one-off: it goes once it has ended or been left.
    let _ = ctx.pods().delete(&name, &DeleteParams::background()).await;
    match result? {
        0 => Ok(()),
        code => Err(Error::Exit(code)),
    }
}

async fn attach_or_stream(ctx: &Ctx, name: &str, interactive: bool, args: &RunArgs) -> Result<i32> {
    if let Some(code) = wait(ctx, name, false, args).await? {
        print_log(ctx, name, false).await?;
        return Ok(code);
    }
    if interactive {
        let params = AttachParams::interactive_tty();
        match ctx.pods().attach(name, &params).await {
            Ok(attached) => {
                relay(attached, true).await?;
                // An attach carries no exit status (an exec does): the pod tells it.
                return Ok(wait(ctx, name, true, args).await?.unwrap_or(0));
            }
            Err(kube::Error::Api(status)) if status.code == 403 => {
                return Err(Error::Forbidden(status.message));
            }
            // A short command can end before the attach: show what it wrote and how it ended.
            Err(err) => match wait(ctx, name, true, args).await {
                Ok(Some(code)) => {
                    print_log(ctx, name, false).await?;
                    return Ok(code);
                }
                _ => return Err(Error::kube(format!("attaching to {name}"), err)),
            },
        }
    }
    let interrupt = tokio::signal::ctrl_c();
    tokio::select! {
        result = print_log(ctx, name, true) => result?,
        _ = interrupt => return Err(Error::Interrupted(format!("process {name}; it was stopped"))),
    }
    Ok(wait(ctx, name, true, args).await?.unwrap_or(0))
}

/// Copies a process's output to stdout, as it comes when `follow`.
async fn print_log(ctx: &Ctx, name: &str, follow: bool) -> Result<()> {
    let params = LogParams {
        container: Some("main".into()),
        follow,
        ..LogParams::default()
    };
    let reader = ctx.pods().log_stream(name, &params).await;
    let reader = reader.map_err(|err| Error::kube(format!("reading the output of {name}"), err))?;
    let mut lines = reader.lines();
    while let Some(Ok(line)) = lines.next().await {
        println!("{line}");
    }
    Ok(())
}

/// Relays stdin and stdout to an attached process (raw terminal when `tty`); its exit code.
async fn relay(mut attached: kube::api::AttachedProcess, tty: bool) -> Result<i32> {
    let _raw = tty.then(RawTerminal::enter);
    let status = attached.take_status();
    if let Some(mut input) = attached.stdin() {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut input).await;
        });
    }
    let mut output = attached.stdout();
    let copy_out = async {
        if let Some(out) = output.as_mut() {
            let _ = tokio::io::copy(out, &mut tokio::io::stdout()).await;
        }
    };
    let mut errors = attached.stderr();
    let copy_err = async {
        if let Some(err) = errors.as_mut() {
            let _ = tokio::io::copy(err, &mut tokio::io::stderr()).await;
        }
    };
    let ((), (), status) = tokio::join!(copy_out, copy_err, async {
        match status {
            Some(status) => status.await,
            None => None,
        }
    });
    Ok(exit_code(status.as_ref()))
}

/// The terminal in raw mode (through `stty`, no unsafe code) until dropped.
struct RawTerminal(Option<String>);

impl RawTerminal {
    fn enter() -> RawTerminal {
        let stty = |args: &[&str]| {
            let tty = std::fs::File::open("/dev/tty").ok()?;
            let out = std::process::Command::new("stty")
                .args(args)
                .stdin(tty)
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let saved = stty(&["-g"]);
        if saved.is_some() {
            let _ = stty(&["raw", "-echo"]);
        }
        RawTerminal(saved)
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let (Some(saved), Ok(tty)) = (&self.0, std::fs::File::open("/dev/tty")) {
            let _ = std::process::Command::new("stty")
                .arg(saved)
                .stdin(tty)
                .status();
        }
    }
}

/// `convox exec PID COMMAND...`: the command in a running process, its exit status passed through.
pub async fn exec(ctx: &Ctx, args: &ExecArgs) -> Result<()> {
    store::get_app(ctx).await?;
    get_process(ctx, &args.pid).await?;
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let params = AttachParams {
        container: Some("main".into()),
        stdin: true,
        stdout: true,
        stderr: !tty,
        tty,
        ..AttachParams::default()
    };
    let attached = ctx
        .pods()
        .exec(&args.pid, shell(&args.command), &params)
        .await;
    let attached =
        attached.map_err(|err| Error::kube(format!("running a command in {}", args.pid), err))?;
    match relay(attached, tty).await? {
        0 => Ok(()),
        code => Err(Error::Exit(code)),
    }
}

#[cfg(test)]
mod tests;
