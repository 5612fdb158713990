//! Secrecy and least privilege. The operator runs as the chart's ServiceAccount with the chart's
//! RBAC and nothing more, through env changes, a deploy, an automatic rollback and a rollback;
//! sentinel values set through the CLI never appear in any Slipway object, Event, Deployment,
//! Pod or operator log, and a secret key's value not in what a person sees on a terminal.
//! A person bound to the chart's viewer role reads no env value and changes nothing.
#![cfg(feature = "cluster")]

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::ListParams;
use serde::Serialize;
use serde::de::DeserializeOwned;
use slipway_crds::{App, Build, Release};
use slipway_tests::cli::{convox, convox_tty};
use slipway_tests::reliability::generations;
use slipway_tests::slipway::{create_app, create_release, running, wait_app};
use slipway_tests::{TestNamespace, helm, identity, operator, with_temp_ns};

const IMAGE: [&str; 2] = [
    "image.repository=registry.example.com/slipway-operator",
    "image.tag=0.1.0",
];
const MANIFEST: &str =
    "services:\n  web:\n    image: nginx:1\n    port: 80\n  worker:\n    image: busybox:1\n";
const CRASHING: &str = "services:\n  web:\n    image: nginx:1\n    port: 80\n    annotations:\n      - testenv.slipway.dev/crashloop=true\n  worker:\n    image: busybox:1\n";

/// Every object of kind `K` in `ns`, as JSON text.
async fn dump<K>(ns: &TestNamespace) -> String
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    let items = ns
        .api::<K>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    serde_json::to_string(&items).unwrap()
}

async fn release_names(ns: &TestNamespace) -> Vec<String> {
    let list = ns
        .api::<Release>()
        .list(&ListParams::default())
        .await
        .unwrap();
    list.items
        .iter()
        .filter_map(|r| r.metadata.name.clone())
        .collect()
}

async fn latest_release(ns: &TestNamespace) -> String {
    let app = ns.api::<App>().get("myapp").await.unwrap();
    app.spec.release.unwrap_or_default()
}

async fn wait_settled(ns: &TestNamespace, what: &str) {
    wait_app(ns, "myapp", what, |s| {
        let moving = s.rollout.is_some();
        if !moving && s.phase.is_some() {
            Ok(())
        } else {
            Err("moving".into())
        }
    })
    .await;
}

