//! The bad-input catalog: inputs through kubectl, the convox CLI and the operator, each of which
//! must be rejected or reported with a clear message while nothing that runs is disturbed.
//! Each group writes its table into RELIABILITY.md.
#![cfg(feature = "cluster")]

mod cli;
mod damage;
mod kubectl;
mod operator;

use slipway_tests::reliability::{Table, verdict, write_section};
use slipway_tests::{TestNamespace, client};

/// One case of the catalog, as the report shows it.
pub struct Outcome {
    /// What was sent, and how.
    pub input: String,
    /// What should happen.
    pub expected: String,
    /// What happened.
    pub observed: String,
    /// Whether it happened as expected.
    pub pass: bool,
}

impl Outcome {
    /// A case that passes when `observed` contains `want` (and `extra` holds).
    pub fn expect(input: &str, want: &str, observed: String, extra: Result<(), String>) -> Outcome {
        let pass = observed.contains(want) && extra.is_ok();
        let observed = match extra {
            Ok(()) => observed,
            Err(why) => format!("{observed} — but {why}"),
        };
        Outcome {
            input: input.to_string(),
            expected: want.to_string(),
            observed,
            pass,
        }
    }
}

/// Runs a group's `cases` in a namespace of its own named after `prefix`, then deletes it.
pub async fn in_namespace(
    prefix: &str,
    cases: impl AsyncFnOnce(&TestNamespace) -> Vec<Outcome>,
) -> Vec<Outcome> {
    let client = client().await;
    let ns = TestNamespace::create(&client, prefix).await;
    let outcomes = cases(&ns).await;
    ns.delete().await;
    outcomes
}

/// Writes the group's table and fails the test if any case failed.
pub fn report(section: &str, title: &str, outcomes: &[Outcome]) {
    let mut table = Table::new(&["#", "input", "expected", "observed", "pass"]);
    for (i, o) in outcomes.iter().enumerate() {
        table.row(&[
            (i + 1).to_string(),
            o.input.clone(),
            o.expected.clone(),
            o.observed.clone(),
            verdict(o.pass),
        ]);
    }
    let passed = outcomes.iter().filter(|o| o.pass).count();
    write_section(
        section,
        &format!(
            "### {title}: {passed} of {} as expected\n\n{}",
            outcomes.len(),
            table.markdown()
        ),
    );
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.pass)
        .map(|o| {
            format!(
                "{}: expected {:?}, observed {:?}",
                o.input, o.expected, o.observed
            )
        })
        .collect();
    assert!(failed.is_empty(), "cases failed:\n{}", failed.join("\n"));
}

#[tokio::test]
async fn kubectl_rejects_malformed_objects() {
    report(
        "catalog-kubectl",
        "kubectl (server-side validation)",
        &kubectl::cases().await,
    );
}

#[tokio::test]
async fn the_cli_refuses_bad_input_and_changes_nothing() {
    report("catalog-cli", "The convox CLI", &cli::cases().await);
}

#[tokio::test]
async fn the_operator_reports_unusable_releases_and_changes_nothing_that_runs() {
    report("catalog-operator", "The operator", &operator::cases().await);
}
