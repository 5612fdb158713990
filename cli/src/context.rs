//! Where a command works: the kube client (rack = context), the namespace and the app.

use std::path::Path;

use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Api, Client, Config};
use slipway_crds::{App, Build, Release};

use crate::args::Global;
use crate::error::{Error, Result};

/// The client, namespace and app a command works with.
#[derive(Clone)]
pub struct Ctx {
    /// Client for the rack's cluster.
    pub client: Client,
    /// Namespace of the app's objects.
    pub namespace: String,
    /// App name.
    pub app: String,
}

impl Ctx {
    /// Connects to the rack (kube context) named by the flags, and resolves namespace and app.
    pub async fn connect(global: &Global) -> Result<Ctx> {
        let config = match &global.rack {
            Some(rack) => {
                let kubeconfig = Kubeconfig::read()
                    .map_err(|err| Error::Config(format!("reading kubeconfig: {err}")))?;
                if !kubeconfig.contexts.iter().any(|c| &c.name == rack) {
                    return Err(Error::Config(format!(
                        "no such rack: {rack} (not a context in the kubeconfig)"
                    )));
                }
                let options = KubeConfigOptions {
                    context: Some(rack.clone()),
                    ..KubeConfigOptions::default()
                };
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|err| Error::Config(format!("rack {rack}: {err}")))?
            }
            None => match Config::from_kubeconfig(&KubeConfigOptions::default()).await {
                Ok(config) => config,
                Err(kubeconfig) => Config::incluster().map_err(|_| no_cluster(kubeconfig))?,
            },
        };
        let namespace = global
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client =
            Client::try_from(config).map_err(|err| Error::Config(format!("kube client: {err}")))?;
        let cwd = std::env::current_dir()
            .map_err(|err| Error::Local(format!("current directory: {err}")))?;
        // Commands that need no app (`apps`) work where no app can be named; the rest say so.
        let app = app_name(global.app.as_deref(), &cwd).unwrap_or_default();
        Ok(Ctx {
            client,
            namespace,
            app,
        })
    }

    /// This context for another app.
    pub fn for_app(&self, app: &str) -> Ctx {
        Ctx {
            app: app.to_string(),
            ..self.clone()
        }
    }

    /// Apps in the namespace.
    pub fn apps(&self) -> Api<App> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Releases in the namespace.
    pub fn releases(&self) -> Api<Release> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Builds in the namespace.
    pub fn builds(&self) -> Api<Build> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Secrets in the namespace.
    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Pods in the namespace.
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Events (events.k8s.io/v1) in the namespace.
    pub fn events(&self) -> Api<Event> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
}

/// Why no cluster could be configured, in plain words.
fn no_cluster(err: KubeconfigError) -> Error {
    let why = match err {
        KubeconfigError::ReadConfig(io, path) => {
            format!("cannot read kubeconfig {}: {io}", path.display())
        }
        KubeconfigError::FindPath => {
            "no kubeconfig found (set KUBECONFIG or create ~/.kube/config)".to_string()
        }
        other => format!("invalid kubeconfig: {other}"),
    };
    Error::Config(format!("no cluster configured: {why}"))
}

/// The app: the flag, else `.convox/app` in `dir`, else the name of `dir`.
pub fn app_name(flag: Option<&str>, dir: &Path) -> Result<String> {
    if let Some(app) = flag.filter(|a| !a.is_empty()) {
        return Ok(app.to_string());
    }
    if let Ok(text) = std::fs::read_to_string(dir.join(".convox").join("app")) {
        let app = text.trim();
        if !app.is_empty() {
            return Ok(app.to_string());
        }
    }
    dir.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| Error::Usage("no app given: use -a APP".to_string()))
}

/// Whether a name can be an app: a DNS label of at most 40 characters.
pub fn valid_app_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !name.is_empty()
        && name.len() <= 40
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_comes_from_flag_then_convox_dir_then_directory_name() {
        let dir = std::env::temp_dir()
            .join(format!("convox-ctx-{}", std::process::id()))
            .join("myproject");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(app_name(Some("flagged"), &dir).unwrap(), "flagged");
        assert_eq!(app_name(None, &dir).unwrap(), "myproject");
        std::fs::create_dir_all(dir.join(".convox")).unwrap();
        std::fs::write(dir.join(".convox/app"), "fromfile\n").unwrap();
        assert_eq!(app_name(None, &dir).unwrap(), "fromfile");
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn app_names_are_dns_labels() {
        assert!(valid_app_name("myapp"));
        assert!(valid_app_name("my-app-2"));
        for bad in ["", "MyApp", "-app", "app-", "my_app", &"a".repeat(41)] {
            assert!(!valid_app_name(bad), "{bad}");
        }
    }
}
