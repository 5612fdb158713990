//! Walks the YAML document into a [`Manifest`], applying Convox defaults and validating.
//!
//! Every helper returns the message without the `service <name>: ` prefix, which
//! [`manifest`] adds. Messages name keys, never values: after interpolation a value may be a
//! secret from the release env.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use super::fields::{SERVICE_FIELDS, SERVICE_IGNORED, TOP_FIELDS, TOP_IGNORED, check_keys};
use super::metadata::{Kind, key_values};
use super::{EnvDecl, Health, Manifest, ManifestError, Port, Rolling, Scale, Service, Targets};

/// Longest service name: Deployments are named `<app>-<service>`.
const MAX_SERVICE_NAME: usize = 22;

type Check<T> = Result<T, String>;

/// Builds the manifest from the parsed YAML document.
pub(super) fn manifest(document: &Value) -> Result<Manifest, ManifestError> {
    let top = match document {
        Value::Null => return Err(ManifestError::Empty),
        Value::Object(top) => top,
        _ => return Err(invalid("expected a map with a services: section")),
    };
    check_keys(top, "", TOP_FIELDS, TOP_IGNORED).map_err(ManifestError::Invalid)?;
    let environment = env_decls(top.get("environment")).map_err(ManifestError::Invalid)?;
    let labels = key_values(top.get("labels"), Kind::Label).map_err(ManifestError::Invalid)?;
    let services = match top.get("services") {
        Some(Value::Object(services)) if !services.is_empty() => services,
        None | Some(Value::Null | Value::Object(_)) => {
            return Err(invalid("no services: add at least one under services:"));
        }
        Some(_) => {
            return Err(invalid(
                "services must be a map from service name to settings",
            ));
        }
    };
    let services = services
        .iter()
        .map(|(name, settings)| {
            if !is_service_name(name) {
                return Err(invalid(format!(
                    "service name {name:?} must be lower-case letters, digits and dashes, \
                     start with a letter and have at most {MAX_SERVICE_NAME} characters"
                )));
            }
            let service = service(name, settings, &labels)
                .map_err(|message| invalid(format!("service {name}: {message}")))?;
            Ok((name.clone(), service))
        })
        .collect::<Result<_, _>>()?;
    Ok(Manifest {
        environment,
        services,
    })
}

fn invalid(message: impl Into<String>) -> ManifestError {
    ManifestError::Invalid(message.into())
}

fn service(name: &str, settings: &Value, app_labels: &BTreeMap<String, String>) -> Check<Service> {
    let empty = Map::new();
    let fields = match settings {
        Value::Null => &empty,
        Value::Object(fields) => fields,
        _ => return Err("settings must be a map".into()),
    };
    check_keys(fields, "", SERVICE_FIELDS, SERVICE_IGNORED)?;
    let image = text(fields.get("image"), "image must be an image reference")?;
    // As in Convox, a service that names no image is built from the app's root.
    let (build, dockerfile) = build(fields.get("build"))?;
    let build = build.or_else(|| image.is_none().then(|| ".".into()));
    let mut labels = app_labels.clone();
    labels.extend(key_values(fields.get("labels"), Kind::Label)?);
    Ok(Service {
        name: name.to_string(),
        image,
        build,
        dockerfile,
        command: text(fields.get("command"), "command must be a string")?,
        port: port(fields.get("port"))?,
        health: health(fields.get("health"))?,
        scale: scale(fields.get("scale"))?,
        deployment: deployment(fields.get("deployment"))?,
        environment: env_decls(fields.get("environment"))?,
        labels,
        annotations: key_values(fields.get("annotations"), Kind::Annotation)?,
    })
}

/// A string setting; absent, null and blank all mean unset.
fn text(value: Option<&Value>, message: &str) -> Check<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(message.into()),
    }
}

/// A whole number written as a YAML number or as a string of digits.
fn whole(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A whole-number setting within `range`; absent or null means unset.
fn number<T>(value: Option<&Value>, range: RangeInclusive<T>, message: &str) -> Check<Option<T>>
where
    T: TryFrom<i64> + PartialOrd,
{
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match whole(value).and_then(|n| T::try_from(n).ok()) {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(message.into()),
        },
    }
}

/// The build path and the Dockerfile's name (`build.manifest`, default `Dockerfile`).
fn build(value: Option<&Value>) -> Check<(Option<String>, String)> {
    const MESSAGE: &str = "build must be a path (build: .) or a map with path";
    const DOCKERFILE: &str = "build.manifest must be the Dockerfile's path";
    match value {
        Some(Value::Object(fields)) => {
            check_keys(fields, "build.", &["path", "manifest"], &["args"])?;
            let path = text(fields.get("path"), MESSAGE)?;
            let dockerfile = text(fields.get("manifest"), DOCKERFILE)?;
            Ok((
                Some(path.unwrap_or_else(|| ".".into())),
                dockerfile.unwrap_or_else(|| "Dockerfile".into()),
            ))
        }
        other => Ok((text(other, MESSAGE)?, "Dockerfile".into())),
    }
}

