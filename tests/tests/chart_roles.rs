//! The chart installed to watch one namespace (Roles, not ClusterRoles) with two replicas:
//! both operators run as the chart's ServiceAccount, one leads, the other takes over when it
//! dies, and the leader does a full promote and an automatic rollback. Then the chart's roles
//! for people, used through the convox CLI: a viewer reads, a developer deploys but sees env
//! keys only, and with the env-reader role also values.
#![cfg(feature = "cluster")]

#[path = "support/scenario.rs"]
mod scenario;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{SelfSubjectRulesReview, SelfSubjectRulesReviewSpec};
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use slipway_crds::{App, env};
use slipway_tests::operator::{Operator, binary};
use slipway_tests::slipway::{CONVERGE, create_app, create_release, running, wait_app};
use slipway_tests::{TestNamespace, helm, identity, operator, testenv_dir, wait_for, with_temp_ns};

const IMAGE: [&str; 2] = [
    "image.repository=registry.example.com/slipway-operator",
    "image.tag=0.1.0",
];

/// `curl` of the operator's /readyz: its HTTP status.
fn readyz(operator: &Operator) -> Result<String, String> {
    let addr = operator
        .metrics_addr()
        .ok_or("no metrics address logged yet")?;
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{addr}/readyz"),
        ])
        .output()
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn leads(operator: &Operator) -> bool {
    operator.log().contains("Became leader")
}

#[tokio::test]
async fn watching_one_namespace_with_leader_election_as_the_charts_service_account() {
    with_temp_ns("roles-home", |home| async move {
        with_temp_ns("roles-team", |team| async move {
            let release = format!("slipway-{}", home.name());
            let watch = format!("watchNamespaces={{{}}}", team.name());
            let mut sets = IMAGE.to_vec();
            sets.extend([watch.as_str(), "replicas=2"]);
            let installed = helm::install(&release, home.name(), &sets);

            let token = identity::token(home.client(), home.name(), &release).await;
            let kubeconfig =
                identity::write_kubeconfig(&format!("sa-{}", home.name()), &token, home.name());
            let as_sa = identity::client_from(&kubeconfig).await;
            let elsewhere: Api<App> = Api::namespaced(as_sa, home.name());
            assert!(
                elsewhere.list(&Default::default()).await.is_err(),
                "no rights outside the watched namespace"
            );

            let flags = [
                "--leader-elect",
                "--lease-name",
                &release,
                "--lease-namespace",
                home.name(),
            ];
            let start = |n: &str| {
                operator::start_as(
                    &format!("{}-{n}", team.name()),
                    team.name(),
                    &kubeconfig,
                    &flags,
                )
            };
            let (a, b) = (start("a"), start("b"));
            wait_for(CONVERGE, "one operator to lead", || async {
                if leads(&a) || leads(&b) {
                    Ok(())
                } else {
                    Err("no leader yet")
                }
            })
            .await;
            // Both are Ready, the standby too, so a rolling update of the Deployment can finish.
            for operator in [&a, &b] {
                wait_for(CONVERGE, "/readyz to answer 200", || async {
                    readyz(operator).and_then(|c| if c == "200" { Ok(()) } else { Err(c) })
                })
                .await;
            }
            let (leader, standby) = if leads(&a) { (a, b) } else { (b, a) };
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert!(!leads(&standby), "only one leads");

            // The leader dies; the standby takes the Lease over and does all the work.
            drop(leader);
            wait_for(
                Duration::from_secs(120),
                "the standby to take over",
                || async {
                    if leads(&standby) {
                        Ok(())
                    } else {
                        Err("still waiting")
                    }
                },
            )
            .await;
            scenario::promote_build_and_roll_back(&team).await;
            assert!(
                !standby.log().contains("forbidden"),
                "refused something:\n{}",
                standby.log()
            );
            drop(installed);
        })
        .await;
    })
    .await;
}

