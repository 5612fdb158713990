//! Acting as a ServiceAccount: a token from the TokenRequest API and a kubeconfig that uses it.

use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::json;

use crate::cluster::{TestNamespace, kubeconfig_path, testenv_dir};

/// A one-hour token of ServiceAccount `namespace/name`.
pub async fn token(client: &Client, namespace: &str, name: &str) -> String {
    token_lasting(client, namespace, name, 3600).await
}

/// A token of ServiceAccount `namespace/name` that lasts `seconds`.
pub async fn token_lasting(client: &Client, namespace: &str, name: &str, seconds: i64) -> String {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(seconds),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("a token for ServiceAccount {namespace}/{name}: {e}"))
        .status
        .and_then(|status| status.token)
        .expect("a token in the TokenRequest status")
}

/// Writes `$TESTENV_DIR/kubeconfig-<label>`: the test control plane, authenticated by
/// `token` only (no client certificate), with `namespace` as the default.
pub fn write_kubeconfig(label: &str, token: &str, namespace: &str) -> PathBuf {
    let admin = Kubeconfig::read_from(kubeconfig_path()).expect("the admin kubeconfig");
    let context = admin
        .current_context
        .as_deref()
        .and_then(|name| admin.contexts.iter().find(|c| c.name == name))
        .and_then(|c| c.context.clone())
        .expect("the admin kubeconfig's current context");
    let cluster = admin
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .expect("the admin kubeconfig's cluster");
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{ "name": label, "user": { "token": token } }],
        "contexts": [{
            "name": label,
            "context": { "cluster": cluster.name, "user": label, "namespace": namespace },
        }],
        "current-context": label,
    });
    let path = testenv_dir().join(format!("kubeconfig-{label}"));
    std::fs::write(&path, serde_json::to_vec_pretty(&config).expect("JSON"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// A client that uses the kubeconfig at `path`.
pub async fn client_from(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("a kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a valid kubeconfig");
    Client::try_from(config).expect("a client")
}

/// A person, played by ServiceAccount `name` bound in `ns` to the ClusterRoles `roles`;
/// returns its kubeconfig.
pub async fn person(ns: &TestNamespace, name: &str, roles: &[String]) -> PathBuf {
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    ns.api::<ServiceAccount>()
        .create(&PostParams::default(), &account)
        .await
        .expect("create ServiceAccount");
    for role in roles {
        let binding = RoleBinding {
            metadata: ObjectMeta {
                name: Some(format!("{name}-{role}")),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: role.clone(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: name.into(),
                namespace: Some(ns.name().into()),
                ..Subject::default()
            }]),
        };
        ns.api::<RoleBinding>()
            .create(&PostParams::default(), &binding)
            .await
            .expect("create RoleBinding");
    }
    let token = token(ns.client(), ns.name(), name).await;
    write_kubeconfig(&format!("{}-{name}", ns.name()), &token, ns.name())
}
