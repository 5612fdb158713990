//! The operator's own API requests: a tower layer on kube's client that counts each answer by
//! verb and status code and times it.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use tower::Service;

use super::Metrics;

/// A kube client for the inferred config whose requests `metrics` counts and times.
pub async fn counted_client(metrics: Arc<Metrics>) -> kube::Result<kube::Client> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    let layer = tower::layer::layer_fn(move |inner| Measured {
        inner,
        metrics: metrics.clone(),
    });
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&layer)
        .build())
}

/// A service that records every request it passes on in the metrics.
pub struct Measured<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> Service<http::Request<B>> for Measured<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let verb = verb(request.method(), request.uri());
        let started = Instant::now();
        let metrics = self.metrics.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let result = answer.await;
            let code = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "error".to_string(),
            };
            metrics.requested(verb, &code, started.elapsed());
            result
        })
    }
}

/// The Kubernetes verb of a request, from its method and path (as the API server names it).
fn verb(method: &http::Method, uri: &http::Uri) -> &'static str {
    let query = uri.query().unwrap_or_default();
    match *method {
        http::Method::GET
            if query
                .split('&')
                .any(|p| p == "watch=true" || p == "watch=1") =>
        {
            "watch"
        }
        http::Method::GET if is_collection(uri.path()) => "list",
        http::Method::GET => "get",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    }
}

/// Whether a path names a collection (`/apis/g/v/namespaces/ns/kind`) rather than one object.
fn is_collection(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.first() {
        Some(&"api") => parts.get(2..),
        Some(&"apis") => parts.get(3..),
        _ => None,
    }
    .unwrap_or_default();
    let rest = match rest {
        ["namespaces", _, kind, tail @ ..] => [&[*kind][..], tail].concat(),
        other => other.to_vec(),
    };
    rest.len() == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn verb_of(method: http::Method, uri: &str) -> &'static str {
        verb(&method, &uri.parse().unwrap())
    }

    #[test]
    fn names_verbs_as_the_api_server_does() {
        let deployments = "/apis/apps/v1/namespaces/ns/deployments";
        assert_eq!(verb_of(http::Method::GET, deployments), "list");
        assert_eq!(
            verb_of(
                http::Method::GET,
                &format!("{deployments}?labelSelector=a%3Db")
            ),
            "list"
        );
        assert_eq!(
            verb_of(
                http::Method::GET,
                &format!("{deployments}?watch=true&resourceVersion=1")
            ),
            "watch"
        );
        assert_eq!(
            verb_of(http::Method::GET, &format!("{deployments}/web")),
            "get"
        );
        assert_eq!(verb_of(http::Method::GET, "/api/v1/namespaces"), "list");
        assert_eq!(verb_of(http::Method::GET, "/api/v1/namespaces/ns"), "get");
        assert_eq!(
            verb_of(http::Method::GET, "/apis/slipway.dev/v1alpha1/apps"),
            "list"
        );
        assert_eq!(
            verb_of(
                http::Method::PATCH,
                "/apis/slipway.dev/v1alpha1/namespaces/ns/apps/a/status"
            ),
            "patch"
        );
        assert_eq!(
            verb_of(http::Method::POST, "/api/v1/namespaces/ns/secrets"),
            "create"
        );
        assert_eq!(
            verb_of(http::Method::DELETE, "/api/v1/namespaces/ns/services/s"),
            "delete"
        );
    }

    #[tokio::test]
    async fn counts_answers_by_verb_and_code_and_times_them() {
        let metrics = Arc::new(Metrics::default());
        let answers = tower::service_fn(|request: http::Request<()>| async move {
            let status = if request.uri().path().ends_with("/missing") {
                404
            } else {
                200
            };
            let response = http::Response::builder().status(status).body(()).unwrap();
            Ok::<_, std::convert::Infallible>(response)
        });
        let mut service = Measured {
            inner: answers,
            metrics: metrics.clone(),
        };
        for path in ["pods", "pods", "pods/missing"] {
            let request = http::Request::get(format!("/api/v1/namespaces/ns/{path}"))
                .body(())
                .unwrap();
            service.ready().await.unwrap().call(request).await.unwrap();
        }
        let text = metrics.encode();
        for line in [
            "slipway_api_requests_total{verb=\"list\",code=\"200\"} 2",
            "slipway_api_requests_total{verb=\"get\",code=\"404\"} 1",
            "slipway_api_request_duration_seconds_count{verb=\"list\"} 2",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
