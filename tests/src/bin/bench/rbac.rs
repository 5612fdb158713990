//! The operator's identity under the benchmark: the chart's ServiceAccount and RBAC, and a
//! kubeconfig with a token of that ServiceAccount. The admin certificate (`system:masters`) is
//! exempt from API priority and fairness, which would flatter the operator's figures; a
//! ServiceAccount is queued like any workload (flow schema `service-accounts`).

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::{Api, Client};
use slipway_tests::{helm, identity};

use crate::kube::create_namespace;

/// The Helm release name the chart is rendered as.
const RELEASE: &str = "slipway-bench";
/// The kinds of the chart the operator's identity is made of.
const KINDS: [&str; 5] = [
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
];
/// Lifetime of the token: longer than any `make bench` (kube-rs reads a kubeconfig's static
/// token once; an operator started late in the run must not outlive it).
const TOKEN_SECONDS: i64 = 6 * 3600;

/// Who the operator runs as.
#[derive(Debug, Clone)]
pub struct Account {
    /// `namespace/name` of the ServiceAccount.
    pub name: String,
    /// The ServiceAccount's namespace.
    pub home: String,
    /// A kubeconfig that authenticates with the ServiceAccount's token only.
    pub kubeconfig: PathBuf,
}

/// Renders the chart (`helm template`, default values: the operator's ClusterRole for every
/// namespace) into namespace `home`, applies its ServiceAccount and RBAC and returns the
/// ServiceAccount's kubeconfig. Checks that it is not an admin: it may not list Nodes.
pub async fn install(client: &Client, home: &str) -> Account {
    create_namespace(client, home).await;
    let rendered = helm::template(
        RELEASE,
        home,
        &["rbac.userRoles=false", "rbac.aggregateToDefaultRoles=false"],
    );
    let identity: Vec<serde_json::Value> = rendered
        .into_iter()
        .filter(|o| KINDS.iter().any(|k| o["kind"] == *k))
        .collect();
    assert!(
        identity.iter().any(|o| o["kind"] == "ClusterRole"),
        "the chart rendered no ClusterRole for the operator"
    );
    helm::apply(client, &identity)
        .await
        .unwrap_or_else(|e| panic!("applying the chart's RBAC: {e}"));
    let account = identity
        .iter()
        .find(|o| o["kind"] == "ServiceAccount")
        .and_then(|o| o["metadata"]["name"].as_str())
        .expect("the chart's ServiceAccount")
        .to_string();
    let token = identity::token_lasting(client, home, &account, TOKEN_SECONDS).await;
    let kubeconfig = identity::write_kubeconfig("bench-operator", &token, home);
    let as_account = identity::client_from(&kubeconfig).await;
    assert!(
        Api::<Node>::all(as_account)
            .list_metadata(&ListParams::default().limit(1))
            .await
            .is_err(),
        "the operator's ServiceAccount may list Nodes: it is not the chart's identity"
    );
    Account {
        name: format!("{home}/{account}"),
        home: home.to_string(),
        kubeconfig,
    }
}
