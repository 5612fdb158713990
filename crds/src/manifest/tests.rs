use std::collections::BTreeMap;

use super::*;

const FULL: &str = include_str!("../../tests/fixtures/manifest/full.yml");
const SERVICE_ERRORS: &str = include_str!("../../tests/fixtures/manifest/service-errors.txt");

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

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

#[test]
fn health_forms() {
    assert_eq!(only("services: {web: {health: /up}}").health.path, "/up");
    let health = only("services: {web: {health: {interval: 20}}}").health;
    assert_eq!(
        (health.interval, health.grace, health.timeout),
        (20, 20, 19)
    );
    // Convox reads 0 as "the default".
    let health = only("services: {web: {health: {interval: 0, grace: 0, timeout: 0}}}").health;
    assert_eq!(health, Health::default());
}

#[test]
fn port_forms() {
    let port = |yaml: &str| {
        only(&format!("services: {{web: {{port: {yaml}}}}}"))
            .port
            .unwrap()
    };
    let http = |number| Port {
        scheme: "http".into(),
        number,
    };
    let https = |number| Port {
        scheme: "https".into(),
        number,
    };
    assert_eq!(port("3000"), http(3000));
    assert_eq!(port("'3000'"), http(3000));
    assert_eq!(port("https:3000"), https(3000));
    assert_eq!(port("{port: 443, scheme: HTTPS}"), https(443));
}

#[test]
fn scale_forms() {
    let count = |yaml: &str| {
        only(&format!("services: {{web: {{scale: {yaml}}}}}"))
            .scale
            .count
    };
    assert_eq!(count("3"), 3);
    assert_eq!(count("1-3"), 1);
    assert_eq!(count("{count: 2-4}"), 2);
    assert_eq!(count("{count: {min: 2, max: 4}}"), 2);
    assert_eq!(count("{min: 3, max: 5}"), 3);
    assert_eq!(count("{cpu: 256}"), 1);
    assert_eq!(count("{count: 0}"), 0);
    let scale = only("services: {web: {scale: {cpu: 0, memory: '512'}}}").scale;
    assert_eq!((scale.cpu, scale.memory), (None, Some(512)));
}

#[test]
fn ranges_autoscale_to_their_targets() {
    let scale = |yaml: &str| only(&format!("services: {{web: {{scale: {yaml}}}}}")).scale;
    assert_eq!(scale("1-5").autoscale(), Some((1, 5)));
    assert_eq!(scale("{count: 2-4}").autoscale(), Some((2, 4)));
    assert_eq!(scale("{min: 3, max: 5}").autoscale(), Some((3, 5)));
    assert_eq!(scale("{count: {min: 2, max: 4}}").autoscale(), Some((2, 4)));
    assert_eq!(scale("3").autoscale(), None);
    assert_eq!(scale("2-2").autoscale(), None);
    let targeted = scale("{count: 1-5, targets: {cpu: 70, memory: 80}}");
    assert_eq!(
        targeted.targets,
        Targets {
            cpu: Some(70),
            memory: Some(80)
        }
    );
}

#[test]
fn labels_and_annotations_as_map_or_list() {
    let web = only("services: {web: {labels: [a=1, b=], annotations: {c: x=y, d: true}}}");
    assert_eq!(web.labels, map(&[("a", "1"), ("b", "")]));
    assert_eq!(web.annotations, map(&[("c", "x=y"), ("d", "true")]));
    let web = only("services: {web: {annotations: [{example.com/a: b}, 'c=d e']}}");
    assert_eq!(
        web.annotations,
        map(&[("c", "d e"), ("example.com/a", "b")])
    );
}

#[test]
fn interpolation() {
    let env = env(&[("A", "1"), ("B_2", "two"), ("E", "")]);
    assert_eq!(interpolate("x ${A} ${B_2}${A}", &env), "x 1 two1");
    assert_eq!(interpolate("${UNSET}|${E}|", &env), "||");
    // Not references: escaped, shell defaults, bad names, unclosed.
    assert_eq!(
        interpolate("$$ $${A} ${A:-3} ${ A } ${1} ${A", &env),
        "$$ $${A} ${A:-3} ${ A } ${1} ${A"
    );
    assert_eq!(interpolate("$A $ ${} é${A}é $", &env), "$A $ ${} é1é $");
}

#[test]
fn load_interpolates_then_checks_required_env() {
    let text = "\
environment: [API_KEY, REGION=eu]
services:
  web:
    image: app:${TAG}
    environment: [TOKEN, API_KEY]
  worker:
    image: app:${TAG}
    environment: [REGION]
";
    let full = env(&[
        ("TAG", "v1"),
        ("API_KEY", "k"),
        ("TOKEN", "t"),
        ("REGION", "us"),
    ]);
    assert_eq!(
        Manifest::load(text, &full).unwrap().services["web"]
            .image
            .as_deref(),
        Some("app:v1")
    );

    // Sorted and deduplicated across services; `worker` makes REGION required over the default.
    let err = Manifest::load(text, &env(&[])).unwrap_err();
    assert_eq!(
        err,
        ManifestError::RequiredEnv(vec!["API_KEY".into(), "REGION".into(), "TOKEN".into()])
    );
    assert_eq!(err.to_string(), "required env: API_KEY, REGION, TOKEN");
    // A required variable whose emptiness breaks the structure is still named as such.
    let text = "\
environment: [RUNNER]
services:
  web:
    command: ${RUNNER}[web]
";
    assert_eq!(
        Manifest::load(text, &env(&[])).unwrap_err().to_string(),
        "required env: RUNNER"
    );
}

