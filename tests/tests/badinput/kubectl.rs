//! Malformed objects sent with kubectl: the API server refuses them with the CRDs' schema and
//! CEL rules, and the app that runs in the namespace is not disturbed.

use std::io::Write;
use std::process::{Command, Stdio};

use slipway_tests::reliability::{generations, scrub};
use slipway_tests::slipway::{create_app, create_release, promote, running, wait_app};
use slipway_tests::{TestNamespace, kubeconfig_path, operator};

use super::{Outcome, in_namespace};

const MANIFEST: &str = "services:\n  web:\n    image: nginx:1\n    port: 80\n";

/// Runs kubectl in `ns`, feeding `stdin`; returns whether it succeeded and what it printed.
pub async fn kubectl(ns: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let (ns, stdin) = (ns.to_string(), stdin.unwrap_or_default().to_string());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .args(["-n", &ns])
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl");
        let mut input = child.stdin.take().expect("kubectl's stdin");
        input
            .write_all(stdin.as_bytes())
            .expect("writing to kubectl");
        drop(input);
        let out = child.wait_with_output().expect("kubectl output");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), scrub(text.trim(), &ns))
    })
    .await
    .expect("kubectl thread")
}

fn app(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: slipway.dev/v1alpha1\nkind: App\nmetadata:\n  name: {name}\nspec: {spec}\n"
    )
}

fn release(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: slipway.dev/v1alpha1\nkind: Release\nmetadata:\n  name: {name}\nspec:\n{spec}\n"
    )
}

fn release_spec(extra: &str) -> String {
    format!("  app: myapp\n  manifest: \"services: {{web: {{image: nginx}}}}\"\n{extra}")
}

/// The kubectl cases.
pub async fn cases() -> Vec<Outcome> {
    in_namespace("bad-kubectl", run).await
}

