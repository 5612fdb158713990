#![cfg(feature = "cluster")]
//! Releases that share an env Secret. A build, a rollback copy and a create-from name the
//! immutable Secret of the release they come from and become its owners too, so history
//! cleanup of the source leaves them running; a Secret Slipway did not make is named but never
//! owned; and a developer who may not read Secrets rolls back and creates releases, while
//! `env set` tells them which role it needs.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;
use slipway_crds::{App, Release, ReleaseSpec, env};
use slipway_tests::slipway::{CONVERGE, create_app, running, wait_app};
use slipway_tests::{TestNamespace, helm, identity, operator, wait_for, with_temp_ns};

const APP: &str = "myapp";
const MANIFEST: &str = "services:\n  web:\n    image: nginx:1\n    port: 5000\n";

/// The `convox` binary, run in the app's directory as the person of `kubeconfig`.
struct Convox {
    namespace: String,
    dir: PathBuf,
    kubeconfig: PathBuf,
}

impl Convox {
    /// `who` in namespace `ns`, in a directory of their own named after the app.
    fn new(ns: &str, who: &str, kubeconfig: &Path) -> Convox {
        let dir = std::env::temp_dir()
            .join(format!("cli-shared-{ns}-{who}"))
            .join(APP);
        std::fs::create_dir_all(&dir).expect("app directory");
        std::fs::write(dir.join("convox.yml"), MANIFEST).expect("convox.yml");
        Convox {
            namespace: ns.to_string(),
            dir,
            kubeconfig: kubeconfig.to_path_buf(),
        }
    }

    /// Exit code, stdout and stderr.
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = tokio::process::Command::new(operator::binary("convox"))
            .args(args)
            .args(["-n", &self.namespace])
            .current_dir(&self.dir)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("CONVOX_APP")
            .env_remove("CONVOX_RACK")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("run target/debug/convox (build it with `cargo build --bins`)");
        let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
        (
            out.status.code().unwrap_or(-1),
            text(out.stdout),
            text(out.stderr),
        )
    }

    /// Stdout of a run that must succeed.
    async fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args).await;
        assert_eq!(code, 0, "convox {args:?}:\n{out}\n{err}");
        out
    }

    /// The object name of the release a run printed as `Release: R…`.
    async fn release(&self, args: &[&str]) -> String {
        let out = self.ok(args).await;
        out.lines()
            .find_map(|l| l.strip_prefix("Release: "))
            .unwrap_or_else(|| panic!("no Release line in:\n{out}"))
            .trim()
            .to_lowercase()
    }
}

