//! The error of the Build and env owner controllers; the App controller has one per step (`app::AppError`).

/// What can go wrong in a Build or env owner reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object lacks a field the API always sets (name, namespace, uid).
    #[error("object is missing {0}")]
    MissingField(&'static str),
}

impl Error {
    /// A short label for the failures metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(s)) if s.code == 409 => "conflict",
            Error::Kube(kube::Error::Api(_)) => "api",
            Error::Kube(_) => "transport",
            Error::MissingField(_) => "missing_field",
        }
    }
}

/// The result of a reconcile step.
pub type Result<T, E = Error> = std::result::Result<T, E>;
