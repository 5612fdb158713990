#![cfg(feature = "cluster")]
//! Issue 14 on the test control plane (kwok pods, no containers): `convox scale` lives outside
//! releases and survives promotes and rollbacks, `convox restart` rolls a service without a new
//! release, a `scale.count` range becomes a HorizontalPodAutoscaler, and `ps`, `services` and
//! `releases diff` show what runs. logs, run and exec need real containers: see the real node.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use slipway_crds::{Release, labels};
use slipway_tests::cli::convox;
use slipway_tests::slipway::{CONVERGE, create_app, create_release, running, wait_app};
use slipway_tests::{TestNamespace, operator, wait_for, with_temp_ns};

const APP: &str = "myapp";
const V1: &str =
    "services:\n  web:\n    image: nginx:1\n    port: 5000\n  worker:\n    image: busybox:1\n";
const V2: &str =
    "services:\n  web:\n    image: nginx:2\n    port: 5000\n  worker:\n    image: busybox:1\n";
const RANGED: &str = "services:\n  web:\n    image: nginx:2\n    port: 5000\n    scale:\n      count: 1-4\n      targets:\n        cpu: 60\n  worker:\n    image: busybox:1\n";

async fn ok(ns: &TestNamespace, args: &[&str]) -> String {
    let run = convox(ns.name(), APP, args).await;
    assert!(run.ok(), "convox {args:?}: {}{}", run.stdout, run.stderr);
    run.stdout
}

async fn web(ns: &TestNamespace) -> Deployment {
    ns.api::<Deployment>()
        .get("myapp-web")
        .await
        .expect("myapp-web")
}

async fn wait_web<F: Fn(&Deployment) -> bool>(ns: &TestNamespace, what: &str, check: F) {
    wait_for(CONVERGE, what, || async {
        let d = web(ns).await;
        if check(&d) {
            Ok(())
        } else {
            Err(format!(
                "{:?}",
                d.spec.map(|s| (s.replicas, s.template.metadata))
            ))
        }
    })
    .await;
}

fn replicas(d: &Deployment) -> Option<i32> {
    d.spec.as_ref()?.replicas
}

async fn promote(ns: &TestNamespace, id: &str) {
    let out = ok(ns, &["releases", "promote", id]).await;
    assert!(
        out.starts_with(&format!("Promoting {id}... \n")) && out.ends_with("OK\n"),
        "{out}"
    );
}

#[tokio::test]
async fn scale_and_restart_live_outside_releases() {
    with_temp_ns("cli-loop", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, APP, 60).await;
        let no_env = Default::default();
        create_release(&ns, &app, "raaaaaaaaaa", V1, &no_env).await;
        create_release(&ns, &app, "rbbbbbbbbbb", V2, &no_env).await;
        promote(&ns, "RAAAAAAAAAA").await;

        // Scale: written to the App, rendered by the operator.
        assert_eq!(
            ok(&ns, &["scale", "web", "--count", "3", "--memory", "256"]).await,
            "Scaling web... OK\n"
        );
        wait_web(&ns, "web scaled to 3", |d| replicas(d) == Some(3)).await;
        let limits = web(&ns)
            .await
            .spec
            .unwrap()
            .template
            .spec
            .unwrap()
            .containers[0]
            .resources
            .clone()
            .unwrap()
            .limits
            .unwrap();
        assert_eq!(limits["memory"].0, "256Mi");
        let table = ok(&ns, &["scale"]).await;
        assert!(
            table.starts_with("SERVICE  DESIRED  RUNNING  CPU  MEMORY\n"),
            "{table}"
        );
        let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(
            (row[0], row[1], row.last().copied()),
            ("web", "3", Some("256")),
            "{table}"
        );

        // A promote and a rollback keep it.
        promote(&ns, "RBBBBBBBBBB").await;
        assert_eq!(replicas(&web(&ns).await), Some(3));
        let out = ok(&ns, &["releases", "rollback", "RAAAAAAAAAA"]).await;
        let copy = out
            .lines()
            .next()
            .unwrap()
            .rsplit(", ")
            .next()
            .unwrap()
            .to_string();
        assert_eq!(
            out.lines().nth(1),
            Some(format!("Promoting {copy}... ").as_str()),
            "{out}"
        );
        wait_app(&ns, APP, "the rollback copy", running(&copy.to_lowercase())).await;
        assert_eq!(replicas(&web(&ns).await), Some(3));

        // Restart: a new pod template, no new release.
        let before = ns
            .api::<Release>()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len();
        assert_eq!(ok(&ns, &["restart", "web"]).await, "Restarting web... OK\n");
        wait_web(&ns, "web restarted", |d| {
            let meta = d.spec.as_ref().and_then(|s| s.template.metadata.as_ref());
            meta.and_then(|m| m.annotations.as_ref())
                .is_some_and(|a| a.contains_key(labels::RESTARTED_AT))
        })
        .await;
        let after = ns
            .api::<Release>()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len();
        assert_eq!(before, after, "a restart makes no release");
        assert_eq!(
            ok(&ns, &["services", "restart", "worker"]).await,
            "Restarting worker... OK\n"
        );

        // What runs, and the errors a person sees.
        let services = ok(&ns, &["services"]).await;
        assert!(
            services.contains(&format!(
                "web      myapp-web.{}.svc.cluster.local  5000:5000",
                ns.name()
            )),
            "{services}"
        );
        let run = convox(ns.name(), APP, &["scale", "nope", "--count", "2"]).await;
        assert_eq!(run.error(), "no such service: nope");
        let info = ok(&ns, &["apps", "info"]).await;
        assert!(info.contains("\nLocked      false\n"), "{info}");
        let diff = ok(&ns, &["releases", "diff", "RAAAAAAAAAA", "RBBBBBBBBBB"]).await;
        assert_eq!(
            diff,
            "RAAAAAAAAAA => RBBBBBBBBBB\nImages    web: nginx:1 => nginx:2\nManifest  changed\n"
        );
        let dry = ok(&ns, &["releases", "promote", "RBBBBBBBBBB", "--dry-run"]).await;
        assert!(
            dry.starts_with("Promoting RBBBBBBBBBB (dry run: nothing changes)\n"),
            "{dry}"
        );
        assert_eq!(
            ns.api::<slipway_crds::App>()
                .get(APP)
                .await
                .unwrap()
                .spec
                .release
                .as_deref(),
            Some(copy.to_lowercase().as_str())
        );
    })
    .await;
}

