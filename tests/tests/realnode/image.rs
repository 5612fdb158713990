//! The operator's image, built without a container engine, against the Dockerfile that users
//! with docker build from: the same entrypoint, user, port, binary path and OCI labels, no shell.

use std::process::Command;

use slipway_tests::workspace_root;

/// The argument of the first `instruction` in the Dockerfile's final stage.
fn dockerfile_final(instruction: &str) -> String {
    let dockerfile =
        std::fs::read_to_string(workspace_root().join("Dockerfile")).expect("Dockerfile");
    let mut found = None;
    for line in dockerfile.lines() {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        if word.eq_ignore_ascii_case("FROM") {
            found = None;
        } else if word.eq_ignore_ascii_case(instruction) && found.is_none() {
            found = Some(rest.trim().to_owned());
        }
    }
    found.unwrap_or_else(|| panic!("no {instruction} in the Dockerfile's final stage"))
}

/// The arguments of every `instruction` in the Dockerfile's final stage.
fn dockerfile_all(instruction: &str) -> Vec<String> {
    let dockerfile =
        std::fs::read_to_string(workspace_root().join("Dockerfile")).expect("Dockerfile");
    let mut found = vec![];
    for line in dockerfile.lines() {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        if word.eq_ignore_ascii_case("FROM") {
            found.clear();
        } else if word.eq_ignore_ascii_case(instruction) {
            found.push(rest.trim().to_owned());
        }
    }
    found
}

/// Runs `sh -c script` with `$CRANE` set to the testenv's crane, and returns its stdout.
fn with_crane(script: &str) -> String {
    let path = Command::new(workspace_root().join("tests/testenv/testenv"))
        .args(["path", "crane"])
        .output()
        .expect("testenv path crane");
    let out = Command::new("sh")
        .args(["-c", script])
        .env("CRANE", String::from_utf8_lossy(&path.stdout).trim())
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_operator_image_matches_the_dockerfile() {
    let in_cluster = slipway_tests::realnode::image("operator");
    let digest = in_cluster.split_once('@').expect("by digest").1;
    let reference = format!(
        "{}/slipway/operator@{digest}",
        slipway_tests::realnode::registry_from_host()
    );

    let config = with_crane(&format!("\"$CRANE\" --insecure config {reference}"));
    let config: serde_json::Value = serde_json::from_str(&config).expect("the image config");
    let config = &config["config"];
    let entrypoint: Vec<String> =
        serde_json::from_str(&dockerfile_final("ENTRYPOINT")).expect("ENTRYPOINT in exec form");
    assert_eq!(config["Entrypoint"], serde_json::json!(entrypoint));
    assert_eq!(config["User"], dockerfile_final("USER").as_str());
    let exposed = format!("{}/tcp", dockerfile_final("EXPOSE"));
    assert!(
        config["ExposedPorts"].get(&exposed).is_some(),
        "{exposed}: {config}"
    );
    // Every LABEL of the Dockerfile's final stage, its build arguments filled in as docker
    // would: the version from Cargo.toml, the revision the commit built.
    let cargo = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let version = cargo
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("the workspace version");
    assert!(
        dockerfile_all("ARG").contains(&format!("VERSION={version}")),
        "the Dockerfile's VERSION default is Cargo.toml's {version}"
    );
    let labels = dockerfile_all("LABEL");
    assert!(labels.len() >= 3, "{labels:?}");
    for label in labels {
        let (key, value) = label.split_once('=').expect("LABEL key=value");
        let got = config["Labels"][key].as_str().unwrap_or_default();
        match value.trim_matches('"') {
            "${VERSION}" => assert_eq!(got, version, "{key}"),
            "${REVISION}" => assert!(
                got.len() == 40 && got.chars().all(|c| c.is_ascii_hexdigit()),
                "{key} is a commit: {got:?}"
            ),
            literal => assert_eq!(got, literal, "{key}"),
        }
    }
    assert_eq!(
        config["Labels"]["org.opencontainers.image.source"],
        "https://github.com/slipway-dev/slipway"
    );

    let files = with_crane(&format!(
        "\"$CRANE\" --insecure export {reference} - | tar -t"
    ));
    let files: Vec<&str> = files.lines().map(|f| f.trim_start_matches("./")).collect();
    let copy = dockerfile_final("COPY");
    let binary = copy.split_whitespace().last().expect("COPY's destination");
    assert!(
        files.contains(&binary.trim_start_matches('/')),
        "{binary} in {files:?}"
    );
    assert!(
        files.contains(&"etc/ssl/certs/ca-certificates.crt"),
        "CA certificates"
    );
    assert!(
        !files.iter().any(|f| f.ends_with("bin/sh")),
        "no shell: {files:?}"
    );
}
