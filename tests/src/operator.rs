//! Runs the real `slipway-operator` binary for one test namespace.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::cluster::{kubeconfig_path, testenv_dir, workspace_root};

/// A running operator; killed (SIGKILL) when dropped.
pub struct Operator {
    name: String,
    namespace: String,
    kubeconfig: PathBuf,
    args: Vec<String>,
    child: Child,
}

/// Path of a binary built by `cargo build --bins`.
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug").join(name)
}

/// Starts the operator watching only `namespace`; its log goes to `$TESTENV_DIR/logs/operator-<ns>.log`.
pub fn start(namespace: &str) -> Operator {
    start_as(namespace, namespace, &kubeconfig_path(), &[])
}

/// Starts the operator watching only `namespace` with the credentials of `kubeconfig` and
/// `extra` flags; its log goes to `$TESTENV_DIR/logs/operator-<name>.log`.
pub fn start_as(name: &str, namespace: &str, kubeconfig: &Path, extra: &[&str]) -> Operator {
    let logs = testenv_dir().join("logs");
    std::fs::create_dir_all(&logs).expect("the testenv log folder");
    let log = File::options()
        .create(true)
        .append(true)
        .open(logs.join(format!("operator-{name}.log")))
        .expect("the operator log file");
    let path = binary("slipway-operator");
    let child = Command::new(&path)
        .args(["--namespace", namespace, "--metrics-addr", "127.0.0.1:0"])
        .args(extra)
        .env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "info,kube=warn,slipway_operator=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): run `cargo build --bins` first",
                path.display()
            )
        });
    Operator {
        name: name.to_string(),
        namespace: namespace.to_string(),
        kubeconfig: kubeconfig.to_path_buf(),
        args: extra.iter().map(|a| a.to_string()).collect(),
        child,
    }
}

impl Operator {
    /// Kills the operator at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the operator and starts a new one with the same namespace, credentials and flags.
    pub fn restart(&mut self) {
        self.kill();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        *self = start_as(&self.name, &self.namespace, &self.kubeconfig, &args);
    }

    /// The operator's log so far.
    pub fn log(&self) -> String {
        let path = testenv_dir()
            .join("logs")
            .join(format!("operator-{}.log", self.name));
        std::fs::read_to_string(path).unwrap_or_default()
    }
}

impl Operator {
    /// The operator's peak resident memory so far (VmHWM of its process), in MiB.
    pub fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()));
        let kib = status.unwrap_or_default().lines().find_map(|l| {
            let v = l.strip_prefix("VmHWM:")?;
            v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()
        });
        kib.unwrap_or(0.0) / 1024.0
    }

    /// The `host:port` of /metrics, /healthz and /readyz, once the operator has logged it.
    pub fn metrics_addr(&self) -> Option<String> {
        let log = self.log();
        // The last one: a restarted operator appends to the same log.
        let line = log.lines().rfind(|l| l.contains("Serving /metrics"))?;
        // The line may carry colour codes; the address is the loopback one it names.
        let port: String = line
            .split("127.0.0.1:")
            .nth(1)?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(format!("127.0.0.1:{port}"))
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}
