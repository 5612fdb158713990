//! Environment variables: parsing, validation, the stored text form, diffs and the pinned Secret.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;

use crate::labels;
use crate::release::EnvSecretRef;

/// An environment: keys to values, kept sorted.
pub type Env = BTreeMap<String, String>;

/// Bad environment input.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    /// A `KEY=VALUE` token without `=`.
    #[error("invalid env assignment {0:?}: expected KEY=VALUE")]
    MissingEquals(String),
    /// A key outside `[A-Za-z_][A-Za-z0-9_]*`.
    #[error(
        "invalid env key {0:?}: keys start with a letter or _ and hold only letters, digits and _"
    )]
    BadKey(String),
    /// A Secret value that is not UTF-8 text.
    #[error("env value of {0} is not UTF-8 text")]
    NotText(String),
    /// A quoted value that does not parse.
    #[error("invalid quoted value for {0}: {1}")]
    BadQuote(String, String),
    /// More than a Secret holds.
    #[error(
        "the environment takes {0} bytes: Kubernetes Secrets hold at most 1 MiB (1048576 bytes)"
    )]
    TooLarge(usize),
}

/// Bytes of keys and values one Kubernetes Secret may hold.
pub const SECRET_LIMIT: usize = 1 << 20;

/// Checks that `env` fits in one Secret, which counts the bytes of its keys and values.
pub fn check_size(env: &Env) -> Result<(), EnvError> {
    let size: usize = env.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > SECRET_LIMIT {
        Err(EnvError::TooLarge(size))
    } else {
        Ok(())
    }
}

/// Checks that `key` is a valid environment variable name.
pub fn validate_key(key: &str) -> Result<(), EnvError> {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(EnvError::BadKey(key.to_string()))
    }
}

/// Parses `KEY=VALUE` command-line tokens; the value may be empty or hold `=` and newlines.
pub fn parse_assignments<S: AsRef<str>>(tokens: &[S]) -> Result<Vec<(String, String)>, EnvError> {
    tokens
        .iter()
        .map(|token| {
            let token = token.as_ref();
            let (key, value) = token
                .split_once('=')
                .ok_or_else(|| EnvError::MissingEquals(token.to_string()))?;
            validate_key(key)?;
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// Checks every key of an environment.
pub fn validate(env: &Env) -> Result<(), EnvError> {
    env.keys().try_for_each(|k| validate_key(k))
}

/// The stored text form: sorted `KEY=VALUE` lines joined by `\n`, no trailing newline.
pub fn to_text(env: &Env) -> String {
    env.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The editable form: one `KEY=VALUE` a line, multi-line or quoted values as JSON strings.
pub fn to_editable(env: &Env) -> String {
    env.iter()
        .map(|(k, v)| {
            if v.contains('\n') || v.starts_with('"') {
                format!("{k}={}\n", serde_json::Value::String(v.clone()))
            } else {
                format!("{k}={v}\n")
            }
        })
        .collect()
}

/// Parses the editable form: blank lines and `#` comments are skipped, `"…"` values are JSON strings.
pub fn parse_editable(text: &str) -> Result<Env, EnvError> {
    let mut env = Env::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = parse_assignments(&[line])?.remove(0);
        let value = if value.starts_with('"') {
            serde_json::from_str::<String>(&value)
                .map_err(|e| EnvError::BadQuote(key.clone(), e.to_string()))?
        } else {
            value
        };
        env.insert(key, value);
    }
    Ok(env)
}

/// The keys added, changed and removed between two environments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EnvChange {
    /// Keys only in the new environment.
    pub added: Vec<String>,
    /// Keys in both with different values.
    pub changed: Vec<String>,
    /// Keys only in the old environment.
    pub removed: Vec<String>,
}

impl EnvChange {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// Convox's release description: `env add:A,B change:C remove:D` (keys only).
    pub fn description(&self) -> String {
        let groups = [
            ("add", &self.added),
            ("change", &self.changed),
            ("remove", &self.removed),
        ];
        let parts: Vec<String> = groups
            .iter()
            .filter(|(_, keys)| !keys.is_empty())
            .map(|(verb, keys)| format!("{verb}:{}", keys.join(",")))
            .collect();
        format!("env {}", parts.join(" ")).trim_end().to_string()
    }
}

/// Compares two environments; each group comes out sorted.
pub fn diff(old: &Env, new: &Env) -> EnvChange {
    let mut change = EnvChange::default();
    for (key, value) in new {
        match old.get(key) {
            None => change.added.push(key.clone()),
            Some(v) if v != value => change.changed.push(key.clone()),
            Some(_) => {}
        }
    }
    change.removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    change
}

/// SHA-256 of the environment, hex-encoded: of the text form when no value holds a newline
/// (keys hold no `=` or newline, so that form is unambiguous, and releases made earlier keep
/// their hash), else of the JSON form, so that `A="x\nB=y"` and `A=x, B=y` never share a hash.
pub fn hash(env: &Env) -> String {
    let form = if env.values().any(|v| v.contains('\n')) {
        serde_json::to_string(env).unwrap_or_default()
    } else {
        to_text(env)
    };
    crate::digest::sha256_hex(&form)
}

/// Name of the immutable Secret that pins a release's environment.
pub fn secret_name(release: &str) -> String {
    format!("{release}-env")
}

/// The immutable Secret pinning `env` for a release, and the reference the Release records.
pub fn pinned_secret(app: &str, release: &str, env: &Env) -> (Secret, EnvSecretRef) {
    let mut secret_labels = labels::app_labels(app);
    secret_labels.insert(labels::RELEASE.to_string(), release.to_string());
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(release)),
            labels: Some(secret_labels),
            ..ObjectMeta::default()
        },
        immutable: Some(true),
        type_: Some("Opaque".to_string()),
        data: Some(
            env.iter()
                .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    };
    let reference = EnvSecretRef {
        name: secret_name(release),
        keys: env.keys().cloned().collect(),
        sha256: hash(env),
    };
    (secret, reference)
}

