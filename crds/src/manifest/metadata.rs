//! Labels and annotations: the forms Convox accepts, Kubernetes key syntax, reserved keys.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::labels::{GROUP, MANAGED_BY, is_tracking_key};

type Check<T> = Result<T, String>;

/// Which of the two a key-value setting is: their rules differ only for values.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Label,
    Annotation,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Label => "label",
            Kind::Annotation => "annotation",
        }
    }
}

/// Labels or annotations, as Convox accepts them: a map, or a list of `key=value` strings.
pub(super) fn key_values(value: Option<&Value>, kind: Kind) -> Check<BTreeMap<String, String>> {
    let message = format!(
        "{}s must be a map or a list of key=value entries",
        kind.noun()
    );
    let mut pairs = Vec::new();
    let add_map = |pairs: &mut Vec<(String, String)>, map: &Map<String, Value>| {
        for (key, value) in map {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                Value::Null => String::new(),
                _ => return Err(format!("{} {key:?} must have a text value", kind.noun())),
            };
            pairs.push((key.clone(), value));
        }
        Ok(())
    };
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => add_map(&mut pairs, map)?,
        Some(Value::Array(entries)) => {
            for entry in entries {
                match entry {
                    Value::String(entry) => {
                        let (key, value) = entry.split_once('=').ok_or_else(|| message.clone())?;
                        pairs.push((key.to_string(), value.to_string()));
                    }
                    Value::Object(map) => add_map(&mut pairs, map)?,
                    _ => return Err(message),
                }
            }
        }
        Some(_) => return Err(message),
    }
    let mut out = BTreeMap::new();
    for (key, value) in pairs {
        check_key_value(kind, &key, &value)?;
        if out.insert(key.clone(), value).is_some() {
            return Err(format!("{} {key:?} is set twice", kind.noun()));
        }
    }
    Ok(out)
}

fn check_key_value(kind: Kind, key: &str, value: &str) -> Check<()> {
    let noun = kind.noun();
    let prefix = key.split_once('/').map(|(prefix, _)| prefix);
    // Only slipway.dev/ itself: subdomains (testenv.slipway.dev) belong to others.
    let slipway = prefix == Some(GROUP);
    if slipway || key == MANAGED_BY || is_tracking_key(key) {
        return Err(format!(
            "{noun} {key:?} is reserved for Slipway and GitOps tools"
        ));
    }
    if !is_qualified_name(key) {
        return Err(format!(
            "{noun} key {key:?} is invalid: an optional DNS prefix and /, then at most 63 \
             letters, digits, -, _ or ., starting and ending with a letter or digit"
        ));
    }
    if kind == Kind::Label && !value.is_empty() && !is_name_part(value) {
        return Err(format!(
            "label {key:?} has an invalid value: at most 63 letters, digits, -, _ or ., \
             starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A Kubernetes label or annotation key: `[prefix/]name`.
fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_name_part(name),
        None => is_name_part(key),
    }
}

/// The name part of a key, and the form of a non-empty label value.
fn is_name_part(name: &str) -> bool {
    name.len() <= 63
        && alphanumeric_ends(name)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn is_dns_subdomain(prefix: &str) -> bool {
    prefix.len() <= 253
        && alphanumeric_ends(prefix)
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

fn alphanumeric_ends(text: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_alphanumeric();
    text.chars().next().is_some_and(alphanumeric)
        && text.chars().next_back().is_some_and(alphanumeric)
}
