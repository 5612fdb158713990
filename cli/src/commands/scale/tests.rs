//! `convox scale` against a mock API server (tower-test): the requests it makes, in order.

use super::*;
use crate::commands::mockapi::{expect, pair};

fn app(managed_fields: Value) -> Value {
    json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "App",
        "metadata": { "name": "myapp", "namespace": "default", "managedFields": managed_fields },
        "spec": { "release": "rabcdefghij" },
        "status": { "release": "rabcdefghij", "phase": "Running" }
    })
}

fn release() -> Value {
    json!({
        "apiVersion": "slipway.dev/v1alpha1", "kind": "Release",
        "metadata": { "name": "rabcdefghij", "namespace": "default" },
        "spec": { "app": "myapp", "manifest": "services:\n  web:\n    image: nginx\n  worker:\n    image: busybox\n" }
    })
}

const APP: &str = "/apis/slipway.dev/v1alpha1/namespaces/default/apps/myapp";
const RELEASE: &str = "/apis/slipway.dev/v1alpha1/namespaces/default/releases/rabcdefghij";

fn scale_web(count: i32) -> ScaleArgs {
    ScaleArgs {
        service: Some("web".into()),
        count: Some(count),
        ..ScaleArgs::default()
    }
}

#[tokio::test]
async fn scale_merges_one_service_count_into_the_app_as_convox() {
    let (ctx, mut server) = pair();
    let server = tokio::spawn(async move {
        expect(&mut server, "GET", APP, app(json!([]))).await;
        expect(&mut server, "GET", RELEASE, release()).await;
        let (query, body) = expect(&mut server, "PATCH", APP, app(json!([]))).await;
        assert!(query.contains("fieldManager=convox"), "{query}");
        assert_eq!(
            body,
            json!({ "spec": { "services": { "web": { "count": 3 } } } })
        );
    });
    let (mut term, out) = Term::buffer(false);
    scale(&ctx, &mut term, &scale_web(3)).await.unwrap();
    server.await.unwrap();
    assert_eq!(out.text(), "Scaling web... OK\n");
}

#[tokio::test]
async fn a_count_that_git_owns_is_refused_with_the_change_to_commit() {
    let (ctx, mut server) = pair();
    let owned = json!([{
        "manager": "argocd-controller", "operation": "Apply", "apiVersion": "slipway.dev/v1alpha1",
        "fieldsType": "FieldsV1",
        "fieldsV1": { "f:spec": { "f:services": { "f:web": { "f:count": {} } } } }
    }]);
    let server = tokio::spawn(async move {
        expect(&mut server, "GET", APP, app(owned)).await;
        expect(&mut server, "GET", RELEASE, release()).await;
        // No PATCH follows: the mock would hang the command if one did.
    });
    let (mut term, out) = Term::buffer(false);
    let err = scale(&ctx, &mut term, &scale_web(3)).await.unwrap_err();
    server.await.unwrap();
    assert_eq!(
        err.to_string(),
        "spec.services.web.count of app myapp is managed by argocd-controller: make this change in git instead (or pass --force):\napiVersion: slipway.dev/v1alpha1\nkind: App\nmetadata:\n  name: myapp\nspec:\n  services:\n    web:\n      count: 3"
    );
    // Convox leaves the step unfinished on stdout; the error goes to stderr.
    assert_eq!(out.text(), "Scaling web... ");
}

#[test]
fn the_git_change_names_the_service_fields() {
    let fields = BTreeMap::from([
        ("count", json!(3)),
        ("restartedAt", json!("2026-06-24T12:00:00Z")),
    ]);
    assert_eq!(
        settings_snippet("myapp", "web", &fields),
        "apiVersion: slipway.dev/v1alpha1\nkind: App\nmetadata:\n  name: myapp\nspec:\n  services:\n    web:\n      count: 3\n      restartedAt: \"2026-06-24T12:00:00Z\""
    );
}
