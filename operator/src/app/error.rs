//! What can stop one App reconcile: one variant per step, naming the object it concerns.

use std::time::Duration;

/// Why an App reconcile stopped before it reported.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The App lacks a field the API always sets (namespace, uid).
    #[error("app is missing its {0}")]
    MissingField(&'static str),
    /// A Release or its env Secret could not be read.
    #[error("reading release {release}")]
    Resolve {
        release: String,
        #[source]
        source: kube::Error,
    },
    /// The env Secret of a hand-written release could not be made.
    #[error("making env Secret {secret}")]
    EnvSecret {
        secret: String,
        #[source]
        source: kube::Error,
    },
    /// A rendered object could not be applied, or one of a departed service deleted.
    #[error("{verb} {kind} {name}")]
    Apply {
        verb: &'static str,
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// The App's status could not be written.
    #[error("writing the status of app {app}")]
    Report {
        app: String,
        #[source]
        source: kube::Error,
    },
    /// An expired release could not be deleted, or its env Secret kept for a release sharing it.
    #[error("deleting expired release {release}")]
    Cleanup {
        release: String,
        #[source]
        source: crate::error::Error,
    },
}

impl AppError {
    /// The step that failed, for the failures metric's `kind` label.
    pub fn step(&self) -> &'static str {
        match self {
            AppError::MissingField(_) => "missing_field",
            AppError::Resolve { .. } => "resolve",
            AppError::EnvSecret { .. } => "env_secret",
            AppError::Apply { .. } => "apply",
            AppError::Report { .. } => "report",
            AppError::Cleanup { .. } => "cleanup",
        }
    }

    /// How long to wait before the next attempt.
    pub fn retry_after(&self) -> Duration {
        match self {
            // Someone wrote the object first: a fresh look can succeed at once.
            AppError::Apply { source, .. } | AppError::Report { source, .. }
                if is_conflict(source) =>
            {
                Duration::from_millis(200)
            }
            // Nothing changes by itself: an App without a namespace or uid stays so.
            AppError::MissingField(_) => Duration::from_secs(300),
            _ => Duration::from_secs(5),
        }
    }
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("conflict", "Conflict")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn a_conflict_is_retried_at_once_and_says_which_call_failed() {
        let conflict = AppError::Report {
            app: "myapp".into(),
            source: api(409),
        };
        assert_eq!(conflict.retry_after(), Duration::from_millis(200));
        assert_eq!(conflict.to_string(), "writing the status of app myapp");
        let forbidden = AppError::Apply {
            verb: "applying",
            kind: "Deployment",
            name: "myapp-web".into(),
            source: api(403),
        };
        assert_eq!(forbidden.retry_after(), Duration::from_secs(5));
        assert_eq!(forbidden.step(), "apply");
        assert_eq!(forbidden.to_string(), "applying Deployment myapp-web");
    }
}
