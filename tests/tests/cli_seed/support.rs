//! What every step shares: the `convox` binary in the app's directory, what it printed, and
//! the App and Releases it left.

use std::path::PathBuf;

use kube::ResourceExt;
use slipway_crds::{App, Release};
use slipway_tests::{CRASHLOOP_ANNOTATION, TestNamespace, operator};

pub const APP: &str = "myapp";

pub const MANIFEST: &str = "services:
  web:
    image: nginx:1
    command: bin/web
    port: 5000
";

/// What one run of `convox` printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(self, what: &str) -> String {
        assert_eq!(
            self.code, 0,
            "{what} failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Asserts exit 1 with exactly one `ERROR: <message>` line on stderr.
    pub fn error(self, message: &str) {
        assert_eq!(
            self.code, 1,
            "expected failure, got:\n{}\n{}",
            self.stdout, self.stderr
        );
        assert_eq!(
            self.stderr,
            format!("ERROR: {message}\n"),
            "stdout:\n{}",
            self.stdout
        );
    }
}

/// The `convox` binary run in the app's directory, against the test namespace.
pub struct Convox {
    pub namespace: String,
    pub dir: PathBuf,
}

impl Convox {
    pub async fn run(&self, args: &[&str]) -> Run {
        let output = tokio::process::Command::new(operator::binary("convox"))
            .args(args)
            .args(["-n", &self.namespace])
            .current_dir(&self.dir)
            .env("KUBECONFIG", slipway_tests::kubeconfig_path())
            .env_remove("CONVOX_APP")
            .env_remove("CONVOX_RACK")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("run target/debug/convox (build it with `cargo build --bins`)");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
        }
    }
}

/// The ID after `prefix` on the line that starts with it.
pub fn id_after(text: &str, prefix: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"));
    let id = line[prefix.len()..].trim().to_string();
    assert!(
        slipway_crds::id::is_generated(&id) && id == id.to_uppercase(),
        "{id:?} in {line:?}"
    );
    id
}

/// Whether a line is `<RFC3339> system/k8s/<object> <note>`.
pub fn is_event_line(line: &str) -> bool {
    let mut parts = line.splitn(3, ' ');
    let (Some(time), Some(object), Some(note)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    time.len() == 20
        && time.ends_with('Z')
        && time.parse::<jiff::Timestamp>().is_ok()
        && object.starts_with("system/k8s/")
        && !note.is_empty()
}

/// Asserts a followed rollout: `first`, then event lines, then `OK`.
pub fn assert_streamed(stdout: &str, first: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&first), "{stdout}");
    assert_eq!(lines.last(), Some(&"OK"), "{stdout}");
    let events = &lines[1..lines.len() - 1];
    assert!(!events.is_empty(), "no rollout lines:\n{stdout}");
    for line in events {
        assert!(is_event_line(line), "not an event line: {line:?}\n{stdout}");
    }
    assert!(
        events
            .iter()
            .any(|l| l.contains(&format!("system/k8s/{APP}-web"))),
        "no Deployment, ReplicaSet or Pod events:\n{stdout}"
    );
}

pub async fn app(ns: &TestNamespace) -> App {
    ns.api::<App>().get(APP).await.expect("get App")
}

pub async fn active(ns: &TestNamespace) -> Option<String> {
    app(ns).await.status.and_then(|s| s.release)
}

pub async fn release_names(ns: &TestNamespace) -> Vec<String> {
    let mut names: Vec<String> = ns
        .api::<Release>()
        .list(&Default::default())
        .await
        .expect("list releases")
        .items
        .iter()
        .map(|r| r.name_any())
        .collect();
    names.sort();
    names
}

/// The app's directory (named after the app) with its convox.yml files; removed on drop.
pub struct AppDir(pub PathBuf);

impl AppDir {
    pub fn create(ns: &str) -> AppDir {
        let dir = std::env::temp_dir()
            .join(format!("cli-seed-{ns}"))
            .join(APP);
        std::fs::create_dir_all(&dir).expect("app directory");
        std::fs::write(dir.join("convox.yml"), MANIFEST).expect("convox.yml");
        let crashing = format!("{MANIFEST}    annotations:\n      - {CRASHLOOP_ANNOTATION}=true\n");
        std::fs::write(dir.join("crashing.yml"), crashing).expect("crashing.yml");
        AppDir(dir)
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}