fn port(value: Option<&Value>) -> Check<Option<Port>> {
    const MESSAGE: &str =
        "port must be a number from 1 to 65535, or a scheme and a number like https:3000";
    let (scheme, number) = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(fields)) => {
            check_keys(fields, "port.", &["port", "scheme"], &[])?;
            let scheme = text(fields.get("scheme"), "port.scheme must be http or https")?;
            (scheme, fields.get("port").and_then(whole))
        }
        Some(Value::String(text)) => match text.split_once(':') {
            Some((scheme, number)) => (Some(scheme.trim().into()), number.trim().parse().ok()),
            None => (None, text.trim().parse().ok()),
        },
        Some(other) => (None, whole(other)),
    };
    let number = number
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or(MESSAGE)?;
    let scheme = scheme.map_or_else(|| "http".into(), |s| s.to_ascii_lowercase());
    if scheme != "http" && scheme != "https" {
        return Err("port scheme must be http or https".into());
    }
    Ok(Some(Port { scheme, number }))
}

fn health(value: Option<&Value>) -> Check<Health> {
    const MESSAGE: &str = "health must be a path or a map with path, grace, interval and timeout";
    const MAX: u32 = 86_400;
    let path_only;
    let fields = match value {
        None | Some(Value::Null) => return Ok(Health::default()),
        Some(path @ Value::String(_)) => {
            path_only = Map::from_iter([("path".to_string(), path.clone())]);
            &path_only
        }
        Some(Value::Object(fields)) => fields,
        Some(_) => return Err(MESSAGE.into()),
    };
    check_keys(
        fields,
        "health.",
        &["disable", "grace", "interval", "path", "timeout"],
        &[],
    )?;
    match fields.get("disable") {
        None | Some(Value::Null | Value::Bool(false)) => {}
        Some(Value::Bool(true)) => return Err("health.disable is not supported yet".into()),
        Some(_) => return Err("health.disable must be true or false".into()),
    }
    let path = text(fields.get("path"), MESSAGE)?.unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        return Err("health path must start with /".into());
    }
    // As in Convox, 0 means "the default" for every health time.
    let seconds = |key: &str| {
        let message = format!("health.{key} must be a whole number of seconds, at most {MAX}");
        number(fields.get(key), 0..=MAX, &message).map(|n| n.filter(|n| *n > 0))
    };
    let interval = seconds("interval")?.unwrap_or(Health::default().interval);
    let defaults = Health::with_interval(path, interval);
    let health = Health {
        grace: seconds("grace")?.unwrap_or(defaults.grace),
        timeout: seconds("timeout")?.unwrap_or(defaults.timeout),
        ..defaults
    };
    if health.interval < 2 {
        return Err(
            "health.interval must be at least 2 seconds, so that a timeout fits in it".into(),
        );
    }
    if health.timeout >= health.interval {
        return Err(format!(
            "health.timeout must be less than health.interval ({} seconds)",
            health.interval
        ));
    }
    Ok(health)
}

fn scale(value: Option<&Value>) -> Check<Scale> {
    let fields = match value {
        None | Some(Value::Null) => return Ok(Scale::default()),
        Some(Value::Object(fields)) => fields,
        // Convox's shorthand: `scale: 2` or `scale: 1-3`.
        Some(count) => {
            let (count, max) = count_of(count)?;
            return Ok(Scale {
                count,
                max,
                ..Scale::default()
            });
        }
    };
    let ignored = &["autoscale", "gpu", "keda", "limit", "vpa"];
    check_keys(
        fields,
        "scale.",
        &["count", "cpu", "max", "memory", "min", "targets"],
        ignored,
    )?;
    // Newer Convox writes `min`/`max` beside `count`; the first replica count is the lower bound.
    let (count, mut max) = ["count", "min", "max"]
        .iter()
        .find_map(|key| fields.get(*key).filter(|value| !value.is_null()))
        .map(count_of)
        .transpose()?
        .unwrap_or((Scale::default().count, None));
    if max.is_none() && fields.contains_key("min") {
        max = number(
            fields.get("max"),
            0..=i32::MAX,
            "scale.max must be a whole number",
        )?;
    }
    if max.is_some_and(|max| max < count) {
        return Err("scale.count range must go from low to high".into());
    }
    let targets = targets(fields.get("targets"))?;
    // As in Convox, 0 means "the default".
    let cpu = number(
        fields.get("cpu"),
        0..=u32::MAX,
        "scale.cpu must be a whole number of millicores",
    )?;
    let memory = number(
        fields.get("memory"),
        0..=u32::MAX,
        "scale.memory must be a whole number of megabytes",
    )?;
    Ok(Scale {
        count,
        max,
        cpu: cpu.filter(|n| *n > 0),
        memory: memory.filter(|n| *n > 0),
        targets,
    })
}

