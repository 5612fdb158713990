#![cfg(feature = "cluster")]
//! Issue 14 on the real node (containers run): `convox logs` following every process with new
//! ones joining, `convox run` passing the exit status through and cleaning up, `--detach`,
//! `convox exec`, and the rollback diagnosis naming the crash with its last lines.

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use slipway_crds::labels;
use slipway_tests::cli::{convox, convox_tty};
use slipway_tests::realnode::testapp_manifest;
use slipway_tests::slipway::{CONVERGE, create_app, create_release, running, wait_app};
use slipway_tests::{Node, TestNamespace, operator, wait_for, with_temp_ns_on};

const APP: &str = "myapp";

async fn ok(ns: &TestNamespace, args: &[&str]) -> String {
    let run = convox(ns.name(), APP, args).await;
    assert!(run.ok(), "convox {args:?}: {}{}", run.stdout, run.stderr);
    run.stdout
}

/// `convox logs` with `args`, stopped after `for_secs` seconds while `meanwhile` runs.
async fn follow_logs<F: Future<Output = ()>>(
    ns: &TestNamespace,
    for_secs: u64,
    meanwhile: F,
) -> String {
    let mut child = tokio::process::Command::new(operator::binary("convox"))
        .args(["-n", ns.name(), "-a", APP, "logs", "--since", "1m"])
        .env("KUBECONFIG", slipway_tests::kubeconfig_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("convox logs");
    meanwhile.await;
    tokio::time::sleep(Duration::from_secs(for_secs)).await;
    child.start_kill().expect("stop convox logs");
    let out = child.wait_with_output().await.expect("convox logs output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The pod names of `service/web/<pod>` lines.
fn web_pods(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter_map(|l| {
            l.split(' ')
                .nth(1)?
                .strip_prefix("service/web/")
                .map(str::to_string)
        })
        .collect()
}

async fn run_pods(ns: &TestNamespace) -> usize {
    let params = ListParams::default().labels(labels::RUN_SERVICE);
    ns.api::<Pod>()
        .list(&params)
        .await
        .expect("pods")
        .items
        .len()
}

#[tokio::test]
async fn logs_run_exec_and_the_rollback_diagnosis_on_real_pods() {
    with_temp_ns_on(Node::Real, "cli-real", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, APP, 120).await;
        let ticking = testapp_manifest(&["TICK=1"], "");
        let crashing = testapp_manifest(&["EXIT_AFTER=0", "EXIT_CODE=3"], "");
        create_release(&ns, &app, "raaaaaaaaaa", &ticking, &Default::default()).await;
        create_release(&ns, &app, "rbbbbbbbbbb", &crashing, &Default::default()).await;
        ok(&ns, &["releases", "promote", "RAAAAAAAAAA"]).await;
        wait_app(&ns, APP, "the ticking release", running("raaaaaaaaaa")).await;

        // logs: what there is, then following while a restart brings new processes.
        let snapshot = ok(&ns, &["logs", "--no-follow", "-s", "web", "--since", "1m"]).await;
        assert!(
            snapshot
                .lines()
                .any(|l| l.contains(" service/web/myapp-web-")
                    && l.ends_with("testapp: starting (release RAAAAAAAAAA)")),
            "{snapshot}"
        );
        let tail = ok(
            &ns,
            &["logs", "--no-follow", "--tail", "1", "--filter", "tick"],
        )
        .await;
        assert!(
            tail.lines().count() == 1 && tail.contains(" tick "),
            "{tail}"
        );
        let followed = follow_logs(&ns, 12, async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            ok(&ns, &["restart", "web"]).await;
        })
        .await;
        assert!(
            web_pods(&followed).len() >= 2,
            "a new process joins the stream:\n{followed}"
        );
        assert!(
            followed.contains(" system/k8s/myapp-web "),
            "events interleaved:\n{followed}"
        );

        // run: the output, the exit status passed through, the pod gone afterwards.
        let run = convox(
            ns.name(),
            APP,
            &["run", "web", "echo", "hello from $SERVICE;", "exit", "3"],
        )
        .await;
        assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
        assert_eq!(run.stdout, "hello from web\n");
        assert_eq!(
            run.stderr, "",
            "no ERROR line for a command's own exit status"
        );
        wait_for(CONVERGE, "the one-off pod to go", || async {
            match run_pods(&ns).await {
                0 => Ok(()),
                n => Err(format!("{n} run pods")),
            }
        })
        .await;
        assert_eq!(ok(&ns, &["run", "web", "true"]).await, "");
        // On a terminal: attached (raw mode through stty), the status passed through; a command
        // that ends before the attach still shows its output.
        let tty = convox_tty(
            ns.name(),
            APP,
            &[
                "run",
                "web",
                "sleep",
                "2;",
                "echo",
                "attached;",
                "exit",
                "5",
            ],
        )
        .await;
        assert_eq!(tty.code, 5, "{}", tty.stdout);
        assert!(tty.stdout.contains("attached"), "{}", tty.stdout);
        let quick = convox_tty(
            ns.name(),
            APP,
            &["run", "web", "echo", "quick;", "exit", "6"],
        )
        .await;
        assert_eq!(quick.code, 6, "{}", quick.stdout);
        assert!(quick.stdout.contains("quick"), "{}", quick.stdout);
        let detached = ok(&ns, &["run", "web", "--detach", "sleep", "30"]).await;
        let pid = detached
            .strip_prefix("Running detached process... OK, ")
            .expect(&detached)
            .trim()
            .to_string();
        assert!(pid.starts_with("myapp-web-run-"), "{pid}");
        let ps = ok(&ns, &["ps"]).await;
        assert!(
            ps.lines()
                .any(|l| l.starts_with(&pid) && l.contains(" web ")),
            "{ps}"
        );

        // exec: into a running process of the service, its exit status passed through.
        let web = ps
            .lines()
            .find(|l| {
                l.starts_with("myapp-web-")
                    && !l.starts_with("myapp-web-run-")
                    && l.contains(" running ")
            })
            .expect(&ps);
        let web = web.split_whitespace().next().unwrap();
        let exec = convox(
            ns.name(),
            APP,
            &["exec", web, "echo", "$RELEASE;", "exit", "4"],
        )
        .await;
        assert_eq!(
            (exec.code, exec.stdout.as_str()),
            (4, "RAAAAAAAAAA\n"),
            "{}",
            exec.stderr
        );
        ok(&ns, &["ps", "stop", &pid]).await;

        // A crash rolled back: why, with the crashed container's last lines, before the error.
        let bad = convox(ns.name(), APP, &["releases", "promote", "RBBBBBBBBBB"]).await;
        assert_eq!(bad.error(), "rollback", "{}", bad.stdout);
        let why = bad
            .stdout
            .lines()
            .find(|l| l.starts_with("Rolled back: process myapp-web-"))
            .expect(&bad.stdout);
        assert!(
            why.contains("of service web failed: ") && why.contains("exit code 3"),
            "{}",
            bad.stdout
        );
        assert!(
            bad.stdout.contains("\n  testapp: exiting with 3\n"),
            "{}",
            bad.stdout
        );
    })
    .await;
}
