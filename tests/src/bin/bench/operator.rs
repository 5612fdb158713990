//! The release-built operator as a process: start, readiness, its metrics, its peak memory and
//! its CPU time.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use slipway_tests::{testenv_dir, workspace_root};

use crate::rbac::Account;

/// A running `slipway-operator`; killed when dropped.
pub struct Operator {
    child: Child,
    port: u16,
}

/// Directory of the benchmarked binaries: `$SLIPWAY_BIN_DIR`, or `target/release`.
pub fn bin_dir() -> PathBuf {
    std::env::var_os("SLIPWAY_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/release"))
}

impl Operator {
    /// Starts the operator as `account`, watching `namespaces`; its log goes to
    /// `$TESTENV_DIR/logs/<log>.log`.
    pub fn start(account: &Account, namespaces: &[&str], log: &str) -> Operator {
        Operator::start_with(account, namespaces, log, &[])
    }

    /// Like [`Operator::start`], with `extra` flags.
    pub fn start_with(
        account: &Account,
        namespaces: &[&str],
        log: &str,
        extra: &[String],
    ) -> Operator {
        let port = free_port();
        let logs = testenv_dir().join("logs");
        std::fs::create_dir_all(&logs).expect("the testenv log folder");
        let log = File::options()
            .create(true)
            .append(true)
            .open(logs.join(format!("{log}.log")))
            .expect("the operator log file");
        let path = bin_dir().join("slipway-operator");
        let child = Command::new(&path)
            .args(["--namespace", &namespaces.join(",")])
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("KUBECONFIG", &account.kubeconfig)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e}): run `make bench`", path.display()));
        Operator { child, port }
    }

    /// Waits until /readyz answers ok; returns how long that took from `since`.
    pub fn wait_ready(&self, since: Instant) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(self.port, "/readyz").as_deref() != Some("ok") {
            assert!(
                Instant::now() < deadline,
                "the operator did not become ready"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        since.elapsed()
    }

    /// The operator's counters, by series (`name{labels}`).
    pub fn metrics(&self) -> Metrics {
        let text = http_get(self.port, "/metrics").unwrap_or_default();
        Metrics(parse_metrics(&text))
    }

    /// Peak resident memory so far (VmHWM), in MiB.
    pub fn peak_mib(&self) -> f64 {
        proc_status_kib(self.child.id(), "VmHWM") / 1024.0
    }

    /// CPU time the process has used so far (user and system, all threads), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        cpu_ticks(&stat) / clock_ticks()
    }

    /// Stops the operator at once, as a crash or an eviction would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A scrape of Prometheus counters.
#[derive(Clone, Debug, Default)]
pub struct Metrics(pub BTreeMap<String, f64>);

impl Metrics {
    /// The sum of every series of `name` whose labels contain each of `labels`.
    pub fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.0
            .iter()
            .filter(|(series, _)| {
                let (n, l) = series.split_once('{').unwrap_or((series, ""));
                n == name && labels.iter().all(|want| l.contains(want))
            })
            .map(|(_, v)| v)
            .sum::<f64>()
            + 0.0
    }

    /// API writes the operator sent: create, update, patch and delete.
    pub fn writes(&self) -> f64 {
        // + 0.0: an empty f64 sum is -0.0, which prints as "-0".
        ["create", "update", "patch", "delete"]
            .iter()
            .map(|verb| self.requests(verb))
            .sum::<f64>()
            + 0.0
    }

    /// API reads the operator sent: get and list (watches apart).
    pub fn reads(&self) -> f64 {
        self.requests("get") + self.requests("list")
    }

    /// API requests of one verb.
    pub fn requests(&self, verb: &str) -> f64 {
        self.sum("slipway_api_requests_total", &[&format!("verb=\"{verb}\"")])
    }

    /// App reconciles run.
    pub fn app_reconciles(&self) -> f64 {
        self.sum("slipway_reconciles_total", &["controller=\"app\""])
    }
}

/// `name{labels} value` lines of the Prometheus text format.
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    // curl is already needed by the test control plane; the operator serves plain HTTP.
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a bound address").port()
}

/// utime + stime of a `/proc/<pid>/stat` line, in clock ticks (fields 14 and 15; the command
/// name in field 2 may hold spaces, so fields are counted after its closing parenthesis).
fn cpu_ticks(stat: &str) -> f64 {
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    tick(11).unwrap_or(0.0) + tick(12).unwrap_or(0.0)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 when that cannot be asked).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

fn proc_status_kib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_counters_by_labels() {
        let m = Metrics(parse_metrics(
            "# HELP x\nslipway_api_requests_total{verb=\"patch\",code=\"200\"} 2\nslipway_api_requests_total{verb=\"patch\",code=\"409\"} 1\nslipway_api_requests_total{verb=\"create\",code=\"201\"} 2\nslipway_api_requests_total{verb=\"get\",code=\"200\"} 7\n",
        ));
        assert_eq!((m.writes(), m.reads()), (5.0, 7.0));
    }

    #[test]
    fn reads_cpu_ticks_after_the_command_name() {
        let stat = "4242 (slipway op) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 31 0 0 20 0 9 0 1";
        assert_eq!(cpu_ticks(stat), 281.0);
        assert_eq!(cpu_ticks(""), 0.0);
    }
}
