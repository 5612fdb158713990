//! The convox.yml manifest: a pure parser with Convox v3 defaults, validation and interpolation.
//!
//! Decisions where Convox is loose or Slipway differs (the reasons sit next to the code):
//! - a service with neither `image:` nor `build:` builds from `.`, as in Convox;
//! - `0` for a health time, `scale.cpu` or `scale.memory` means "the default", as in Convox;
//! - `environment: ["*"]` is accepted and dropped: every release env var reaches every service;
//! - top-level `labels:` (newer Convox) apply to every service, the service's own win;
//! - keys Convox knows and Slipway does not implement yet are accepted and ignored.

mod fields;
mod metadata;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

/// A parsed convox.yml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// App-level environment declarations, given to every service.
    pub environment: Vec<EnvDecl>,
    /// Services by name (at least one).
    pub services: BTreeMap<String, Service>,
}

/// One `environment:` entry: `FOO` (required) or `FOO=default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvDecl {
    /// The variable's name.
    pub name: String,
    /// The value used when the release env lacks the variable; `None` makes it required.
    pub default: Option<String>,
}

/// One service of the manifest, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service's name: a DNS label of at most 22 characters.
    pub name: String,
    /// The image to run, when the service is not built from source.
    pub image: Option<String>,
    /// The source build path (`build: .` or `build: {path: .}`).
    pub build: Option<String>,
    /// The Dockerfile of a source build, relative to its path (`build: {manifest: ..}`).
    pub dockerfile: String,
    /// The command that replaces the image's default command.
    pub command: Option<String>,
    /// The port the service listens on, if it takes traffic.
    pub port: Option<Port>,
    /// The readiness check.
    pub health: Health,
    /// Initial replicas and resources.
    pub scale: Scale,
    /// Rolling update bounds.
    pub deployment: Rolling,
    /// Service-level environment declarations, added to the app-level ones.
    pub environment: Vec<EnvDecl>,
    /// Labels for the pod template (app-level labels merged in).
    pub labels: BTreeMap<String, String>,
    /// Annotations for the pod template.
    pub annotations: BTreeMap<String, String>,
}

/// The port a service listens on: `port: 3000` or `port: https:3000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// `http` or `https`.
    pub scheme: String,
    /// The port number, 1 to 65535.
    pub number: u16,
}

/// The readiness check; times in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The HTTP path probed, starting with `/`.
    pub path: String,
    /// Seconds between checks.
    pub interval: u32,
    /// Seconds before the first check.
    pub grace: u32,
    /// Seconds a check may take, less than `interval`.
    pub timeout: u32,
}

/// Initial replicas and resources of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    /// Replicas when the Deployment is first made (the lower bound of a range).
    pub count: i32,
    /// The upper bound of a `count: 1-5` range: the service autoscales between the two.
    pub max: Option<i32>,
    /// CPU in millicores.
    pub cpu: Option<u32>,
    /// Memory in megabytes.
    pub memory: Option<u32>,
    /// Autoscaling targets, in percent of the requested CPU and memory.
    pub targets: Targets,
}

/// `scale.targets`: average utilisation an autoscaled service is kept at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Targets {
    /// Percent of requested CPU.
    pub cpu: Option<u32>,
    /// Percent of requested memory.
    pub memory: Option<u32>,
}

impl Scale {
    /// The `(min, max)` of an autoscaled service: a range whose top is above its bottom.
    pub fn autoscale(&self) -> Option<(i32, i32)> {
        self.max
            .filter(|max| *max > self.count)
            .map(|max| (self.count.max(1), max))
    }
}

/// Rolling update bounds, in percent of the desired replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rolling {
    /// Share that stays available during a rollout (0 to 100).
    pub minimum: u32,
    /// Share that may run at once during a rollout (100 to 200).
    pub maximum: u32,
}

impl Default for Health {
    /// Convox's defaults: path `/`, interval 5, grace = interval, timeout = interval - 1.
    fn default() -> Self {
        Health::with_interval("/".to_string(), 5)
    }
}

impl Health {
    fn with_interval(path: String, interval: u32) -> Self {
        Health {
            path,
            interval,
            grace: interval,
            timeout: interval.saturating_sub(1),
        }
    }
}