/// The environment a Secret holds.
pub fn from_secret(secret: &Secret) -> Result<Env, EnvError> {
    let mut env = Env::new();
    for (key, value) in secret.data.iter().flatten() {
        let text =
            String::from_utf8(value.0.clone()).map_err(|_| EnvError::NotText(key.clone()))?;
        env.insert(key.clone(), text);
    }
    for (key, value) in secret.string_data.iter().flatten() {
        env.insert(key.clone(), value.clone());
    }
    Ok(env)
}

/// An env from `(key, value)` pairs, as tests and fixtures write one.
pub fn from_pairs(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::from_pairs as env;

    #[test]
    fn assignments_parse_with_empty_values_and_equals_signs() {
        let parsed = parse_assignments(&["FOO=bar", "EMPTY=", "URL=a=b", "ML=x\ny"]).unwrap();
        assert_eq!(parsed[1], ("EMPTY".into(), "".into()));
        assert_eq!(parsed[2], ("URL".into(), "a=b".into()));
        assert_eq!(parsed[3], ("ML".into(), "x\ny".into()));
    }

    #[test]
    fn a_token_without_equals_is_an_error_not_dropped() {
        let err = parse_assignments(&["FOO=bar", "BAZ"]).unwrap_err();
        assert_eq!(err, EnvError::MissingEquals("BAZ".into()));
        assert_eq!(
            err.to_string(),
            "invalid env assignment \"BAZ\": expected KEY=VALUE"
        );
    }

    #[test]
    fn bad_keys_are_refused_with_the_rule() {
        for bad in ["1FOO", "FOO-BAR", "", "FÖÖ", "A B"] {
            let err = parse_assignments(&[format!("{bad}=x")]).unwrap_err();
            assert_eq!(err, EnvError::BadKey(bad.into()));
        }
        assert!(
            EnvError::BadKey("1X".into())
                .to_string()
                .contains("start with a letter or _")
        );
        for good in ["FOO", "_x", "a1_B2"] {
            assert!(validate_key(good).is_ok());
        }
    }

    #[test]
    fn text_form_is_sorted_without_trailing_newline() {
        assert_eq!(to_text(&env(&[("B", "2"), ("A", "1")])), "A=1\nB=2");
        assert_eq!(to_text(&Env::new()), "");
    }

    #[test]
    fn editable_form_round_trips_multi_line_values() {
        let original = env(&[
            ("CERT", "line1\nline2"),
            ("PLAIN", "x=y"),
            ("Q", "\"quoted\""),
        ]);
        let text = to_editable(&original);
        assert!(text.contains("CERT=\"line1\\nline2\"\n"));
        assert_eq!(parse_editable(&text).unwrap(), original);
    }

    #[test]
    fn editable_form_skips_comments_and_reports_bad_lines() {
        let parsed = parse_editable("# comment\n\nFOO=bar\n").unwrap();
        assert_eq!(parsed, env(&[("FOO", "bar")]));
        assert_eq!(
            parse_editable("FOO=bar\nNOPE\n").unwrap_err(),
            EnvError::MissingEquals("NOPE".into())
        );
        assert!(matches!(
            parse_editable("FOO=\"open").unwrap_err(),
            EnvError::BadQuote(..)
        ));
    }

    #[test]
    fn diff_describes_changes_like_convox() {
        let old = env(&[("A", "1"), ("B", "2"), ("C", "3")]);
        let new = env(&[("A", "1"), ("B", "9"), ("D", "4"), ("E", "5")]);
        let change = diff(&old, &new);
        assert_eq!(change.description(), "env add:D,E change:B remove:C");
        assert_eq!(
            diff(&Env::new(), &env(&[("FOO", "bar")])).description(),
            "env add:FOO"
        );
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn pinned_secret_is_immutable_and_hash_detects_changes() {
        let e = env(&[("FOO", "bar")]);
        let (secret, reference) = pinned_secret("myapp", "rabcdefghij", &e);
        assert_eq!(secret.immutable, Some(true));
        assert_eq!(reference.name, "rabcdefghij-env");
        assert_eq!(reference.keys, vec!["FOO".to_string()]);
        assert_eq!(from_secret(&secret).unwrap(), e);
        assert_eq!(reference.sha256, hash(&e));
        assert_ne!(hash(&e), hash(&env(&[("FOO", "baz")])));
    }

    #[test]
    fn an_environment_must_fit_in_a_secret() {
        let fits = env(&[("A", &"x".repeat(SECRET_LIMIT - 1))]);
        assert_eq!(check_size(&fits), Ok(()));
        let over = env(&[("AB", &"x".repeat(SECRET_LIMIT - 1))]);
        assert_eq!(check_size(&over), Err(EnvError::TooLarge(SECRET_LIMIT + 1)));
    }

    #[test]
    fn a_multi_line_value_and_the_keys_it_spells_have_different_hashes() {
        let multi = env(&[("A", "x\nB=y")]);
        let split = env(&[("A", "x"), ("B", "y")]);
        assert_eq!(to_text(&multi), to_text(&split));
        assert_ne!(hash(&multi), hash(&split));
        // Single-line environments keep the hash of their text form.
        assert_eq!(hash(&split), crate::digest::sha256_hex("A=x\nB=y"));
    }

    #[test]
    fn non_text_secret_values_are_reported() {
        let secret = Secret {
            data: Some(BTreeMap::from([(
                "BIN".to_string(),
                ByteString(vec![0xff, 0xfe]),
            )])),
            ..Secret::default()
        };
        assert_eq!(
            from_secret(&secret).unwrap_err(),
            EnvError::NotText("BIN".into())
        );
    }
}
