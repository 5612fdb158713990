#![cfg(feature = "cluster")]
//! The seed page (shared/seed/Release.md) step by step, with the real `convox` binary against
//! the test control plane and the real operator: build, env set, releases, info, create-from,
//! promote, manifest, rollback, and the errors a person must see as one `ERROR:` line. One
//! step a module, in the page's order.

mod creating;
mod custom;
mod env;
mod errors;
mod promoting;
mod support;

use slipway_tests::{operator, with_temp_ns};

use support::{AppDir, Convox, release_names};

#[tokio::test]
async fn the_seed_page_step_by_step() {
    with_temp_ns("cli-seed", |ns| async move {
        let _operator = operator::start(ns.name());
        let dir = AppDir::create(ns.name());
        // The app name comes from the directory name, as in Convox.
        let convox = Convox {
            namespace: ns.name().to_string(),
            dir: dir.0.clone(),
        };
        let made = creating::build_and_env_set(&ns, &convox).await;
        custom::create_from(&ns, &convox, &made).await;
        let copy = promoting::promote_and_roll_back(&ns, &convox, &made).await;
        env::id_and_secrets(&ns, &convox).await;
        errors::errors_change_nothing(&ns, &convox, &copy).await;
    })
    .await;
}

#[tokio::test]
async fn concurrent_env_sets_keep_every_change() {
    with_temp_ns("cli-env-race", |ns| async move {
        let dir = AppDir::create(ns.name());
        let convox = Convox {
            namespace: ns.name().to_string(),
            dir: dir.0.clone(),
        };
        convox.run(&["apps", "create"]).await.ok("apps create");
        let keys: Vec<String> = (1..=6).map(|i| format!("K{i}=v{i}")).collect();
        let args: Vec<[&str; 3]> = keys.iter().map(|k| ["env", "set", k.as_str()]).collect();
        let runs = futures::future::join_all(args.iter().map(|a| convox.run(a))).await;
        for run in runs {
            run.ok("a concurrent env set");
        }
        let env = convox.run(&["env"]).await.ok("env");
        assert_eq!(
            env, "K1=v1\nK2=v2\nK3=v3\nK4=v4\nK5=v5\nK6=v6\n",
            "a change was lost"
        );
        // One release per change: the releases that lost a race were deleted.
        assert_eq!(release_names(&ns).await.len(), 6);
    })
    .await;
}