/// `scale.targets.cpu` and `.memory`, percentages; Convox's custom metrics are not supported.
fn targets(value: Option<&Value>) -> Check<Targets> {
    let fields = match value {
        None | Some(Value::Null) => return Ok(Targets::default()),
        Some(Value::Object(fields)) => fields,
        Some(_) => return Err("scale.targets must be a map like {cpu: 70}".into()),
    };
    check_keys(
        fields,
        "scale.targets.",
        &["cpu", "memory"],
        &["custom", "requests"],
    )?;
    let percent = |key: &str| {
        number(
            fields.get(key),
            1..=u32::MAX,
            &format!("scale.targets.{key} must be a whole percentage above 0"),
        )
    };
    Ok(Targets {
        cpu: percent("cpu")?,
        memory: percent("memory")?,
    })
}

/// A replica count: a number, a `min-max` range or a `{min, max}` map: its minimum and maximum.
fn count_of(value: &Value) -> Check<(i32, Option<i32>)> {
    const MESSAGE: &str = "scale.count must be a whole number (0 or more) or a range like 1-3";
    let bound = |n: Option<i64>| match n.and_then(|n| i32::try_from(n).ok()) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(MESSAGE.to_string()),
    };
    let (min, max) = match value {
        Value::Object(fields) => {
            check_keys(fields, "scale.count.", &["max", "min"], &[])?;
            let min = fields
                .get("min")
                .filter(|v| !v.is_null())
                .map(|v| bound(whole(v)));
            let max = fields
                .get("max")
                .filter(|v| !v.is_null())
                .map(|v| bound(whole(v)));
            (min.transpose()?, max.transpose()?)
        }
        Value::String(text) => match text.split_once('-') {
            Some((min, max)) => (
                Some(bound(min.trim().parse().ok())?),
                Some(bound(max.trim().parse().ok())?),
            ),
            None => (Some(bound(whole(value))?), None),
        },
        other => (Some(bound(whole(other))?), None),
    };
    match (min, max) {
        (Some(min), Some(max)) if min > max => {
            Err("scale.count range must go from low to high".into())
        }
        (Some(min), max) => Ok((min, max)),
        (None, max) => Ok((max.unwrap_or(Scale::default().count), None)),
    }
}

fn deployment(value: Option<&Value>) -> Check<Rolling> {
    let fields = match value {
        None | Some(Value::Null) => return Ok(Rolling::default()),
        Some(Value::Object(fields)) => fields,
        Some(_) => return Err("deployment must be a map with minimum and maximum".into()),
    };
    check_keys(fields, "deployment.", &["maximum", "minimum"], &[])?;
    let defaults = Rolling::default();
    let min_message = "deployment.minimum must be a percentage from 0 to 100";
    let max_message = "deployment.maximum must be a percentage from 100 to 200";
    let rolling = Rolling {
        minimum: number(fields.get("minimum"), 0..=100, min_message)?.unwrap_or(defaults.minimum),
        maximum: number(fields.get("maximum"), 100..=200, max_message)?.unwrap_or(defaults.maximum),
    };
    // Kubernetes refuses a rolling update that may neither stop nor add a pod.
    if rolling.minimum == 100 && rolling.maximum == 100 {
        return Err("deployment.minimum 100 needs deployment.maximum above 100".into());
    }
    Ok(rolling)
}

fn env_decls(value: Option<&Value>) -> Check<Vec<EnvDecl>> {
    const MESSAGE: &str = "environment must be a list of NAME or NAME=default entries";
    let entries = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(MESSAGE.into()),
    };
    // Convox flattens nested lists, which YAML aliases of shared lists produce.
    let flat = entries.iter().flat_map(|entry| match entry {
        Value::Array(inner) => inner.iter().collect(),
        other => vec![other],
    });
    let mut decls: Vec<EnvDecl> = Vec::new();
    for entry in flat {
        let Value::String(entry) = entry else {
            return Err(MESSAGE.into());
        };
        let (name, default) = match entry.split_once('=') {
            Some((name, default)) => (name, Some(default.to_string())),
            None => (entry.as_str(), None),
        };
        // Convox's `*` passes the whole release env, which Slipway gives every service anyway.
        if name == "*" && default.is_none() {
            continue;
        }
        if crate::env::validate_key(name).is_err() {
            return Err(format!(
                "environment entry {name:?} is not a valid variable name"
            ));
        }
        if decls.iter().any(|decl| decl.name == name) {
            return Err(format!("environment declares {name} twice"));
        }
        decls.push(EnvDecl {
            name: name.to_string(),
            default,
        });
    }
    Ok(decls)
}

fn is_service_name(name: &str) -> bool {
    name.len() <= MAX_SERVICE_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