impl Drop for Convox {
    fn drop(&mut self) {
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

async fn release(ns: &TestNamespace, name: &str) -> Release {
    ns.api::<Release>().get(name).await.expect("get Release")
}

/// The names of the owners of Secret `name`.
/// Waits until Secret `name`'s owners are `want` (sorted): the operator adds them as it sees
/// each Release, the CLI never patches Secrets.
async fn owned_by(ns: &TestNamespace, name: &str, want: &[String]) {
    wait_for(CONVERGE, &format!("{name} owned by {want:?}"), || async {
        let held = owners(ns, name).await;
        if held == want {
            Ok(())
        } else {
            Err(format!("owners {held:?}"))
        }
    })
    .await;
}

async fn owners(ns: &TestNamespace, name: &str) -> Vec<String> {
    let secret = ns.api::<Secret>().get(name).await.expect("get Secret");
    let mut names: Vec<String> = secret
        .owner_references()
        .iter()
        .map(|o| o.name.clone())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_rollback_copy_keeps_its_env_when_history_cleanup_deletes_its_source() {
    with_temp_ns("cli-shared", |ns| async move {
        let _operator = operator::start(ns.name());
        let convox = Convox::new(ns.name(), "admin", &slipway_tests::kubeconfig_path());
        convox.ok(&["apps", "create"]).await;

        // An env release, then a build whose release shares its Secret.
        let r0 = convox.release(&["env", "set", "FOO=one"]).await;
        let r1 = convox.release(&["build"]).await;
        let secret = release(&ns, &r0)
            .await
            .spec
            .env_secret
            .expect("an env Secret");
        assert_eq!(
            release(&ns, &r1).await.spec.env_secret.as_ref(),
            Some(&secret)
        );
        let mut both = vec![r0.clone(), r1.clone()];
        both.sort();
        owned_by(&ns, &secret.name, &both).await;
        convox.ok(&["releases", "promote", &r1]).await;
        let r2 = convox
            .release(&["env", "set", "FOO=two", "--promote"])
            .await;

        // Keep two releases: the rollback's promotion cleans up R0 and R1, not R2 (the env head).
        let patch = json!({ "spec": { "releaseHistoryLimit": 2 } });
        ns.api::<App>()
            .patch(APP, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("set the history limit");
        let out = convox
            .ok(&["releases", "rollback", &r1.to_uppercase()])
            .await;
        let copy = out
            .lines()
            .next()
            .and_then(|l| l.rsplit(", ").next())
            .expect("Rolling back to R... OK, RNEW")
            .trim()
            .to_lowercase();
        assert_eq!(
            release(&ns, &copy).await.spec.env_secret.as_ref(),
            Some(&secret)
        );
        wait_for(CONVERGE, "cleanup to delete R0 and R1", || async {
            let names: Vec<String> = ns
                .api::<Release>()
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?
                .items
                .iter()
                .map(|r| r.name_any())
                .collect();
            let mut want = vec![copy.clone(), r2.clone()];
            want.sort();
            let mut have = names.clone();
            have.sort();
            if have == want {
                Ok(())
            } else {
                Err(format!("{names:?}"))
            }
        })
        .await;
        // The shared Secret stays, owned by the copy alone once the collector drops the rest.
        wait_for(
            CONVERGE,
            "the collector to drop the deleted owners",
            || async {
                let names = owners(&ns, &secret.name).await;
                if names == [copy.clone()] {
                    Ok(())
                } else {
                    Err(format!("{names:?}"))
                }
            },
        )
        .await;

        // The copy still resolves and runs: away and back again.
        convox.ok(&["releases", "promote", &r2]).await;
        convox.ok(&["releases", "promote", &copy]).await;
        wait_app(&ns, APP, "the copy to run again", running(&copy)).await;
        let web = ns.api::<Deployment>().get("myapp-web").await.expect("web");
        let template = web.spec.and_then(|s| s.template.spec).expect("pod spec");
        let from = template.containers[0].env_from.clone().unwrap_or_default();
        let names: Vec<_> = from
            .iter()
            .filter_map(|f| f.secret_ref.as_ref())
            .map(|s| &s.name)
            .collect();
        assert_eq!(names, [&secret.name]);
        let info = convox.ok(&["releases", "info", &copy]).await;
        assert!(info.ends_with("Env          FOO=one\n"), "{info}");
    })
    .await;
}

#[tokio::test]
async fn a_developer_who_may_not_read_secrets_rolls_back_and_creates_from() {
    with_temp_ns("cli-shared-dev", |ns| async move {
        let chart = format!("slipway-{}", ns.name());
        let sets = [
            "image.repository=registry.example.com/slipway-operator",
            "image.tag=0.1.0",
            "rbac.create=false",
        ];
        let installed = helm::install(&chart, ns.name(), &sets);
        let _operator = operator::start(ns.name());
        let admin = Convox::new(ns.name(), "admin", &slipway_tests::kubeconfig_path());
        admin.ok(&["apps", "create"]).await;
        admin.ok(&["build"]).await;
        let r0 = admin.release(&["env", "set", "FOO=one"]).await;
        let r1 = admin.release(&["env", "set", "FOO=two", "--promote"]).await;
        let developer = identity::person(&ns, "dev", &[format!("{chart}-developer")]).await;
        let dev = Convox::new(ns.name(), "dev", &developer);

        let out = dev.ok(&["releases", "rollback", &r0]).await;
        let copy = out
            .lines()
            .next()
            .and_then(|l| l.rsplit(", ").next())
            .expect("Rolling back to R... OK, RNEW")
            .trim()
            .to_lowercase();
        let shared = release(&ns, &r0).await.spec.env_secret.expect("an env Secret");
        assert_eq!(release(&ns, &copy).await.spec.env_secret.as_ref(), Some(&shared));
        let mut want = vec![r0.clone(), copy.clone()];
        want.sort();
        owned_by(&ns, &shared.name, &want).await;
        let made = dev
            .release(&["releases", "create-from", "--build-from", &r0, "--env-from", &r1])
            .await;
        let r1_secret = release(&ns, &r1).await.spec.env_secret;
        assert_eq!(release(&ns, &made).await.spec.env_secret, r1_secret);

        // Values stay hidden, and changing them says what is missing; nothing is made.
        let out = dev.ok(&["env"]).await;
        assert_eq!(out, "FOO=****\n");
        let before = ns.api::<Release>().list(&Default::default()).await.unwrap().items.len();
        let (code, _, err) = dev.run(&["env", "set", "BAR=1"]).await;
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "ERROR: env set needs read access to the app's env Secrets (the slipway-env-reader role)\n"
        );
        let after = ns.api::<Release>().list(&Default::default()).await.unwrap().items.len();
        assert_eq!(after, before);
        drop(installed);
    })
    .await;
}

#[tokio::test]
async fn a_copy_of_a_hand_written_release_never_makes_its_secret_collectable() {
    with_temp_ns("cli-shared-hand", |ns| async move {
        let _operator = operator::start(ns.name());
        let app = create_app(&ns, APP, 30).await;
        // A Secret someone else manages (no Slipway labels, no owners), named by a release.
        let values = env::Env::from([("FOO".to_string(), "mine".to_string())]);
        let (mut secret, reference) = env::pinned_secret(APP, "theirs", &values);
        secret.metadata.labels = None;
        ns.api::<Secret>()
            .create(&PostParams::default(), &secret)
            .await
            .expect("create their Secret");
        let mut spec = ReleaseSpec {
            app: APP.into(),
            manifest: MANIFEST.into(),
            env_secret: Some(reference.clone()),
            ..ReleaseSpec::default()
        };
        let mut hand = Release::new("rhandwritte", spec.clone());
        hand.metadata.owner_references = app.owner_ref(&()).map(|o| vec![o]);
        ns.api::<Release>()
            .create(&PostParams::default(), &hand)
            .await
            .expect("create the hand-written release");
        let convox = Convox::new(ns.name(), "admin", &slipway_tests::kubeconfig_path());
        let out = convox.ok(&["releases", "rollback", "RHANDWRITTE"]).await;
        assert!(out.ends_with("\nOK\n"), "{out}");
        let copies = ns.api::<Release>().list(&Default::default()).await.unwrap();
        let copy = copies
            .items
            .iter()
            .find(|r| r.spec.rollback_of.is_some())
            .expect("the copy");
        assert_eq!(copy.spec.env_secret.as_ref(), Some(&reference));
        assert!(owners(&ns, &reference.name).await.is_empty());

        // Plain values of a hand-written release go into the copy's own Secret, not its spec.
        spec.env_secret = None;
        spec.env = values.clone();
        ns.api::<Release>()
            .create(&PostParams::default(), &Release::new("rplainplain", spec))
            .await
            .expect("create the plain release");
        let plain = convox
            .release(&[
                "releases",
                "create-from",
                "--use-active-release-build",
                "--env-from",
                "rplainplain",
            ])
            .await;
        let made = release(&ns, &plain).await;
        assert!(made.spec.env.is_empty());
        let own = made.spec.env_secret.expect("an env Secret");
        assert_eq!(own.name, format!("{plain}-env"));
        // The operator hands it from the App to its Release (the CLI never patches Secrets).
        owned_by(&ns, &own.name, std::slice::from_ref(&plain)).await;
        let info = convox.ok(&["releases", "info", &plain]).await;
        assert!(info.ends_with("Env          FOO=mine\n"), "{info}");
    })
    .await;
}
