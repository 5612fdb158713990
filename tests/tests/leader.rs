//! Leader election: of two operators with `--leader-elect`, one works and the other waits
//! (`slipway_leader` 1 and 0), and the waiting one takes over when the leader dies, as soon as
//! the Lease of `--lease-duration` expires.
#![cfg(feature = "cluster")]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use slipway_tests::operator::binary;
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{kubeconfig_path, testenv_dir, wait_for, with_temp_ns};

const MANIFEST: &str = "services:\n  web:\n    image: nginx:1\n";

/// The Lease's duration: a dead leader is replaced within it (the default is 30 s).
const LEASE_SECONDS: u64 = 8;

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
                "--lease-duration",
                &LEASE_SECONDS.to_string(),
                "--lease-grace",
                "2",
            ])
            .args(["--lease-namespace", namespace])
            .env("KUBECONFIG", kubeconfig_path())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start slipway-operator");
        Candidate { child, log }
    }

    /// The `slipway_leader` line of its /metrics, once it serves them.
    fn leader_gauge(&self) -> Result<String, String> {
        let log = std::fs::read_to_string(&self.log).map_err(|e| e.to_string())?;
        let line = log
            .lines()
            .rfind(|l| l.contains("Serving /metrics"))
            .ok_or("not serving yet")?;
        let port: String = line
            .split("127.0.0.1:")
            .nth(1)
            .ok_or("no address")?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let out = Command::new("curl")
            .args(["-s", &format!("http://127.0.0.1:{port}/metrics")])
            .output()
            .map_err(|e| e.to_string())?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("slipway_leader "))
            .map(str::to_string)
            .ok_or_else(|| "no slipway_leader".to_string())
    }

    /// Waits until its `slipway_leader` reads `want`.
    async fn gauge_reads(&self, want: &str) {
        wait_for(Duration::from_secs(30), want, || async {
            let line = self.leader_gauge()?;
            if line == want { Ok(()) } else { Err(line) }
        })
        .await;
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
        first.gauge_reads("slipway_leader 1").await;
        second.gauge_reads("slipway_leader 0").await;

        drop(first);
        let died = std::time::Instant::now();
        wait_for(
            Duration::from_secs(120),
            "the second operator to take over",
            || {
                let leads = second.leads();
                async move { if leads { Ok(()) } else { Err("still waiting") } }
            },
        )
        .await;
        // Not the default 30 s: the Lease lasted --lease-duration.
        assert!(
            died.elapsed() < Duration::from_secs(LEASE_SECONDS * 3),
            "took over after {:?}",
            died.elapsed()
        );
        second.gauge_reads("slipway_leader 1").await;
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