async fn run(ns: &TestNamespace) -> Vec<Outcome> {
    let _operator = operator::start(ns.name());
    let myapp = create_app(ns, "myapp", 60).await;
    create_release(ns, &myapp, "rgoodgoodgo", MANIFEST, &Default::default()).await;
    promote(ns, "myapp", "rgoodgoodgo").await;
    wait_app(
        ns,
        "myapp",
        "the good release to run",
        running("rgoodgoodgo"),
    )
    .await;
    // Objects that exist, so that edits after creation can be tried.
    let (made, out) = kubectl(
        ns.name(),
        &["create", "-f", "-"],
        Some(&format!(
            "{}---\napiVersion: slipway.dev/v1alpha1\nkind: Build\nmetadata:\n  name: bfixedbuild\nspec:\n  app: other\n  manifest: \"services: {{web: {{image: nginx}}}}\"\n",
            release("rfixedfixed", &release_spec("  env:\n    FOO: one"))
        )),
    )
    .await;
    assert!(made, "creating the fixtures: {out}");
    let before = generations(ns).await;

    let long_app = "a".repeat(41);
    let long_release = format!("r{}", "a".repeat(63));
    let creates: Vec<(String, String, &str)> = vec![
        (
            "App named `My_App`".into(),
            app("My_App", "{}"),
            "a lowercase RFC 1123 subdomain",
        ),
        (
            "App named `my.app` (a dot: its Services could not be named)".into(),
            app("my.app", "{}"),
            "App names are DNS labels",
        ),
        (
            "App named with 41 characters".into(),
            app(&long_app, "{}"),
            "App names are DNS labels",
        ),
        (
            "App with `progressDeadlineSeconds: 5`".into(),
            app("a1", "{progressDeadlineSeconds: 5}"),
            "should be greater than or equal to 10",
        ),
        (
            "App with `progressDeadlineSeconds: \"sixty\"`".into(),
            app("a2", "{progressDeadlineSeconds: sixty}"),
            "must be of type integer",
        ),
        (
            "App with `releaseHistoryLimit: 0`".into(),
            app("a3", "{releaseHistoryLimit: 0}"),
            "should be greater than or equal to 1",
        ),
        (
            "App with `retry: -1`".into(),
            app("a4", "{retry: -1}"),
            "should be greater than or equal to 0",
        ),
        (
            "App with an unknown field `spec.replicas`".into(),
            app("a5", "{replicas: 3}"),
            "unknown field \"spec.replicas\"",
        ),
        (
            "App with `release: 5` (a number)".into(),
            app("a6", "{release: 5}"),
            "must be of type string",
        ),
        (
            "Release with env key `1BAD`".into(),
            release("r1", &release_spec("  env:\n    1BAD: x")),
            "env keys must match [A-Za-z_][A-Za-z0-9_]*",
        ),
        (
            "Release with env key `FOO-BAR`".into(),
            release("r2", &release_spec("  env:\n    FOO-BAR: x")),
            "env keys must match [A-Za-z_][A-Za-z0-9_]*",
        ),
        (
            "Release with env value `1` (a number)".into(),
            release("r3", &release_spec("  env:\n    FOO: 1")),
            "must be of type string",
        ),
        (
            "Release of app `Bad_App`".into(),
            release("r4", "  app: Bad_App\n  manifest: x"),
            "spec.app in body should match",
        ),
        (
            "Release without a manifest".into(),
            release("r5", "  app: myapp"),
            "spec.manifest: Required value",
        ),
        (
            "Release with `images` as a list".into(),
            release("r6", &release_spec("  images: [nginx]")),
            "must be of type object",
        ),
        (
            "Release with an envSecret lacking its sha256".into(),
            release("r7", &release_spec("  envSecret: {name: r7-env}")),
            "spec.envSecret.sha256: Required value",
        ),
        (
            "Release named with 64 characters (too long to label its pods)".into(),
            release(&long_release, &release_spec("")),
            "Release names are at most 63 characters",
        ),
        (
            "Build of app `` (empty)".into(),
            "apiVersion: slipway.dev/v1alpha1\nkind: Build\nmetadata:\n  name: b1\nspec:\n  app: \"\"\n  manifest: x\n".into(),
            "should be at least 1 chars long",
        ),
    ];
    let mut outcomes = vec![];
    for (input, yaml, want) in creates {
        let (ok, out) = kubectl(ns.name(), &["create", "-f", "-"], Some(&yaml)).await;
        let refused = if ok {
            Err("it was accepted".into())
        } else {
            Ok(())
        };
        outcomes.push(Outcome::expect(
            &format!("kubectl create: {input}"),
            want,
            out,
            refused,
        ));
    }

    let edits: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "kubectl patch: a Release's description edited after creation",
            vec![
                "patch",
                "release",
                "rfixedfixed",
                "--type=merge",
                "-p",
                r#"{"spec":{"description":"edited"}}"#,
            ],
            "a Release is immutable: create a new Release instead",
        ),
        (
            "kubectl patch: a Release's env edited after creation",
            vec![
                "patch",
                "release",
                "rfixedfixed",
                "--type=merge",
                "-p",
                r#"{"spec":{"env":{"FOO":"two"}}}"#,
            ],
            "a Release is immutable: create a new Release instead",
        ),
        (
            "kubectl patch: a Build's images edited after creation",
            vec![
                "patch",
                "build",
                "bfixedbuild",
                "--type=merge",
                "-p",
                r#"{"spec":{"images":{"web":"evil:1"}}}"#,
            ],
            "a Build is immutable: create a new Build instead",
        ),
        (
            "kubectl patch: an App's progressDeadlineSeconds set to 9",
            vec![
                "patch",
                "apps.slipway.dev",
                "myapp",
                "--type=merge",
                "-p",
                r#"{"spec":{"progressDeadlineSeconds":9}}"#,
            ],
            "should be greater than or equal to 10",
        ),
        (
            "kubectl patch: negative scale (`replicas: -1`) on a running Deployment",
            vec![
                "patch",
                "deployment",
                "myapp-web",
                "--type=merge",
                "-p",
                r#"{"spec":{"replicas":-1}}"#,
            ],
            "must be greater than or equal to 0",
        ),
    ];
    for (input, args, want) in edits {
        let (ok, out) = kubectl(ns.name(), &args, None).await;
        let refused = if ok {
            Err("it was accepted".into())
        } else {
            Ok(())
        };
        outcomes.push(Outcome::expect(input, want, out, refused));
    }

    let app = ns.api::<slipway_crds::App>().get("myapp").await.unwrap();
    let after = generations(ns).await;
    let serving = app.status.and_then(|s| s.release);
    outcomes.push(Outcome::expect(
        "all of the above, against the app that runs",
        "undisturbed",
        if after == before && serving.as_deref() == Some("rgoodgoodgo") {
            "undisturbed: Deployment generations and status.release unchanged".into()
        } else {
            format!("generations {before:?} -> {after:?}, status.release {serving:?}")
        },
        Ok(()),
    ));
    outcomes
}
