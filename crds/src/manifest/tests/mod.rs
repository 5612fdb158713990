//! The convox.yml parser: the seed page's example, every setting and the defaults here; the
//! forms of a setting, the environment, and what is refused or ignored in the modules below.

use std::collections::BTreeMap;

use super::*;

mod env;
mod errors;
mod forms;

const FULL: &str = include_str!("../../../tests/fixtures/manifest/full.yml");

const SERVICE_ERRORS: &str = include_str!("../../../tests/fixtures/manifest/service-errors.txt");

use crate::env::from_pairs as env;

fn decl(name: &str, default: Option<&str>) -> EnvDecl {
    EnvDecl {
        name: name.into(),
        default: default.map(Into::into),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    env(pairs)
}

/// The one service of a manifest with a single service.
fn only(text: &str) -> Service {
    let manifest = Manifest::parse(text).unwrap();
    manifest.services.into_values().next().unwrap()
}

/// The message of the error that parsing `text` gives.
fn error(text: &str) -> String {
    Manifest::parse(text).unwrap_err().to_string()
}

#[test]
fn seed_example() {
    let web = only(
        "\
services:
  web:
    build: .
    command: bin/web
    port: 5000
",
    );
    assert_eq!(
        web,
        Service {
            name: "web".into(),
            image: None,
            build: Some(".".into()),
            dockerfile: "Dockerfile".into(),
            command: Some("bin/web".into()),
            port: Some(Port {
                scheme: "http".into(),
                number: 5000
            }),
            health: Health::default(),
            scale: Scale::default(),
            deployment: Rolling::default(),
            environment: vec![],
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    );
}

#[test]
fn every_setting() {
    let manifest = Manifest::load(
        FULL,
        &env(&[
            ("TAG", "v7"),
            ("DATABASE_URL", "x"),
            ("SESSION_SECRET", "y"),
        ]),
    )
    .unwrap();
    assert_eq!(
        manifest.environment,
        vec![decl("DATABASE_URL", None), decl("LOG_LEVEL", Some("info"))]
    );
    let web = &manifest.services["web"];
    assert_eq!(
        *web,
        Service {
            name: "web".into(),
            image: Some("registry.example.com/shop/web:v7".into()),
            build: None,
            dockerfile: "Dockerfile".into(),
            command: Some("bin/web --port 8443".into()),
            port: Some(Port {
                scheme: "https".into(),
                number: 8443
            }),
            health: Health {
                path: "/healthz".into(),
                interval: 10,
                grace: 30,
                timeout: 3
            },
            scale: Scale {
                count: 2,
                max: Some(6),
                cpu: Some(500),
                memory: Some(1024),
                targets: Targets {
                    cpu: Some(70),
                    memory: None
                },
            },
            deployment: Rolling {
                minimum: 100,
                maximum: 150
            },
            environment: vec![
                decl("LOG_LEVEL", Some("debug")),
                decl("SESSION_SECRET", None)
            ],
            labels: map(&[("team", "storefront"), ("tier", "frontend")]),
            annotations: map(&[("example.com/owner", "shop"), ("example.com/retries", "3")]),
        }
    );
    let worker = &manifest.services["worker"];
    assert_eq!(worker.build.as_deref(), Some("./worker"));
    assert_eq!(worker.scale.count, 0);
    assert_eq!(worker.labels, map(&[("team", "payments")]));
    assert_eq!(worker.port, None);
}

#[test]
fn defaults() {
    let web = only("services:\n  web:\n    image: nginx\n");
    assert_eq!(web.image.as_deref(), Some("nginx"));
    assert_eq!(web.build, None);
    assert_eq!(web.command, None);
    assert_eq!(web.port, None);
    let health = Health {
        path: "/".into(),
        interval: 5,
        grace: 5,
        timeout: 4,
    };
    assert_eq!(web.health, health);
    assert_eq!(
        web.scale,
        Scale {
            count: 1,
            max: None,
            cpu: None,
            memory: None,
            targets: Targets::default(),
        }
    );
    assert_eq!(
        web.deployment,
        Rolling {
            minimum: 50,
            maximum: 200
        }
    );
    // Like Convox, a service that names no image is built from the app's root.
    assert_eq!(only("services:\n  web:\n").build.as_deref(), Some("."));
    let web = only("services: {web: {build: {manifest: Dockerfile.web}}}");
    assert_eq!(web.build.as_deref(), Some("."));
    assert_eq!(web.dockerfile, "Dockerfile.web");
    assert_eq!(
        only("services: {web: {build: ./web}}").dockerfile,
        "Dockerfile"
    );
}
