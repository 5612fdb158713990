//! The one error type: each message is the text a person reads after `ERROR: `.

use std::time::Duration;

use slipway_crds::env::EnvError;
use slipway_crds::manifest::ManifestError;
use slipway_crds::pinned::EnvProblem;

/// Everything that can go wrong, worded for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The app does not exist in the namespace.
    #[error("no such app: {0}")]
    NoSuchApp(String),
    /// The release does not exist, or belongs to another app.
    #[error("no such release: {0}")]
    NoSuchRelease(String),
    /// The process (pod) does not exist, or belongs to another app.
    #[error("no such process: {0}")]
    NoSuchProcess(String),
    /// The running release has no such service.
    #[error("no such service: {0}")]
    NoSuchService(String),
    /// The command of `run` or `exec` ended with this exit status (passed through, no message).
    #[error("exit status {0}")]
    Exit(i32),
    /// The build does not exist, or belongs to another app.
    #[error("no such build: {0}")]
    NoSuchBuild(String),
    /// `apps create` of a name that is taken.
    #[error("app already exists: {0}")]
    AppExists(String),
    /// An app name Kubernetes cannot use.
    #[error(
        "invalid app name {0:?}: use at most 40 lower-case letters, digits and -, starting and ending with a letter or digit"
    )]
    BadAppName(String),
    /// The app has no release at all.
    #[error("app {0} has no releases")]
    NoReleases(String),
    /// The app has no active release.
    #[error("app {0} has no active release")]
    NoActiveRelease(String),
    /// `env get` or `env unset` of a key the environment lacks.
    #[error("env not found: {0}")]
    EnvNotFound(String),
    /// Bad `KEY=VALUE` input.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A convox.yml that cannot be used.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The release's env Secret is gone or changed.
    #[error("the environment of release {release} is unusable: {problem}")]
    BrokenEnv {
        /// Release ID.
        release: String,
        /// What is wrong with its Secret.
        problem: EnvProblem,
    },
    /// One of two flags is required.
    #[error("must specify either --{0} or --{1}")]
    EitherFlag(&'static str, &'static str),
    /// Two flags exclude each other.
    #[error("cannot specify both --{0} and --{1}")]
    BothFlags(&'static str, &'static str),
    /// A usage mistake not covered by clap.
    #[error("{0}")]
    Usage(String),
    /// The build ended in failure.
    #[error("build {id} failed: {reason}")]
    BuildFailed {
        /// Build ID.
        id: String,
        /// The operator's reason.
        reason: String,
    },
    /// The operator rolled the promoted release back.
    #[error("rollback")]
    RolledBack,
    /// The operator cannot use the promoted release; its reason, as the App reports it.
    #[error("{0}")]
    InvalidRelease(String),
    /// Someone else promoted another release while following.
    #[error("{target} was superseded by {other}")]
    Superseded {
        /// The release being followed.
        target: String,
        /// The release spec.release names now.
        other: String,
    },
    /// A GitOps tool owns a field of the App spec the CLI would write.
    #[error(
        "{field} of app {app} is managed by {manager}: make this change in git instead (or pass --force):\n{snippet}"
    )]
    ManagedElsewhere {
        /// The field, as `spec.release`.
        field: String,
        /// App name.
        app: String,
        /// The field manager that owns spec.release.
        manager: String,
        /// The App YAML to commit.
        snippet: String,
    },
    /// Following stopped before the end.
    #[error("timed out after {after}s waiting for {what}; it continues in the cluster (see convox apps info)", after = .after.as_secs())]
    Timeout {
        /// How long it waited.
        after: Duration,
        /// What it waited for.
        what: String,
    },
    /// Ctrl-C while following.
    #[error("stopped following {0}; it continues in the cluster (see convox apps info)")]
    Interrupted(String),
    /// Concurrent env changes kept winning.
    #[error("the environment of {0} kept changing while this change was saved; try again")]
    EnvContention(String),
    /// No usable kubeconfig, or an unknown context.
    #[error("{0}")]
    Config(String),
    /// The cluster could not be reached.
    #[error("cannot reach the cluster: {0}")]
    Unreachable(String),
    /// The app's registry refused or could not be reached.
    #[error("{0}")]
    Registry(String),
    /// RBAC refused a request.
    #[error("permission denied: {0}")]
    Forbidden(String),
    /// RBAC refused reading the env Secrets whose values a command (named here) needs.
    #[error("{0} needs read access to the app's env Secrets (the slipway-env-reader role)")]
    NeedsEnvReader(String),
    /// The Slipway CRDs are not installed.
    #[error("Slipway is not installed in this cluster (the slipway.dev resources are missing)")]
    NotInstalled,
    /// Any other API failure, with what was being done.
    #[error("{doing}: {why}")]
    Api {
        /// What the CLI was doing.
        doing: String,
        /// The server's message.
        why: String,
    },
    /// A local file or process failed.
    #[error("{0}")]
    Local(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Maps a kube error met while `doing` something to words a person understands.
    pub fn kube(doing: impl Into<String>, err: kube::Error) -> Error {
        let doing = doing.into();
        match err {
            kube::Error::Api(status) => match status.code {
                403 => Error::Forbidden(status.message),
                404 if status
                    .message
                    .contains("the server could not find the requested resource") =>
                {
                    Error::NotInstalled
                }
                _ => Error::Api {
                    doing,
                    why: if status.message.is_empty() {
                        status.reason
                    } else {
                        status.message
                    },
                },
            },
            kube::Error::HyperError(err) => Error::Unreachable(chain(&err)),
            kube::Error::Service(err) => Error::Unreachable(chain(err.as_ref())),
            other => Error::Api {
                doing,
                why: chain(&other),
            },
        }
    }

    /// This error with `command` named, if it is a refused env read.
    pub fn in_command(self, command: &str) -> Error {
        match self {
            Error::NeedsEnvReader(_) => Error::NeedsEnvReader(command.to_string()),
            other => other,
        }
    }

    /// Whether a kube error is the server's 404.
    pub fn is_not_found(err: &kube::Error) -> bool {
        matches!(err, kube::Error::Api(status) if status.code == 404)
    }

    /// Whether a kube error is an optimistic-concurrency conflict (409).
    pub fn is_conflict(err: &kube::Error) -> bool {
        matches!(err, kube::Error::Api(status) if status.code == 409)
    }
}