#[test]
fn service_env_merges_app_and_service_declarations() {
    let text = "\
environment: [A, B=app, '*']
services:
  web:
    environment: [B=web, C]
  worker:
";
    let manifest = Manifest::parse(text).unwrap();
    assert_eq!(
        manifest.service_env("web"),
        vec![decl("A", None), decl("B", Some("web")), decl("C", None)]
    );
    assert_eq!(
        manifest.service_env("worker"),
        vec![decl("A", None), decl("B", Some("app"))]
    );
    assert_eq!(manifest.service_env("nope"), vec![]);
    assert_eq!(manifest.missing_env(&env(&[("C", "")])), vec!["A"]);
}

#[test]
fn structural_errors() {
    let empty = "invalid convox.yml: the file is empty";
    assert_eq!(error(""), empty);
    assert_eq!(error("# nothing yet\n"), empty);
    assert_eq!(
        error("[]"),
        "invalid convox.yml: expected a map with a services: section"
    );
    let none = "invalid convox.yml: no services: add at least one under services:";
    assert_eq!(error("environment: [A]"), none);
    assert_eq!(error("services: {}"), none);
    assert_eq!(
        error("services: 3"),
        "invalid convox.yml: services must be a map from service name to settings"
    );
    assert_eq!(
        error("servces: {}"),
        "invalid convox.yml: unknown field \"servces\""
    );
    assert_eq!(
        error("services: {web: nginx}"),
        "invalid convox.yml: service web: settings must be a map"
    );
    let yaml = error("services:\n  web: [a\n");
    assert!(
        yaml.starts_with("invalid convox.yml: ") && yaml.contains("line 2"),
        "{yaml}"
    );
}

#[test]
fn service_errors() {
    let mut lines = SERVICE_ERRORS
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    let mut cases = 0;
    while let (Some(settings), Some(expected)) = (lines.next(), lines.next()) {
        let expected = expected.strip_prefix("=> ").unwrap();
        let text = format!("services:\n  web:\n    {settings}\n");
        let expected = format!("invalid convox.yml: service web: {expected}");
        assert_eq!(error(&text), expected, "{settings}");
        cases += 1;
    }
    assert!(cases > 30);
}

#[test]
fn service_names() {
    let rule = "must be lower-case letters, digits and dashes, start with a letter and have at most 22 characters";
    for name in [
        "Web",
        "9lives",
        "web-",
        "web_1",
        "a23456789012345678901234",
        "\"\"",
    ] {
        let message = error(&format!("services: {{{name}: {{image: x}}}}"));
        assert!(
            message.starts_with("invalid convox.yml: service name ") && message.ends_with(rule),
            "{message}"
        );
    }
    assert!(Manifest::parse("services: {a2345678901234567890-2: {image: x}}").is_ok());
}

#[test]
fn known_convox_keys_are_ignored() {
    let text = "\
params: {a: b}
balancers: {}
appSettings: {}
services:
  web:
    agent: true
    singleton: true
    tls: {redirect: false}
    volumes: [/data]
    ports: [5000/udp]
";
    assert!(Manifest::parse(text).is_ok());
}

#[test]
fn errors_never_show_env_values() {
    let secret = env(&[("VALUE", "s3cr3t: [oops"), ("PORT", "s3cr3t")]);
    for text in [
        "services: {web: {command: ${VALUE}}}",
        "services: {web: {port: '${PORT}'}}",
    ] {
        let message = Manifest::load(text, &secret).unwrap_err().to_string();
        assert!(!message.contains("s3cr3t"), "{message}");
    }
}

#[test]
fn garbage_gives_errors_not_panics() {
    let deep_list = "[".repeat(10_000);
    let unclosed = "${".repeat(100_000);
    let deep_map: String = (0..300)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let inputs = [
        "",
        " ",
        "~",
        "[]",
        "{}",
        "3",
        "'services'",
        "services:",
        "services: 3",
        "services: [web]",
        "services: {web: 3}",
        "services: {web: []}",
        "services: {1: {}}",
        "services: {web: {port: -1}}",
        "services: {web: {scale: 99999999999999999999999}}",
        "services: {web: {port: 1e400}}",
        "services: {web: {health: {interval: 4294967297}}}",
        "services: {web: {scale: {count: {}}}}x",
        "services: {web: {environment: [[[A]]]}}",
        "services: {web: {labels: {k: {x: y}}}}",
        "services:\n\tweb: {}",
        "\u{0}",
        "\u{FEFF}",
        "💥: 💥",
        "services: {wëb: {}}",
        "services: {\"\\ud800\": {}}",
        "a: 1\na: 2",
        "---\n---\n",
        "? [a]\n: b",
        "&a [*a]",
        "*a",
        "!!binary x",
        "services: {web: {build: {}}}, x",
        "services: {web: {port: {port: https:443}}}",
        "services: {web: {health: ${X}}}",
        &deep_list,
        &unclosed,
        &deep_map,
    ];
    for input in inputs {
        let shown: String = input.chars().take(60).collect();
        assert!(Manifest::parse(input).is_err(), "parse accepted {shown:?}");
        assert!(
            Manifest::load(input, &env(&[("X", "}{")])).is_err(),
            "load accepted {shown:?}"
        );
        let _ = interpolate(input, &env(&[]));
    }
    // A billion laughs, stopped by the parser's budget.
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        let aliases = vec![format!("*a{}", i - 1); 9].join(", ");
        laughs.push_str(&format!("a{i}: &a{i} [{aliases}]\n"));
    }
    assert!(Manifest::parse(&laughs).is_err());
}
