//! `kubectl slipway ...`: kubectl finds `kubectl-slipway` (a link to the convox binary) on the
//! PATH as a plugin, and the CLI then names itself `kubectl slipway` in its usage and help.
#![cfg(feature = "cluster")]

use std::process::Command;

use slipway_tests::slipway::create_app;
use slipway_tests::{kubeconfig_path, operator, testenv_dir, with_temp_ns};

/// Runs `kubectl args` with a PATH whose first folder holds only `kubectl-slipway`.
fn kubectl_with_plugin(args: &[&str]) -> (bool, String) {
    let dir = testenv_dir().join("kubectl-plugin");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("kubectl-slipway");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(operator::binary("convox"), &link).expect("the plugin link");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("kubectl")
        .args(args)
        .env("PATH", path)
        .env("KUBECONFIG", kubeconfig_path())
        .output()
        .expect("kubectl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn kubectl_slipway_is_the_convox_cli_under_kubectls_name() {
    with_temp_ns("kubectl-plugin", |ns| async move {
        let (ok, plugins) = kubectl_with_plugin(&["plugin", "list"]);
        assert!(ok && plugins.contains("kubectl-slipway"), "{plugins}");

        let (ok, help) = kubectl_with_plugin(&["slipway", "--help"]);
        assert!(ok, "{help}");
        assert!(help.contains("Usage: kubectl slipway"), "{help}");
        let (ok, usage) = kubectl_with_plugin(&["slipway", "releases", "--help"]);
        assert!(
            ok && usage.contains("Usage: kubectl slipway releases"),
            "{usage}"
        );

        // The same CLI: it lists the namespace's apps as `convox apps` does.
        let _operator = operator::start(ns.name());
        create_app(&ns, "web", 20).await;
        let (ok, apps) = kubectl_with_plugin(&["slipway", "apps", "-n", ns.name()]);
        assert!(ok, "{apps}");
        assert!(apps.starts_with("APP") && apps.contains("web"), "{apps}");
    })
    .await;
}
