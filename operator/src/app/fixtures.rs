//! Objects for unit tests of the pure steps.

use slipway_crds::{Release, ReleaseSpec};

/// A manifest with a web service (port, health, scale) and a worker.
pub const TWO_SERVICES: &str = r#"
services:
  web:
    image: nginx:1.27
    command: bin/web --port 5000
    port: 5000
    health:
      path: /check
      interval: 10
    scale:
      count: 2
      cpu: 250
      memory: 512
    deployment:
      minimum: 50
      maximum: 200
    environment:
      - FOO
      - GREETING=hello
    annotations:
      - team=core
  worker:
    image: busybox:1
    command: bin/work
"#;

/// A release of `app` named `name` with `manifest`.
pub fn release(app: &str, name: &str, manifest: &str) -> Release {
    let mut release = Release::new(
        name,
        ReleaseSpec {
            app: app.into(),
            build: Some("bone".into()),
            manifest: manifest.into(),
            ..ReleaseSpec::default()
        },
    );
    release.metadata.namespace = Some("ns".into());
    release
}

pub use slipway_crds::env::from_pairs as env;
