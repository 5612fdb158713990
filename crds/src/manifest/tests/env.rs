//! Environment: interpolation, required variables, app and service declarations, secrecy.

use super::*;

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
