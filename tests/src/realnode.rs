//! The test control plane's real node: the images in its registry, and HTTP to real pods.

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;

use crate::cluster::{
    TestNamespace, kubeconfig_path, pod_ready, testenv_dir, wait_for, workspace_root,
};

/// The in-cluster reference, by digest, of an image `testenv up` (or `testenv image NAME`)
/// pushed to the node's registry: `pause`, `busybox`, `testapp` or `operator`.
pub fn image(name: &str) -> String {
    let path = testenv_dir().join("node/images").join(name);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|e| {
            panic!(
                "no image {name} in the node's registry ({}: {e}); run `tests/testenv/testenv up` \
                 (and `tests/testenv/testenv image operator` for the operator)",
                path.display()
            )
        })
}

/// The registry's address in the cluster (pods and the node's containerd pull from it).
pub fn registry() -> String {
    let image = image("testapp");
    image.split('/').next().unwrap_or_default().to_owned()
}

/// A manifest of one `web` service of the test app, answering with `$GREETING`, whose other
/// behaviour `environment` chooses (see tests/testenv/images/testapp.sh).
pub fn testapp_manifest(environment: &[&str], extra: &str) -> String {
    let mut env = vec!["ECHO=GREETING", "GREETING=hello"];
    env.extend(environment);
    let env: String = env.iter().map(|e| format!("      - {e}\n")).collect();
    format!(
        "services:\n  web:\n    image: {}\n    port: 8080\n    health:\n      path: /\n      \
         interval: 2\n      grace: 1\n      timeout: 1\n    environment:\n{env}{extra}",
        image("testapp")
    )
}

/// Runs kubectl against the test control plane and returns its stdout, or what went wrong.
pub fn kubectl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig_path())
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot run kubectl: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The body of what `GET http://SERVICE:PORT/` answers, asked from inside pod `from` through
/// the Service's cluster IP and kube-proxy (busybox nc: the image's wget crashes on
/// non-loopback addresses).
pub fn http_get(ns: &TestNamespace, from: &str, service: &str) -> Result<String, String> {
    http_get_path(ns, from, ns.name(), service, "/")
}

/// The body of what `GET http://SERVICE:PORT/PATH` answers for Service `service` of
/// `namespace`, asked from inside pod `from` of `ns` as [`http_get`] asks.
pub fn http_get_path(
    ns: &TestNamespace,
    from: &str,
    namespace: &str,
    service: &str,
    path: &str,
) -> Result<String, String> {
    let address = kubectl(&[
        "-n",
        namespace,
        "get",
        "service",
        service,
        "-o",
        "jsonpath={.spec.clusterIP} {.spec.ports[0].port}",
    ])?;
    let request = format!("printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address}");
    let response = kubectl(&["-n", ns.name(), "exec", from, "--", "sh", "-c", &request])?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP response: {response:?}"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!(
            "answered {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    Ok(body.trim().to_owned())
}

/// The name of a ready pod of `selector` that is not going away, to ask HTTP questions from.
pub async fn ready_pod(ns: &TestNamespace, selector: &str) -> Result<String, String> {
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| e.to_string())?;
    pods.items
        .iter()
        .find(|p| pod_ready(p) && p.metadata.deletion_timestamp.is_none())
        .and_then(|p| p.metadata.name.clone())
        .ok_or_else(|| format!("no ready pod of {selector}"))
}

/// Waits (a minute at most) until `service` answers `want`, asked from a ready pod of `selector`.
pub async fn wait_answer(ns: &TestNamespace, selector: &str, service: &str, want: &str) -> String {
    let what = format!("{service} to answer {want:?}");
    wait_for(Duration::from_secs(60), &what, || async move {
        let answer = http_get(ns, &ready_pod(ns, selector).await?, service)?;
        if answer == want {
            Ok(answer)
        } else {
            Err(format!("it answers {answer:?}"))
        }
    })
    .await
}

/// The registry as seen from this machine (`127.0.0.1:<port>`), where the CLI pushes sources.
pub fn registry_from_host() -> String {
    let ports = std::fs::read_to_string(testenv_dir().join("ports.env"))
        .expect("ports.env of the running testenv");
    let port = ports
        .lines()
        .find_map(|l| l.strip_prefix("TESTENV_REGISTRY_PORT="))
        .expect("TESTENV_REGISTRY_PORT in ports.env");
    format!("127.0.0.1:{port}")
}

/// The operator flags of a builder that pushes to the node's registry (`testenv image builder`).
pub fn builder_flags() -> Vec<String> {
    [
        "--builder-image",
        &image("builder"),
        "--build-registry",
        &format!("{}/apps", registry()),
        "--build-registry-insecure",
    ]
    .map(String::from)
    .to_vec()
}

/// The environment `convox build` needs here: the registry is reached from this machine
/// through another address than the cluster's, as through a port-forward.
pub fn push_endpoint() -> (&'static str, String) {
    (
        "SLIPWAY_PUSH_ENDPOINT",
        format!("http://{}", registry_from_host()),
    )
}
