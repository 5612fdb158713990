//! The chart's roles for people: a developer builds from source, a viewer may not.

use slipway_tests::{Node, helm, identity, with_temp_ns, with_temp_ns_on};

use super::*;

#[tokio::test]
async fn a_developer_builds_from_source_and_a_viewer_may_not() {
    // Only the chart's roles for people, installed from a kwok namespace (where the chart's
    // operator pod "runs" without an image); the operator runs as admin.
    with_temp_ns("real-devbuild-chart", |home| async move {
        with_temp_ns_on(Node::Real, "real-devbuild", |ns| async move {
            let chart = format!("slipway-{}", home.name());
            let sets = [
                "image.repository=registry.example.com/slipway-operator",
                "image.tag=0.1.0",
                "rbac.create=false",
            ];
            let _installed = helm::install(&chart, home.name(), &sets);
            let _operator = start_builder(&ns);
            app_with_repository(&ns).await;
            let developer = identity::person(&ns, "dev", &[format!("{chart}-developer")]).await;
            let viewer = identity::person(&ns, "vic", &[format!("{chart}-viewer")]).await;
            let dir = write_app(&ns, GOOD_STEPS, MANIFEST);
            let (key, value) = push_endpoint();
            let as_person = |kubeconfig: &Path| {
                let kubeconfig = kubeconfig.display().to_string();
                let dir = dir.display().to_string();
                let (key, value) = (key, value.clone());
                let ns = ns.name().to_string();
                async move {
                    let env = [(key, value.as_str()), ("KUBECONFIG", kubeconfig.as_str())];
                    run_with(&ns, "myapp", &["build", &dir], &env).await
                }
            };

            let viewed = as_person(&viewer).await;
            assert_eq!(viewed.code, 1, "a viewer may not build: {}", viewed.stdout);
            assert!(
                viewed.error().starts_with("permission denied"),
                "{}",
                viewed.error()
            );

            // No Secret and no pod log rights: the build runs, and the CLI says where its log is.
            let built = as_person(&developer).await;
            assert!(
                built.ok(),
                "a developer builds: {}\n{}",
                built.error(),
                built.stdout
            );
            assert!(
                built
                    .stdout
                    .contains("the build's log cannot be shown: permission denied"),
                "{}",
                built.stdout
            );
            let release = printed(&built, "Release:");
            assert!(ns.api::<Release>().get(&release).await.is_ok());
            std::fs::remove_dir_all(&dir).unwrap();
        })
        .await;
    })
    .await;
}