/// An error and its sources on one line, without repeats.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(next) = source {
        let text = next.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = next.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(
            Status {
                code,
                message: message.into(),
                ..Status::default()
            }
            .boxed(),
        )
    }

    #[test]
    fn api_errors_become_plain_words() {
        let forbidden = Error::kube(
            "listing releases",
            api(
                403,
                "releases.slipway.dev is forbidden: User \"x\" cannot list",
            ),
        );
        assert!(
            forbidden
                .to_string()
                .starts_with("permission denied: releases.slipway.dev is forbidden")
        );
        let missing = Error::kube(
            "listing releases",
            api(404, "the server could not find the requested resource"),
        );
        assert!(matches!(missing, Error::NotInstalled));
        let other = Error::kube("creating release", api(422, "spec.app: Invalid value"));
        assert_eq!(
            other.to_string(),
            "creating release: spec.app: Invalid value"
        );
        assert!(Error::is_not_found(&api(404, "x")));
        assert!(Error::is_conflict(&api(409, "x")));
    }

    #[test]
    fn user_facing_messages() {
        assert_eq!(Error::NoSuchApp("x".into()).to_string(), "no such app: x");
        assert_eq!(
            Error::NoSuchRelease("RXXXXXXXXXX".into()).to_string(),
            "no such release: RXXXXXXXXXX"
        );
        assert_eq!(Error::RolledBack.to_string(), "rollback");
        assert_eq!(
            Error::EitherFlag("build-from", "use-active-release-build").to_string(),
            "must specify either --build-from or --use-active-release-build"
        );
        assert_eq!(
            Error::EnvNotFound("FOOO".into()).to_string(),
            "env not found: FOOO"
        );
        assert_eq!(
            Error::NeedsEnvReader("this command".into())
                .in_command("env set")
                .to_string(),
            "env set needs read access to the app's env Secrets (the slipway-env-reader role)"
        );
        assert!(matches!(
            Error::RolledBack.in_command("env set"),
            Error::RolledBack
        ));
        assert_eq!(
            Error::NoSuchProcess("myapp-web-1".into()).to_string(),
            "no such process: myapp-web-1"
        );
        assert_eq!(
            Error::NoSuchService("nope".into()).to_string(),
            "no such service: nope"
        );
        let managed = Error::ManagedElsewhere {
            field: "spec.services.web.count".into(),
            app: "myapp".into(),
            manager: "argocd-controller".into(),
            snippet: "kind: App".into(),
        };
        assert_eq!(
            managed.to_string(),
            "spec.services.web.count of app myapp is managed by argocd-controller: make this change in git instead (or pass --force):\nkind: App"
        );
    }
}
