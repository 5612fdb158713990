//! Runs the real `slipway-operator` binary for one test namespace.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::cluster::{kubeconfig_path, testenv_dir, workspace_root};

/// A running operator; killed (SIGKILL) when dropped.
pub struct Operator {
    namespace: String,
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
    let logs = testenv_dir().join("logs");
    std::fs::create_dir_all(&logs).expect("the testenv log folder");
    let log = File::options()
        .create(true)
        .append(true)
        .open(logs.join(format!("operator-{namespace}.log")))
        .expect("the operator log file");
    let path = binary("slipway-operator");
    let child = Command::new(&path)
        .args(["--namespace", namespace, "--metrics-addr", "127.0.0.1:0"])
        .env("KUBECONFIG", kubeconfig_path())
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
        namespace: namespace.to_string(),
        child,
    }
}

impl Operator {
    /// Kills the operator at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the operator and starts a new one for the same namespace.
    pub fn restart(&mut self) {
        self.kill();
        *self = start(&self.namespace);
    }

    /// The operator's log so far.
    pub fn log(&self) -> String {
        let path = testenv_dir()
            .join("logs")
            .join(format!("operator-{}.log", self.namespace));
        std::fs::read_to_string(path).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}
