//! The test control plane itself: control planes started at the same instant do not collide,
//! each rolls a Deployment on its real node, and `up` + `down` leave the host as it was.
//! Ignored by default (it starts clusters of its own); `make cluster` runs it alone, first.
#![cfg(feature = "cluster")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_tests::workspace_root;

const PLANES: usize = 3;

#[test]
#[ignore = "starts control planes of its own: run alone with --ignored"]
fn three_control_planes_at_once_roll_deployments_and_leave_the_host_as_it_was() {
    let before = host_state();
    for (what, state) in &before[..4] {
        assert!(!state.is_empty(), "could not read the host's {what}");
    }
    let dirs: Vec<PathBuf> = (0..PLANES)
        .map(|i| workspace_root().join(format!("target/testenv-parallel-{i}")))
        .collect();
    let ups: Vec<_> = dirs
        .iter()
        .map(|dir| {
            let dir = dir.clone();
            std::thread::spawn(move || testenv(&dir, &["up"]))
        })
        .collect();
    let results: Vec<Result<String, String>> = ups
        .into_iter()
        .map(|t| t.join().expect("up thread"))
        .collect();

    let mut namespaces = Vec::new();
    let mut failures = Vec::new();
    for (dir, result) in dirs.iter().zip(&results) {
        match result {
            Ok(_) => {
                namespaces.push((read(dir, "node/mntns"), read(dir, "node/cgroup-root")));
                if let Err(e) = roll_a_deployment(dir) {
                    failures.push(format!("{}: {e}", dir.display()));
                }
            }
            Err(e) => failures.push(format!("{}: up failed: {e}", dir.display())),
        }
    }
    let downs: Vec<_> = dirs
        .iter()
        .map(|dir| {
            let dir = dir.clone();
            std::thread::spawn(move || testenv(&dir, &["down"]))
        })
        .collect();
    for (dir, down) in dirs.iter().zip(downs) {
        if let Err(e) = down.join().expect("down thread") {
            failures.push(format!("{}: down failed: {e}", dir.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    for (mntns, cgroup_root) in &namespaces {
        let left = processes_in(mntns);
        assert!(
            left.is_empty(),
            "processes of the node outlived down: {left:?}"
        );
        let cgroups = glob_dirs("/sys/fs/cgroup", cgroup_root);
        assert!(
            cgroups.is_empty(),
            "cgroups of the node outlived down: {cgroups:?}"
        );
    }
    let after = host_state();
    for ((what, was), (_, is)) in before.iter().zip(&after) {
        let gone: Vec<_> = was.difference(is).collect();
        let new: Vec<_> = is.difference(was).collect();
        assert!(
            gone.is_empty() && new.is_empty(),
            "the host's {} changed: gone {gone:#?}, new {new:#?}",
            what
        );
    }
}

/// `tests/testenv/testenv ARGS` with its own TESTENV_DIR.
fn testenv(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(workspace_root().join("tests/testenv/testenv"))
        .args(args)
        .env("TESTENV_DIR", dir)
        .output()
        .map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// A Deployment of the test app on the real node rolls out, then rolls again.
fn roll_a_deployment(dir: &Path) -> Result<(), String> {
    let image = read(dir, "node/images/testapp");
    let kubeconfig = dir.join("kubeconfig");
    let kubectl = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("kubectl")
            .args([
                "--kubeconfig",
                kubeconfig.to_str().unwrap_or_default(),
                "-n",
                "testenv-real",
            ])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        out.status
            .success()
            .then_some(())
            .ok_or_else(|| format!("kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    kubectl(&[
        "create",
        "deployment",
        "roll",
        &format!("--image={image}"),
        "--replicas=2",
    ])?;
    kubectl(&["rollout", "status", "deployment/roll", "--timeout=90s"])?;
    kubectl(&["set", "env", "deployment/roll", "ROUND=2"])?;
    kubectl(&["rollout", "status", "deployment/roll", "--timeout=90s"])
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
        .trim()
        .to_owned()
}

/// What the node must leave as it was: sysctls, mounts, links, addresses, routes, firewall.
fn host_state() -> Vec<(&'static str, BTreeSet<String>)> {
    let lines = |text: String| text.lines().map(str::to_owned).collect::<BTreeSet<_>>();
    let firewall = |tool: &str| {
        lines(command(tool, &[]))
            .into_iter()
            .filter(|l| !l.starts_with('#'))
            // Packet counters move with any traffic.
            .map(|l| l.split(" [").next().unwrap_or_default().to_owned())
            .collect()
    };
    vec![
        ("sysctls", sysctls()),
        (
            "mounts",
            lines(std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()),
        ),
        ("links", lines(command("ip", &["-o", "link", "show"]))),
        (
            "addresses",
            lines(command("ip", &["-o", "address", "show"])),
        ),
        (
            "routes",
            lines(command("ip", &["route", "show", "table", "all"])),
        ),
        ("iptables rules", firewall("iptables-save")),
        ("ip6tables rules", firewall("ip6tables-save")),
    ]
}

fn command(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every readable sysctl but the counters and random values the kernel changes by itself.
fn sysctls() -> BTreeSet<String> {
    const MOVING: [&str; 10] = [
        "fs/dentry-state",
        "fs/inode-nr",
        "fs/inode-state",
        "fs/file-nr",
        "fs/aio-nr",
        "kernel/random/",
        "kernel/ns_last_pid",
        "kernel/pty/nr",
        "net/netfilter/nf_conntrack_count",
        "fs/quota/",
    ];
    let mut values = BTreeSet::new();
    let mut stack = vec![PathBuf::from("/proc/sys")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let key = path
                .strip_prefix("/proc/sys")
                .unwrap_or(&path)
                .display()
                .to_string();
            if MOVING.iter().any(|m| key.starts_with(m)) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(value) = std::fs::read_to_string(&path) {
                values.insert(format!("{key} = {}", value.trim()));
            }
        }
    }
    values
}

fn processes_in(mntns: &str) -> Vec<String> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    procs
        .flatten()
        .filter(|p| {
            p.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|p| {
            std::fs::read_link(p.path().join("ns/mnt"))
                .is_ok_and(|ns| ns.to_string_lossy() == mntns)
        })
        .map(|p| {
            let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).replace('\0', " ")
        })
        .collect()
}

fn glob_dirs(root: &str, name: &str) -> Vec<PathBuf> {
    let Ok(hierarchies) = std::fs::read_dir(root) else {
        return vec![];
    };
    hierarchies
        .flatten()
        .map(|h| h.path().join(name))
        .filter(|p| p.exists())
        .collect()
}
