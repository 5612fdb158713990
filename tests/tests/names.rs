//! Names that coexist with Argo CD. Its Application CRD claims the short names `app` and `apps`;
//! Slipway's App is `apps.slipway.dev` (singular `app`, short name `sapp`). Which kind a bare
//! `kubectl get app` reaches with both installed is kubectl's choice, so every kubectl command
//! the README, the chart's NOTES, `make run` and the tests give names Slipway's kinds by their
//! full name or Slipway's own short name; and with a CRD claiming Argo CD's names installed,
//! the README's commands still reach Slipway's objects (and Argo CD's stay reachable).

use std::path::Path;

/// Verbs whose next word is the resource kubectl resolves.
const VERBS: [&str; 11] = [
    "get", "wait", "describe", "patch", "edit", "delete", "label", "annotate", "scale", "explain",
    "apply",
];

/// Resource words that kubectl may resolve to Argo CD's Application.
const AMBIGUOUS: [&str; 2] = ["app", "apps"];

fn ambiguous(resource: &str) -> bool {
    let kinds = resource.split('/').next().unwrap_or_default();
    kinds.split(',').any(|kind| AMBIGUOUS.contains(&kind))
}

/// The kubectl command lines of a shell script or Markdown text that name an ambiguous resource.
fn in_shell(text: &str) -> Vec<String> {
    let mut found = vec![];
    for line in text.lines() {
        let Some((_, command)) = line.split_once("kubectl ") else {
            continue;
        };
        let words: Vec<&str> = command.split_whitespace().collect();
        let Some(verb) = words.iter().position(|w| VERBS.contains(w)) else {
            continue;
        };
        let resource = words[verb + 1..].iter().find(|w| !w.starts_with('-'));
        if resource.is_some_and(|r| ambiguous(r.trim_matches('`'))) {
            found.push(line.trim().to_string());
        }
    }
    found
}

/// The string literals of Rust source, in order (escapes and raw strings read loosely: a
/// literal is what stands between two quotes).
fn literals(source: &str) -> Vec<&str> {
    source.split('"').skip(1).step_by(2).collect()
}

/// The kubectl argument lists of Rust source (a verb literal and the next literal) that name
/// an ambiguous resource.
fn in_rust(source: &str) -> Vec<String> {
    literals(source)
        .windows(2)
        .filter(|pair| VERBS.contains(&pair[0]) && ambiguous(pair[1]))
        .map(|pair| format!("\"{}\", \"{}\"", pair[0], pair[1]))
        .collect()
}

fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a test folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn every_printed_kubectl_command_names_slipways_kinds_unambiguously() {
    let mut found = vec![];
    for doc in [
        "README.md",
        "charts/slipway/templates/NOTES.txt",
        "examples/run",
        "tests/testenv/README.md",
        "RELIABILITY.md",
    ] {
        let text = std::fs::read_to_string(root().join(doc)).expect(doc);
        found.extend(in_shell(&text).into_iter().map(|l| format!("{doc}: {l}")));
    }
    let mut sources = vec![];
    for dir in ["tests", "cli/src", "operator/src"] {
        rust_files(&root().join(dir), &mut sources);
    }
    assert!(sources.len() > 20, "the sources were found");
    for path in sources {
        // This file names the ambiguous words on purpose.
        if path.ends_with("names.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        found.extend(
            in_rust(&text)
                .into_iter()
                .map(|l| format!("{}: {l}", path.display())),
        );
    }
    assert!(
        found.is_empty(),
        "use apps.slipway.dev or sapp (Argo CD's Application claims app and apps):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_a_bare_app_and_accepts_the_full_name() {
    let text = "kubectl -n myteam wait app/myapp --for=condition=Ready\n\
                kubectl get apps,pods\n\
                kubectl get apps.slipway.dev\n\
                kubectl -n x wait apps.slipway.dev/myapp\n\
                kubectl get sapp\n\
                convox apps create\n";
    assert_eq!(in_shell(text).len(), 2, "{:?}", in_shell(text));
    let source = r#"kubectl(&["patch", "app", "myapp"]); kubectl(&["get", "apps.slipway.dev"]); convox(&["apps", "create"]);"#;
    assert_eq!(in_rust(source), ["\"patch\", \"app\""]);
}

#[cfg(feature = "cluster")]
mod cluster {
    //! The README's commands with a CRD that claims Argo CD's short names installed.

    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::Api;
    use serde_json::{Value, json};
    use slipway_tests::realnode::kubectl;
    use slipway_tests::{helm, operator, wait_for, with_temp_ns};

    /// Argo CD's Application CRD as far as names go: `applications.argoproj.io`, short names
    /// `app` and `apps`, as Argo CD's own manifest declares them.
    fn argo_application_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": "applications.argoproj.io" },
            "spec": {
                "group": "argoproj.io",
                "scope": "Namespaced",
                "names": {
                    "kind": "Application", "listKind": "ApplicationList",
                    "plural": "applications", "singular": "application",
                    "shortNames": ["app", "apps"],
                },
                "versions": [{
                    "name": "v1alpha1", "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                    } },
                }],
            },
        })
    }

    /// The README's lines, with the namespace of the test for `myteam`.
    fn from_readme(readme: &str, line: &str, namespace: &str) -> Vec<String> {
        assert!(readme.contains(line), "the README says `{line}`");
        let command = line.strip_prefix("kubectl ").expect("a kubectl command");
        let command = command.split('#').next().unwrap().trim();
        let mut words: Vec<String> = shell_words(command)
            .into_iter()
            .map(|w| w.replace("myteam", namespace))
            .collect();
        if !words.iter().any(|w| w == "-n") {
            words.splice(0..0, ["-n".to_string(), namespace.to_string()]);
        }
        words
    }

    fn shell_words(command: &str) -> Vec<String> {
        command.split_whitespace().map(str::to_string).collect()
    }

    fn run(words: &[String]) -> String {
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        kubectl(&args).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn the_readmes_commands_reach_slipways_apps_beside_argo_cds_applications() {
        with_temp_ns("names", |ns| async move {
            let client = ns.client().clone();
            helm::apply(&client, &[argo_application_crd()])
                .await
                .expect("the Application CRD");
            let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
            wait_for(
                std::time::Duration::from_secs(60),
                "applications.argoproj.io to serve",
                || async {
                    let crd = crds
                        .get("applications.argoproj.io")
                        .await
                        .map_err(|e| e.to_string())?;
                    let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
                    conditions
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                        .then_some(())
                        .ok_or_else(|| "not established".to_string())
                },
            )
            .await;
            let argo_app = json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": { "name": "argo-guestbook", "namespace": ns.name() },
                "spec": { "project": "default" },
            });
            // Discovery serves the new kind a moment after the CRD is established.
            wait_for(
                std::time::Duration::from_secs(30),
                "an Application to be made",
                || helm::apply(&client, std::slice::from_ref(&argo_app)),
            )
            .await;

            let _operator = operator::start(ns.name());
            let readme =
                std::fs::read_to_string(slipway_tests::workspace_root().join("README.md")).unwrap();
            let name = ns.name();
            for line in [
                "kubectl -n myteam apply --server-side -f examples/myapp/app.yaml",
                "kubectl -n myteam wait apps.slipway.dev/myapp --for=condition=Ready --timeout=180s",
            ] {
                run(&from_readme(&readme, line, name));
            }
            let all = run(&from_readme(&readme, "kubectl get slipway", name));
            assert!(all.contains("app.slipway.dev/myapp"), "{all}");
            assert!(!all.contains("argo-guestbook"), "{all}");
            let short = run(&from_readme(&readme, "kubectl get sapp", name));
            assert!(short.contains("myapp") && !short.contains("argo-guestbook"), "{short}");
            let full = run(&from_readme(&readme, "kubectl get apps.slipway.dev", name));
            assert!(full.contains("myapp") && !full.contains("argo-guestbook"), "{full}");
            // Argo CD's users keep theirs, by its full name.
            let argo = run(&from_readme(
                &readme,
                "kubectl get applications.argoproj.io",
                name,
            ));
            assert!(argo.contains("argo-guestbook") && !argo.contains("myapp"), "{argo}");
            // What a bare `app` reaches is kubectl's choice; recorded, never relied on.
            let bare = kubectl(&["-n", name, "get", "app", "-o", "name"]);
            eprintln!("with both CRDs, `kubectl get app` lists: {bare:?}");
        })
        .await;
    }
}