/// Runs `convox` as the person of `kubeconfig`: (exit code, stdout, stderr).
fn convox(kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("convox"))
        .args(args)
        .args(["-a", "myapp"])
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("convox runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_roles_for_people_through_the_cli() {
    with_temp_ns("roles-people", |ns| async move {
        // Only the roles for people are installed; the operator runs as admin.
        let release = format!("slipway-{}", ns.name());
        let mut sets = IMAGE.to_vec();
        sets.push("rbac.create=false");
        let installed = helm::install(&release, ns.name(), &sets);
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 30).await;
        let first = env::Env::from([("FOO".to_string(), "one".to_string())]);
        create_release(
            &ns,
            &app,
            "rfirstfirst",
            "services:\n  web:\n    image: nginx:1\n",
            &first,
        )
        .await;

        let role = |r: &str| format!("{release}-{r}");
        let viewer = identity::person(&ns, "vic", &[role("viewer")]).await;
        let developer = identity::person(&ns, "dev", &[role("developer")]).await;
        let trusted = identity::person(&ns, "tru", &[role("developer"), role("env-reader")]).await;

        // A viewer lists releases but may not promote.
        let (code, out, err) = convox(&viewer, &["releases"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("RFIRSTFIRST"), "{out}");
        let (code, _, err) = convox(&viewer, &["releases", "promote", "RFIRSTFIRST"]);
        assert_eq!(code, 1, "a viewer cannot promote: {err}");
        assert!(err.starts_with("ERROR: "), "{err}");
        assert_eq!(
            ns.api::<App>().get("myapp").await.unwrap().spec.release,
            None
        );

        // A developer promotes, and sees env keys without values.
        let (code, out, err) = convox(&developer, &["releases", "promote", "RFIRSTFIRST"]);
        assert_eq!(code, 0, "a developer promotes: {out}{err}");
        wait_app(
            &ns,
            "myapp",
            "the promoted release to run",
            running("rfirstfirst"),
        )
        .await;
        let (code, out, err) = convox(&developer, &["env"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("FOO=****") && !out.contains("one"), "{out}");
        let (code, out, _) = convox(&developer, &["releases", "info", "RFIRSTFIRST"]);
        assert_eq!(code, 0);
        assert!(
            out.contains("FOO=****") && !out.contains("FOO=one"),
            "{out}"
        );

        // A developer builds, rolls back and creates from releases with no Secret right at
        // all (so no response they get can hold env values): the operator makes each new
        // release an owner of the Secret it shares.
        developer_deploys_without_secret_rights(&ns, &developer).await;

        // With env-reader too: values, env changes and rollbacks (which copy values).
        let (code, out, err) = convox(&trusted, &["env"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("FOO=one"), "{out}");
        let (code, out, err) = convox(&trusted, &["env", "set", "BAR=two", "--promote"]);
        assert_eq!(code, 0, "env set as developer and env-reader: {out}{err}");
        let (code, out, err) = convox(&trusted, &["releases", "rollback", "RFIRSTFIRST"]);
        assert_eq!(code, 0, "rollback as developer and env-reader: {out}{err}");
        let (_, out, _) = convox(&trusted, &["env"]);
        assert!(out.contains("FOO=one") && !out.contains("BAR"), "{out}");
        drop(installed);
    })
    .await;
}

/// Build, deploy, rollback and create-from as a developer, who has no right on any Secret.
async fn developer_deploys_without_secret_rights(ns: &TestNamespace, developer: &Path) {
    let review = SelfSubjectRulesReview {
        spec: SelfSubjectRulesReviewSpec {
            namespace: Some(ns.name().into()),
        },
        ..SelfSubjectRulesReview::default()
    };
    let as_developer = identity::client_from(developer).await;
    let rules = Api::<SelfSubjectRulesReview>::all(as_developer)
        .create(&PostParams::default(), &review)
        .await
        .expect("a rules review")
        .status
        .expect("its status")
        .resource_rules;
    let secret_rules: Vec<_> = rules
        .iter()
        .filter(|r| {
            r.resources
                .iter()
                .flatten()
                .any(|res| res == "secrets" || res == "*")
        })
        .collect();
    assert!(
        secret_rules.is_empty(),
        "no Secret rights: {secret_rules:?}"
    );

    let dir = testenv_dir().join(format!("build-{}", ns.name()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("convox.yml"),
        "services:\n  web:\n    image: nginx:2\n",
    )
    .unwrap();
    let mut seen = String::new();
    let mut run = |args: &[&str]| {
        let (code, out, err) = convox(developer, args);
        assert_eq!(code, 0, "a developer runs convox {args:?}: {out}{err}");
        seen.push_str(&out);
        seen.push_str(&err);
        out
    };
    let dir_arg = dir.to_string_lossy().into_owned();
    run(&["build", &dir_arg, "-d", "by a developer"]);
    let out = run(&["releases", "rollback", "RFIRSTFIRST", "--id"]);
    let rollback = out
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let out = run(&[
        "releases",
        "create-from",
        "--build-from",
        "RFIRSTFIRST",
        "--env-from",
        "RFIRSTFIRST",
    ]);
    let created = out
        .lines()
        .find_map(|l| l.strip_prefix("Release: "))
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    assert!(
        !seen.contains("FOO=one"),
        "a value reached the developer: {seen}"
    );
    let owners = |secret: &str| {
        let secrets = ns.api::<Secret>();
        let secret = secret.to_string();
        async move {
            let meta = secrets
                .get_metadata(&secret)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<Vec<String>, String>(
                meta.owner_references()
                    .iter()
                    .map(|o| o.name.clone())
                    .collect(),
            )
        }
    };
    wait_for(CONVERGE, "the copies to own the shared Secret", || async {
        let held = owners("rfirstfirst-env").await?;
        if [rollback.as_str(), created.as_str(), "rfirstfirst"]
            .iter()
            .all(|r| held.iter().any(|h| h == r))
        {
            Ok(())
        } else {
            Err(format!("owners {held:?}, want {rollback} and {created}"))
        }
    })
    .await;
}
