//! Runs the real `convox` binary against the test control plane.

use std::process::Stdio;

use tokio::process::Command;

use crate::cluster::kubeconfig_path;
use crate::operator::binary;

/// What one `convox` run printed, and how it ended.
#[derive(Clone, Debug)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// The message after `ERROR: ` on stderr, or all of stderr.
    pub fn error(&self) -> String {
        let text = self.stderr.trim();
        text.lines()
            .find_map(|l| l.strip_prefix("ERROR: "))
            .map_or_else(|| text.to_string(), str::to_string)
    }
}

fn command(namespace: &str, app: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary("convox"));
    cmd.args(["-n", namespace, "-a", app])
        .args(args)
        .env("KUBECONFIG", kubeconfig_path())
        .env_remove("CONVOX_APP")
        .env_remove("CONVOX_RACK")
        .stdin(Stdio::null())
        .current_dir(std::env::temp_dir());
    cmd
}

/// Runs `convox -n namespace -a app args…` with stdout and stderr captured (not a terminal).
pub async fn convox(namespace: &str, app: &str, args: &[&str]) -> Run {
    run_with(namespace, app, args, &[]).await
}

/// Like [`convox`], with extra environment variables (e.g. `EDITOR`).
pub async fn run_with(namespace: &str, app: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = command(namespace, app, args);
    cmd.envs(env.iter().copied());
    let out = cmd
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run convox ({e}): run `cargo build --bins` first"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `convox` on a pseudo-terminal (through `script`), as a person at a terminal sees it;
/// stdout and stderr arrive together in `stdout`.
pub async fn convox_tty(namespace: &str, app: &str, args: &[&str]) -> Run {
    let mut words = vec![
        binary("convox").display().to_string(),
        "-n".into(),
        namespace.into(),
        "-a".into(),
        app.into(),
    ];
    words.extend(args.iter().map(|a| a.to_string()));
    let line = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("KUBECONFIG", kubeconfig_path())
        .env("TERM", "dumb")
        .env_remove("CONVOX_APP")
        .stdin(Stdio::null())
        .current_dir(std::env::temp_dir())
        .output()
        .await
        .expect("`script` (util-linux) runs commands on a pseudo-terminal");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
