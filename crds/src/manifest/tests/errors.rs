//! What is refused and what is ignored: structure, services, names, Convox keys, garbage.

use super::*;

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