#[tokio::test]
async fn a_count_range_autoscales_and_ps_shows_the_processes() {
    with_temp_ns("cli-autoscale", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, APP, 60).await;
        create_release(&ns, &app, "rcccccccccc", RANGED, &Default::default()).await;
        promote(&ns, "RCCCCCCCCCC").await;
        let hpa = wait_for(CONVERGE, "the HPA of web", || async {
            ns.api::<HorizontalPodAutoscaler>()
                .get("myapp-web")
                .await
                .map_err(|e| e.to_string())
        })
        .await;
        assert_eq!((hpa.spec.min_replicas, hpa.spec.max_replicas), (Some(1), 4));
        assert!(
            ns.api::<HorizontalPodAutoscaler>()
                .get_opt("myapp-worker")
                .await
                .unwrap()
                .is_none()
        );
        let run = convox(ns.name(), APP, &["scale", "web", "--count", "2"]).await;
        assert_eq!(
            run.error(),
            "web autoscales from 1 to 4 (scale.count in convox.yml): change the range there"
        );

        let ps = ok(&ns, &["ps", "-s", "web"]).await;
        assert!(ps.starts_with("ID  ") || ps.starts_with("ID "), "{ps}");
        let pid = ps
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().next())
            .expect("a web process")
            .to_string();
        let info = ok(&ns, &["ps", "info", &pid]).await;
        assert!(
            info.starts_with(&format!("Id        {pid}\nApp       myapp\n")),
            "{info}"
        );
        assert_eq!(
            ok(&ns, &["ps", "stop", &pid]).await,
            format!("Stopping {pid}... OK\n")
        );
        let run = convox(ns.name(), APP, &["ps", "info", "myapp-nope"]).await;
        assert_eq!(run.error(), "no such process: myapp-nope");
        let run = convox(ns.name(), APP, &["ps", "stop"]).await;
        assert_eq!(run.error(), "1 arg required");
    })
    .await;
}