impl Default for Scale {
    /// One replica, resources left to the cluster.
    fn default() -> Self {
        Scale {
            count: 1,
            max: None,
            cpu: None,
            memory: None,
            targets: Targets::default(),
        }
    }
}

impl Default for Rolling {
    /// Convox's defaults: minimum 50, maximum 200.
    fn default() -> Self {
        Rolling {
            minimum: 50,
            maximum: 200,
        }
    }
}

/// Why a convox.yml cannot be used; the message is meant for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The text is empty or holds only comments.
    #[error("invalid convox.yml: the file is empty")]
    Empty,
    /// The text is not valid YAML; the message has the parser's line and column.
    #[error("invalid convox.yml: {0}")]
    Yaml(String),
    /// The YAML does not describe a valid manifest.
    #[error("invalid convox.yml: {0}")]
    Invalid(String),
    /// Declared variables without default that the release env lacks (sorted).
    #[error("required env: {}", .0.join(", "))]
    RequiredEnv(Vec<String>),
}

impl Manifest {
    /// Parses the structure of a convox.yml, without interpolation or the required-env check.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let document: serde_json::Value = serde_saphyr::from_str(text).map_err(yaml_error)?;
        parse::manifest(&document)
    }

    /// Interpolates `${VAR}` from the release env, parses, then checks required env.
    pub fn load(text: &str, env: &BTreeMap<String, String>) -> Result<Manifest, ManifestError> {
        let manifest = match Manifest::parse(&interpolate(text, env)) {
            Ok(manifest) => manifest,
            // A required variable that is unset interpolates to nothing and can break the
            // structure; naming the variable helps more than the resulting parse error.
            Err(err) => {
                let missing = Manifest::parse(text).map(|raw| raw.missing_env(env));
                return Err(match missing {
                    Ok(missing) if !missing.is_empty() => ManifestError::RequiredEnv(missing),
                    _ => err,
                });
            }
        };
        let missing = manifest.missing_env(env);
        if missing.is_empty() {
            Ok(manifest)
        } else {
            Err(ManifestError::RequiredEnv(missing))
        }
    }

    /// Variables some service declares without default that `env` lacks, sorted and unique.
    pub fn missing_env(&self, env: &BTreeMap<String, String>) -> Vec<String> {
        let mut missing: Vec<String> = self
            .services
            .keys()
            .flat_map(|service| self.service_env(service))
            .filter(|decl| decl.default.is_none() && !env.contains_key(&decl.name))
            .map(|decl| decl.name)
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    /// A service's declarations: app-level plus service-level (the service's win), by name.
    pub fn service_env(&self, service: &str) -> Vec<EnvDecl> {
        let Some(service) = self.services.get(service) else {
            return Vec::new();
        };
        let mut merged = BTreeMap::new();
        for decl in self.environment.iter().chain(&service.environment) {
            merged.insert(decl.name.clone(), decl.clone());
        }
        merged.into_values().collect()
    }
}

/// Replaces each `${NAME}` by its value in `env`, or by nothing when unset, as Convox does.
///
/// Only valid variable names are references: `${PORT:-3000}`, `$${NAME}`, a lone `$$` and an
/// unclosed `${` are left as written, so shell syntax in `command:` reaches the shell intact.
pub fn interpolate(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        let (before, from_dollar) = rest.split_at(dollar);
        out.push_str(before);
        if let Some(after) = from_dollar.strip_prefix("$$") {
            out.push_str("$$");
            rest = after;
        } else if let Some((name, after)) = reference(from_dollar) {
            out.push_str(env.get(name).map_or("", String::as_str));
            rest = after;
        } else {
            out.push('$');
            rest = from_dollar.get(1..).unwrap_or_default();
        }
    }
    out.push_str(rest);
    out
}

/// The name of a `${NAME}` reference at the start of `text`, and the text after it.
fn reference(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix("${")?;
    // Scanning only the name's characters keeps interpolation linear on any input.
    let end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    let (name, after) = inner.split_at(end);
    let after = after.strip_prefix('}')?;
    crate::env::validate_key(name).ok()?;
    Some((name, after))
}

fn yaml_error(err: serde_saphyr::Error) -> ManifestError {
    // No source snippet: after interpolation the text may hold env values.
    let options = serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    };
    ManifestError::Yaml(err.render_with_options(options))
}
