//! An `convox env set` racing each other release-making path: `convox build`, a Build applied
//! with the API (as kubectl does), `convox releases rollback` and `create-from`. Whatever the
//! interleaving, the next change must hold both: the env change the command reported saved,
//! and the build that raced it; a rollback or create-from is ordered against the env change
//! (the change made on top of the copy keeps its key, the one the copy came after loses it,
//! as the copy restores its source's env), never forked from the older env.
#![cfg(feature = "cluster")]

use std::collections::BTreeMap;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::PostParams;
use slipway_crds::{Build, BuildPhase, BuildSpec, Release, env::Env, labels};
use slipway_tests::cli::{Run, convox};
use slipway_tests::reliability::{Table, full, poll, verdict, write_section};
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{TestNamespace, operator, testenv_dir, with_temp_ns};

const SOURCE: &str = "rsourcesrcs";

fn manifest(tag: &str) -> String {
    format!("services:\n  web:\n    image: nginx:{tag}\n")
}

/// The release ID a command printed on a `Release: R…` line, as an object name.
fn printed_release(run: &Run) -> Option<String> {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Release: "))
        .map(|id| id.trim().to_ascii_lowercase())
}

fn env_of(run: &Run) -> BTreeMap<String, String> {
    run.stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn kubectl_build(ns: &TestNamespace, name: &str, tag: &str) -> Run {
    let spec = BuildSpec {
        app: "myapp".into(),
        manifest: manifest(tag),
        ..BuildSpec::default()
    };
    let mut build = Build::new(name, spec);
    build.metadata.labels = Some(labels::app_labels("myapp"));
    ns.api::<Build>()
        .create(&PostParams::default(), &build)
        .await
        .expect("create Build");
    poll(Duration::from_secs(60), "the Build to complete", || async {
        let b = ns
            .api::<Build>()
            .get(name)
            .await
            .map_err(|e| e.to_string())?;
        match b.status.and_then(|s| s.phase) {
            Some(BuildPhase::Complete) => Ok(()),
            phase => Err(format!("phase {phase:?}")),
        }
    })
    .await;
    Run {
        code: 0,
        stdout: String::new(),
        stderr: String::new(),
    }
}

#[tokio::test]
async fn an_env_set_racing_every_release_making_path_loses_nothing() {
    with_temp_ns("race-paths", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, "myapp", 60).await;
        let source_env = Env::from([("S".to_string(), "src".to_string())]);
        create_release(&ns, &app, SOURCE, &manifest("1"), &source_env).await;
        promote(&ns, "myapp", SOURCE).await;
        wait_app(&ns, "myapp", "the source release", running(SOURCE)).await;
        let paths = ["build", "kubectl", "rollback", "create-from"];
        let rounds = if full() { 12 } else { 4 };
        let mut expected: BTreeMap<String, String> = source_env.clone();
        let mut table = Table::new(&["round", "racers", "order", "next change holds", "pass"]);
        let dir = testenv_dir().join(format!("race-paths-{}", ns.name()));
        std::fs::create_dir_all(&dir).unwrap();
        let dir_arg = dir.to_string_lossy().into_owned();
        for round in 0..rounds {
            let path = paths[round % paths.len()];
            let tag = format!("1.{round}");
            std::fs::write(dir.join("convox.yml"), manifest(&tag)).unwrap();
            let (key, assignment) = (format!("K{round}"), format!("K{round}=v{round}"));
            let build_name = format!("bracepaths{round:02}");
            let source_id = SOURCE.to_uppercase();
            let other = async {
                match path {
                    "build" => convox(ns.name(), "myapp", &["build", &dir_arg, "-d", "race"]).await,
                    "kubectl" => kubectl_build(&ns, &build_name, &tag).await,
                    "rollback" => {
                        convox(ns.name(), "myapp", &["releases", "rollback", &source_id, "--id", "--force"]).await
                    }
                    _ => {
                        let args = ["releases", "create-from", "--build-from", &source_id, "--env-from", &source_id];
                        convox(ns.name(), "myapp", &args).await
                    }
                }
            };
            let set_args = ["env", "set", assignment.as_str()];
            let (set, made) = tokio::join!(convox(ns.name(), "myapp", &set_args), other);
            assert!(set.ok(), "round {round}: env set: {}", set.error());
            assert!(made.ok(), "round {round}: {path}: {}", made.error());
            let set_release = printed_release(&set).expect("env set prints its release");
            // A copy restores its source's env; the env change kept its key only if made on top.
            let (order, build_tag) = match path {
                "rollback" | "create-from" => {
                    let copy = if path == "rollback" {
                        made.stdout.lines().last().unwrap_or_default().trim().to_ascii_lowercase()
                    } else {
                        printed_release(&made).unwrap_or_default()
                    };
                    let forked = ns.api::<Release>().get(&set_release).await.expect("env release");
                    let on_copy = forked.annotations().get(labels::ENV_BASE) == Some(&copy);
                    expected = source_env.clone();
                    if on_copy {
                        expected.insert(key.clone(), format!("v{round}"));
                    }
                    (if on_copy { "copy, then env set" } else { "env set, then copy" }, "1".to_string())
                }
                _ => {
                    expected.insert(key.clone(), format!("v{round}"));
                    ("build and env set commute", tag.clone())
                }
            };
            let check = format!("C{round}=c");
            let next = convox(ns.name(), "myapp", &["env", "set", &check]).await;
            assert!(next.ok(), "round {round}: the next change: {}", next.error());
            expected.insert(format!("C{round}"), "c".into());
            let next_release = printed_release(&next).expect("the next change's release");
            let made_next = ns.api::<Release>().get(&next_release).await.expect("next release");
            let shown = env_of(&convox(ns.name(), "myapp", &["env", "--release", &next_release.to_uppercase()]).await);
            let has_build = made_next.spec.manifest.contains(&format!("nginx:{build_tag}\n"));
            let pass = shown == expected && has_build;
            table.row(&[
                round.to_string(),
                format!("env set {assignment} ‖ {path}"),
                order.to_string(),
                if pass {
                    format!("its env ({} keys) and image nginx:{build_tag}", expected.len())
                } else {
                    format!("env {shown:?}, manifest {:?}", made_next.spec.manifest)
                },
                verdict(pass),
            ]);
            assert!(pass, "round {round} ({path}): want env {expected:?} and nginx:{build_tag}; got env {shown:?}, manifest {:?}", made_next.spec.manifest);
        }
        println!("{}", table.markdown());
        if full() {
            write_section(
                "race-paths",
                &format!("### `convox env set` racing builds, Builds applied with the API, rollbacks and create-from: {rounds} rounds, nothing lost\n\n{}", table.markdown()),
            );
        }
    })
    .await;
}
