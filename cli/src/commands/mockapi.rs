//! A mock API server for command tests (tower-test): each request checked, then answered.

use http::{Request, Response};
use kube::client::Body;
use serde_json::Value;
use tower_test::mock::{self, Handle, SendResponse};

use crate::context::Ctx;

/// The server side of the mock: the requests a command makes, in the order it makes them.
pub type ApiServer = Handle<Request<Body>, Response<Body>>;

/// A context for app `myapp` in namespace `default` over a mock API server.
pub fn pair() -> (Ctx, ApiServer) {
    let (service, server) = mock::pair::<Request<Body>, Response<Body>>();
    let ctx = Ctx {
        client: kube::Client::new(service, "default"),
        namespace: "default".into(),
        app: "myapp".into(),
    };
    (ctx, server)
}

/// One request as the server saw it.
#[derive(Debug)]
pub struct Seen {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query, empty for none.
    pub query: String,
    /// The JSON body, `Null` for none.
    pub body: Value,
}

/// The next request and the handle to answer it, or `None` once every client is gone.
pub async fn next(server: &mut ApiServer) -> Option<(Seen, SendResponse<Response<Body>>)> {
    let (request, send) = server.next_request().await?;
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let bytes = request.into_body().collect_bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let seen = Seen {
        method,
        path,
        query,
        body,
    };
    Some((seen, send))
}

/// Answers `send` with `answer` as JSON.
pub fn answer(send: SendResponse<Response<Body>>, answer: &Value) {
    send.send_response(Response::new(Body::from(
        serde_json::to_vec(answer).expect("JSON"),
    )));
}

/// Answers the next request, which must be `method path`, with `answer`; returns its query and body.
pub async fn expect(
    server: &mut ApiServer,
    method: &str,
    path: &str,
    reply: Value,
) -> (String, Value) {
    let (seen, send) = next(server).await.expect("a request");
    assert_eq!((seen.method.as_str(), seen.path.as_str()), (method, path));
    answer(send, &reply);
    (seen.query, seen.body)
}