/// `convox env set` with `lines` on its stdin (a pipe, not a terminal).
async fn env_set_from_stdin(ns: &TestNamespace, lines: &str) -> String {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(operator::binary("convox"))
        .args(["-n", ns.name(), "-a", APP, "env", "set"])
        .env("KUBECONFIG", slipway_tests::kubeconfig_path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("convox");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(lines.as_bytes())
        .await
        .expect("write stdin");
    drop(stdin);
    let out = child.wait_with_output().await.expect("convox env set");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn convox_habits_env_stdin_masks_manifest_cancel_and_the_wait_before_promoting() {
    with_temp_ns("cli-habits", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, APP, 60).await;
        let padded = format!("\n\n{V1}\n\n");
        create_release(&ns, &app, "rdddddddddd", &padded, &Default::default()).await;
        let crashing = format!(
            "{V1}    annotations:\n      - {}=true\n",
            slipway_tests::CRASHLOOP_ANNOTATION
        );
        create_release(&ns, &app, "reeeeeeeeee", &crashing, &Default::default()).await;
        promote(&ns, "RDDDDDDDDDD").await;

        assert_eq!(
            ok(&ns, &["releases", "manifest", "RDDDDDDDDDD"]).await,
            format!("{}\n", V1.trim())
        );
        assert_eq!(
            ok(&ns, &["env"]).await,
            "\n",
            "an empty env is one empty line"
        );
        let out = env_set_from_stdin(&ns, "# from a file\nA=1\nB=x=y\n").await;
        assert!(out.starts_with("Setting A, B... OK\nRelease: R"), "{out}");
        assert_eq!(ok(&ns, &["env"]).await, "A=1\nB=x=y\n");
        let out = ok(&ns, &["env", "mask", "set", "B"]).await;
        assert!(out.starts_with("Masking B... OK\nRelease: R"), "{out}");
        assert_eq!(ok(&ns, &["env", "mask"]).await, "B\n");
        let out = ok(&ns, &["env", "mask", "unset", "B"]).await;
        assert!(out.starts_with("Unmasking B... OK\nRelease: R"), "{out}");
        assert_eq!(ok(&ns, &["env", "mask"]).await, "\n");
        let run = convox(ns.name(), APP, &["env", "mask", "set", "NOPE"]).await;
        assert_eq!(run.error(), "env not found: NOPE");

        assert_eq!(
            ok(&ns, &["apps", "cancel", APP]).await,
            "Nothing to cancel: myapp is running RDDDDDDDDDD\n"
        );

        // A promote while a rollout is in flight waits for it, as Convox does.
        let namespace = ns.name().to_string();
        let bad = tokio::spawn(async move {
            convox(&namespace, APP, &["releases", "promote", "REEEEEEEEEE"]).await
        });
        wait_for(CONVERGE, "the crashing rollout to start", || async {
            let app = ns
                .api::<slipway_crds::App>()
                .get(APP)
                .await
                .map_err(|e| e.to_string())?;
            let phase = app.status.and_then(|s| s.phase);
            if phase == Some(slipway_crds::AppPhase::Updating) {
                Ok(())
            } else {
                Err(format!("{phase:?}"))
            }
        })
        .await;
        let out = ok(&ns, &["releases", "promote", "RDDDDDDDDDD"]).await;
        assert!(
            out.starts_with("Waiting for app to be ready... OK\nPromoting RDDDDDDDDDD... \n")
                && out.ends_with("\nOK\n"),
            "{out}"
        );
        let spec = ns.api::<slipway_crds::App>().get(APP).await.unwrap().spec;
        assert_eq!(spec.release.as_deref(), Some("rdddddddddd"));
        let bad = bad.await.expect("the first promote");
        assert_eq!(bad.error(), "rollback", "{}", bad.stdout);

        // --watch: `Every Ns:`, a blank line and the table, again and again.
        let mut watching = tokio::process::Command::new(operator::binary("convox"))
            .args(["-n", ns.name(), "-a", APP, "releases", "--watch", "1"])
            .env("KUBECONFIG", slipway_tests::kubeconfig_path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("convox releases --watch 1");
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        watching.start_kill().expect("stop the watch");
        let out = watching.wait_with_output().await.expect("watch output");
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.starts_with("Every 1s:\n\nID "), "{out}");
        assert!(out.matches("Every 1s:\n\nID ").count() >= 2, "{out}");
    })
    .await;
}

#[tokio::test]
async fn logs_interleave_the_rollout_events_and_builds_tell_their_story() {
    with_temp_ns("cli-logs", |ns| async move {
        let _operator = operator::start(ns.name());
        create_app(&ns, APP, 60).await;
        let dir = std::env::temp_dir().join(format!("cli-logs-{}", ns.name()));
        std::fs::create_dir_all(&dir).expect("app directory");
        std::fs::write(dir.join("convox.yml"), V1).expect("convox.yml");

        // `convox logs` follows while a deploy rolls out: the rollout's events are interleaved
        // (kwok pods have no containers, so no process lines here; see the real node).
        let mut follower = tokio::process::Command::new(operator::binary("convox"))
            .args(["-n", ns.name(), "-a", APP, "logs"])
            .env("KUBECONFIG", slipway_tests::kubeconfig_path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("convox logs");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let out = ok(&ns, &["deploy", dir.to_str().unwrap()]).await;
        let build = out
            .lines()
            .find_map(|l| l.strip_prefix("Build:   "))
            .expect("a build")
            .to_string();
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        follower.start_kill().expect("stop convox logs");
        let followed = follower
            .wait_with_output()
            .await
            .expect("convox logs output");
        let followed = String::from_utf8_lossy(&followed.stdout).into_owned();
        assert!(
            followed.contains(" system/k8s/app/myapp Status: "),
            "{followed}"
        );
        assert!(followed.contains(" system/k8s/myapp-web "), "{followed}");

        let snapshot = ok(&ns, &["logs", "--no-follow", "--since", "10m"]).await;
        assert!(
            snapshot.contains(" system/k8s/app/myapp Status: "),
            "{snapshot}"
        );
        let filtered = ok(&ns, &["logs", "--no-follow", "--filter", "Scaled up"]).await;
        assert!(
            filtered.lines().all(|l| l.contains("Scaled up")),
            "{filtered}"
        );

        let story = ok(&ns, &["builds", "logs", &build]).await;
        let first = story.lines().next().unwrap_or_default();
        assert!(
            first.ends_with(&format!(" system/k8s/build/{build} Started")),
            "{story}"
        );
        assert!(
            story
                .trim_end()
                .lines()
                .last()
                .unwrap_or_default()
                .contains(" Complete: release R"),
            "{story}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
