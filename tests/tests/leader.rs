//! Leader election: of two operators with `--leader-elect`, one works and the other waits,
//! and the waiting one takes over when the leader dies.
#![cfg(feature = "cluster")]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use slipway_tests::operator::binary;
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{kubeconfig_path, testenv_dir, wait_for, with_temp_ns};

const MANIFEST: &str = "services:\n  web:\n    image: nginx:1\n";

struct Candidate {
    child: Child,
    log: std::path::PathBuf,
}

impl Candidate {
    fn start(namespace: &str, name: &str) -> Candidate {
        let log = testenv_dir()
            .join("logs")
            .join(format!("operator-{namespace}-{name}.log"));
        let file = std::fs::File::create(&log).expect("operator log");
        let child = Command::new(binary("slipway-operator"))
            .args([
                "--namespace",
                namespace,
                "--metrics-addr",
                "127.0.0.1:0",
                "--leader-elect",
            ])
            .args(["--lease-namespace", namespace])
            .env("KUBECONFIG", kubeconfig_path())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start slipway-operator");
        Candidate { child, log }
    }

    fn leads(&self) -> bool {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .contains("Became leader")
    }
}

impl Drop for Candidate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn one_leader_works_and_the_other_takes_over_when_it_dies() {
    with_temp_ns("op-leader", |ns| async move {
        let first = Candidate::start(ns.name(), "a");
        wait_for(
            Duration::from_secs(60),
            "the first operator to lead",
            || {
                let leads = first.leads();
                async move { if leads { Ok(()) } else { Err("no leader yet") } }
            },
        )
        .await;
        let second = Candidate::start(ns.name(), "b");
        let app = create_app(&ns, "myapp", 60).await;
        create_release(&ns, &app, "rleaderlead", MANIFEST, &Default::default()).await;
        promote(&ns, "myapp", "rleaderlead").await;
        wait_app(
            &ns,
            "myapp",
            "the leader to roll out",
            running("rleaderlead"),
        )
        .await;
        assert!(!second.leads(), "only one operator leads at a time");

        drop(first);
        // The Lease must expire first (30 s by default), so this wait is long.
        wait_for(
            Duration::from_secs(120),
            "the second operator to take over",
            || {
                let leads = second.leads();
                async move { if leads { Ok(()) } else { Err("still waiting") } }
            },
        )
        .await;
        create_release(
            &ns,
            &app,
            "rleadertwoo",
            MANIFEST.replace("nginx:1", "nginx:2").as_str(),
            &Default::default(),
        )
        .await;
        promote(&ns, "myapp", "rleadertwoo").await;
        wait_app(
            &ns,
            "myapp",
            "the new leader to roll out",
            running("rleadertwoo"),
        )
        .await;
    })
    .await;
}
