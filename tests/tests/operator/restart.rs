//! Restarts: a killed operator finishes the rollout; a converged App costs no writes.

use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use kube::api::ListParams;
use slipway_crds::App;
use slipway_tests::slipway::{CONVERGE, create_app, create_release, promote, running, wait_app};
use slipway_tests::{operator, wait_for, with_temp_ns};

use super::*;

#[tokio::test]
async fn a_restarted_operator_finishes_the_rollout_and_a_converged_app_costs_no_writes() {
    with_temp_ns("op-restart", |ns| async move {
        let mut operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        create_release(&ns, &app, "rfirstfirst", TWO_SERVICES, &env(&[])).await;
        create_release(
            &ns,
            &app,
            "rsecondseco",
            TWO_SERVICES,
            &env(&[("FOO", "2")]),
        )
        .await;
        promote(&ns, "myapp", "rfirstfirst").await;
        wait_app(
            &ns,
            "myapp",
            "the first release to run",
            running("rfirstfirst"),
        )
        .await;

        // Killed mid-rollout, a new operator finishes it with no duplicated objects.
        promote(&ns, "myapp", "rsecondseco").await;
        wait_app(&ns, "myapp", "the rollout to start", |s| match &s.rollout {
            Some(r) if r.release == "rsecondseco" => Ok(()),
            _ if s.release.as_deref() == Some("rsecondseco") => Ok(()),
            _ => Err("not started".into()),
        })
        .await;
        operator.restart();
        wait_app(
            &ns,
            "myapp",
            "the second release to run",
            running("rsecondseco"),
        )
        .await;
        assert_eq!(
            generations(&ns).await.len(),
            2,
            "one Deployment per service"
        );
        assert_eq!(
            ns.api::<Service>()
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
            1
        );

        // A converged App costs no writes on restart.
        let app_version = ns
            .api::<App>()
            .get("myapp")
            .await
            .unwrap()
            .resource_version();
        let before = generations(&ns).await;
        let seen = operator.log().matches("Reconciled").count();
        operator.restart();
        wait_for(CONVERGE, "the new operator to reconcile", || {
            let count = operator.log().matches("Reconciled").count();
            async move { if count > seen { Ok(()) } else { Err("not yet") } }
        })
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            ns.api::<App>()
                .get("myapp")
                .await
                .unwrap()
                .resource_version(),
            app_version
        );
        assert_eq!(generations(&ns).await, before);
    })
    .await;
}