#[tokio::test]
async fn sentinels_set_through_the_cli_never_leak_and_the_operator_needs_only_the_charts_rbac() {
    with_temp_ns("secrecy-home", |home| async move {
        with_temp_ns("secrecy", |ns| async move {
            let release = format!("slipway-{}", home.name());
            let watch = format!("watchNamespaces={{{}}}", ns.name());
            let mut sets = IMAGE.to_vec();
            sets.push(watch.as_str());
            let installed = helm::install(&release, home.name(), &sets);
            let token = identity::token(home.client(), home.name(), &release).await;
            let kubeconfig =
                identity::write_kubeconfig(&format!("sa-{}", ns.name()), &token, ns.name());
            let operator = operator::start_as(ns.name(), ns.name(), &kubeconfig, &[]);
            create_app(&ns, "myapp", 30).await;

            let plain = format!("plain-sentinel-{}", ns.name());
            let secret = format!("secret-sentinel-{}", ns.name());
            let dir = std::env::temp_dir().join(format!("slipway-{}", ns.name()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("convox.yml"), MANIFEST).unwrap();
            let app_dir = dir.display().to_string();
            let mut said = String::new();
            // A deploy (the operator turns the Build into a Release), env changes, a deploy
            // that crash-loops and is rolled back by itself, and a rollback by a person.
            for args in [
                vec!["deploy".to_string(), app_dir.clone()],
                vec![
                    "env".into(),
                    "set".into(),
                    format!("SENTINEL_PLAIN={plain}"),
                ],
                vec![
                    "env".into(),
                    "set".into(),
                    "--secret".into(),
                    format!("SENTINEL_SECRET={secret}"),
                    "--promote".into(),
                ],
            ] {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let run = convox(ns.name(), "myapp", &args).await;
                assert!(run.ok(), "convox {args:?}: {}{}", run.stdout, run.stderr);
                said.push_str(&run.stdout);
                said.push_str(&run.stderr);
            }
            let good = latest_release(&ns).await;
            std::fs::write(dir.join("convox.yml"), CRASHING).unwrap();
            let crashing = convox(ns.name(), "myapp", &["deploy", &app_dir]).await;
            assert!(
                !crashing.ok() && crashing.stderr.contains("rollback"),
                "{crashing:?}"
            );
            said.push_str(&crashing.stdout);
            wait_settled(&ns, "the automatic rollback").await;
            let back = convox(
                ns.name(),
                "myapp",
                &["releases", "rollback", &good.to_uppercase()],
            )
            .await;
            assert!(back.ok(), "{back:?}");
            said.push_str(&back.stdout);
            wait_settled(&ns, "the rollback").await;

            // The values reached the release env (the scan below can find them when they leak).
            let env = convox(ns.name(), "myapp", &["env"]).await;
            assert!(
                env.stdout.contains(&plain) && env.stdout.contains(&secret),
                "{env:?}"
            );

            let mut leaks = vec![];
            let places = [
                ("Releases", dump::<Release>(&ns).await),
                ("Apps", dump::<App>(&ns).await),
                ("Builds", dump::<Build>(&ns).await),
                ("Events (core)", dump::<Event>(&ns).await),
                (
                    "Events (events.k8s.io)",
                    dump::<k8s_openapi::api::events::v1::Event>(&ns).await,
                ),
                ("Deployments", dump::<Deployment>(&ns).await),
                ("Pods", dump::<Pod>(&ns).await),
                ("the operator's log", operator.log()),
                ("what the CLI printed while changing things", said),
            ];
            for (place, text) in &places {
                for value in [&plain, &secret] {
                    if text.contains(value.as_str()) {
                        leaks.push(format!("{value} in {place}"));
                    }
                }
            }
            // On a terminal a secret key shows ****, unless --reveal.
            let release = latest_release(&ns).await.to_uppercase();
            for args in [
                vec!["env"],
                vec!["releases", "info", &release],
                vec!["releases"],
                vec!["apps", "info"],
            ] {
                let run = convox_tty(ns.name(), "myapp", &args).await;
                assert!(run.ok(), "convox {args:?} on a terminal: {}", run.stdout);
                if run.stdout.contains(&secret) {
                    leaks.push(format!(
                        "{secret} in `convox {}` on a terminal",
                        args.join(" ")
                    ));
                }
            }
            let masked = convox_tty(ns.name(), "myapp", &["env"]).await;
            assert!(
                masked.stdout.contains("SENTINEL_SECRET=****"),
                "{}",
                masked.stdout
            );
            let revealed = convox_tty(ns.name(), "myapp", &["env", "--reveal"]).await;
            assert!(
                revealed.stdout.contains(&secret),
                "--reveal shows it: {}",
                revealed.stdout
            );
            assert!(leaks.is_empty(), "leaked: {leaks:?}");
            assert!(
                !operator.log().contains("forbidden"),
                "the operator needed more than the chart's RBAC:\n{}",
                operator.log()
            );
            let _ = std::fs::remove_dir_all(&dir);
            drop(installed);
        })
        .await;
    })
    .await;
}

/// Runs `program args` as the person of `kubeconfig`: (exit code, stdout + stderr).
fn as_person(kubeconfig: &Path, program: &Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(program)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn a_viewer_reads_no_env_value_and_changes_nothing() {
    with_temp_ns("secrecy-viewer", |ns| async move {
        let release = format!("slipway-{}", ns.name());
        let mut sets = IMAGE.to_vec();
        sets.push("rbac.create=false");
        let installed = helm::install(&release, ns.name(), &sets);
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 30).await;
        create_release(&ns, &app, "rfirstfirst", MANIFEST, &Default::default()).await;
        let value = format!("viewer-sentinel-{}", ns.name());
        let set = convox(
            ns.name(),
            "myapp",
            &["env", "set", &format!("TOKEN={value}"), "--promote"],
        )
        .await;
        assert!(set.ok(), "{set:?}");
        let latest = latest_release(&ns).await;
        wait_app(&ns, "myapp", "the release to run", running(&latest)).await;
        let id = latest.to_uppercase();
        let viewer = identity::person(&ns, "viewer", &[format!("{release}-viewer")]).await;
        let before = (
            release_names(&ns).await,
            ns.api::<App>().get("myapp").await.unwrap().spec,
            generations(&ns).await,
        );

        let convox_bin = operator::binary("convox");
        let kubectl = PathBuf::from("kubectl");
        let dir = std::env::temp_dir().join(format!("slipway-{}", ns.name()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("convox.yml"), MANIFEST).unwrap();
        let d = dir.display().to_string();
        let secret_name = format!("{}-env", id.to_lowercase());
        let c = |args: &[&str]| {
            let mut all = vec!["-a", "myapp"];
            all.extend_from_slice(args);
            as_person(&viewer, &convox_bin, &all)
        };
        // Reads: keys, never values.
        for args in [
            vec!["env"],
            vec!["releases", "info", &id],
            vec!["env", "get", "TOKEN"],
            vec!["env", "--reveal"],
        ] {
            let (_, out) = c(&args);
            assert!(
                !out.contains(&value),
                "convox {args:?} as viewer showed the value: {out}"
            );
        }
        let (code, out) = c(&["env"]);
        assert!(
            code == 0 && out.contains("TOKEN="),
            "a viewer sees the keys: {out}"
        );
        for args in [
            vec!["get", "secret", &secret_name, "-o", "yaml"],
            vec!["get", "secrets"],
        ] {
            let (code, out) = as_person(&viewer, &kubectl, &args);
            assert!(
                code != 0 && out.contains("forbidden"),
                "kubectl {args:?} as viewer: {out}"
            );
        }
        // Changes: every one refused.
        let refused: Vec<(Vec<&str>, bool)> = vec![
            (vec!["env", "set", "X=1"], true),
            (vec!["env", "unset", "TOKEN"], true),
            (vec!["releases", "promote", &id], true),
            (vec!["releases", "rollback", &id], true),
            (
                vec![
                    "releases",
                    "create-from",
                    "--use-active-release-build",
                    "--use-active-release-env",
                ],
                true,
            ),
            (vec!["apps", "create", "another"], true),
            (vec!["apps", "delete", "myapp"], true),
            (vec!["build", &d], true),
            (vec!["delete", "release", &latest], false),
            (
                vec![
                    "patch",
                    "apps.slipway.dev",
                    "myapp",
                    "--type=merge",
                    "-p",
                    r#"{"spec":{"release":null}}"#,
                ],
                false,
            ),
            (
                vec!["scale", "deployment", "myapp-web", "--replicas=5"],
                false,
            ),
            (vec!["delete", "pods", "--all"], false),
            (
                vec!["create", "secret", "generic", "x", "--from-literal=a=b"],
                false,
            ),
        ];
        for (args, through_convox) in refused {
            let (code, out) = if through_convox {
                c(&args)
            } else {
                as_person(&viewer, &kubectl, &args)
            };
            assert!(code != 0, "{args:?} as viewer was allowed: {out}");
            let said = if through_convox {
                out.contains("ERROR: ")
            } else {
                out.contains("forbidden")
            };
            assert!(said, "{args:?} refused without saying so: {out}");
        }
        // `kubectl auth can-i --list`: reads only.
        let (_, list) = as_person(&viewer, &kubectl, &["auth", "can-i", "--list"]);
        for line in list.lines().filter(|l| !l.contains("selfsubject")) {
            let verbs = line.rsplit('[').next().unwrap_or_default();
            for write in ["create", "update", "patch", "delete", "*"] {
                assert!(
                    !verbs.split([' ', ']']).any(|v| v == write),
                    "viewer may {write}: {line}"
                );
            }
            assert!(
                !line.starts_with("secrets "),
                "viewer may touch secrets: {line}"
            );
        }
        let after = (
            release_names(&ns).await,
            ns.api::<App>().get("myapp").await.unwrap().spec,
            generations(&ns).await,
        );
        assert_eq!(before, after, "the viewer changed something");
        let _ = std::fs::remove_dir_all(&dir);
        drop(installed);
    })
    .await;
}
