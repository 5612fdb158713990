//! The example's promise on real pods: a release's env reaches the running app, and
//! `convox env set ... --promote` visibly changes what it answers through its Service.

use slipway_crds::env::Env;
use slipway_tests::cli::convox;
use slipway_tests::realnode::{testapp_manifest, wait_answer};
use slipway_tests::slipway::{create_app, create_release, running, wait_app};
use slipway_tests::{Node, TestNamespace, operator, with_temp_ns_on};

#[tokio::test]
async fn env_set_promote_changes_what_a_real_app_answers() {
    with_temp_ns_on(Node::Real, "real-http", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        let manifest = testapp_manifest(&[], "    scale:\n      count: 2\n");
        create_release(&ns, &app, "rhellohello", &manifest, &Env::new()).await;
        let first = convox(ns.name(), "myapp", &["releases", "promote", "RHELLOHELLO"]).await;
        assert!(first.ok(), "promote failed: {}", first.error());
        wait_app(
            &ns,
            "myapp",
            "the first release to run",
            running("rhellohello"),
        )
        .await;
        assert_eq!(
            answer(&ns, "hello").await,
            "hello",
            "the manifest's default"
        );

        let set = convox(
            ns.name(),
            "myapp",
            &["env", "set", "GREETING=hi", "--promote"],
        )
        .await;
        assert!(set.ok(), "env set failed: {}", set.error());
        answer(&ns, "hi").await;
        // Every pod of the new release answers the same.
        for _ in 0..6 {
            assert_eq!(answer(&ns, "hi").await, "hi");
        }
    })
    .await;
}

async fn answer(ns: &TestNamespace, want: &str) -> String {
    wait_answer(ns, "slipway.dev/app=myapp", "myapp-web", want).await
}
