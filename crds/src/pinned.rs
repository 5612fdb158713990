//! A release's whole env, checked against the Secret that pins it: the one rule the operator
//! (to render and to build) and the CLI (to show and fork) follow.

use k8s_openapi::api::core::v1::Secret;

use crate::Release;
use crate::env::{self, Env, EnvError};

/// Why a release's env Secret cannot give the env the release was made with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvProblem {
    /// The Secret the release names does not exist.
    #[error("its env Secret {secret} is missing")]
    Missing {
        /// Name of the Secret.
        secret: String,
    },
    /// The Secret holds something that is no env (a value that is not text).
    #[error("{error}")]
    Unreadable {
        /// Name of the Secret.
        secret: String,
        /// What could not be read.
        error: EnvError,
    },
    /// The Secret holds other values than the release recorded (its hash differs).
    #[error("its env Secret {secret} no longer holds the env the release was made with")]
    Changed {
        /// Name of the Secret.
        secret: String,
    },
}

impl EnvProblem {
    /// Name of the Secret at fault.
    pub fn secret(&self) -> &str {
        match self {
            EnvProblem::Missing { secret }
            | EnvProblem::Unreadable { secret, .. }
            | EnvProblem::Changed { secret } => secret,
        }
    }
}

/// The name of the Secret to read for `release`'s env, if it names one.
pub fn secret_to_read(release: &Release) -> Option<&str> {
    release.spec.env_secret.as_ref().map(|r| r.name.as_str())
}

/// The values `secret` (as read for `release`) pins, checked against the hash the release
/// recorded; `None` when the release names no Secret.
pub fn secret_env(release: &Release, secret: Option<&Secret>) -> Result<Option<Env>, EnvProblem> {
    let Some(reference) = &release.spec.env_secret else {
        return Ok(None);
    };
    let name = || reference.name.clone();
    let secret = secret.ok_or_else(|| EnvProblem::Missing { secret: name() })?;
    let values = env::from_secret(secret).map_err(|error| EnvProblem::Unreadable {
        secret: name(),
        error,
    })?;
    if env::hash(&values) != reference.sha256 {
        return Err(EnvProblem::Changed { secret: name() });
    }
    Ok(Some(values))
}

/// `release`'s whole env: its plain `spec.env` plus the values of its checked Secret (read
/// with [`secret_to_read`]; `None` when it is not there, or when the release names none).
pub fn release_env(release: &Release, secret: Option<&Secret>) -> Result<Env, EnvProblem> {
    let mut all = release.spec.env.clone();
    all.extend(secret_env(release, secret)?.unwrap_or_default());
    Ok(all)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;
    use crate::ReleaseSpec;

    use crate::env::from_pairs as env;

    /// A release with plain `A=1` whose Secret pins `FOO=bar`, and that Secret.
    fn pinned() -> (Release, Secret) {
        let (secret, reference) = env::pinned_secret("myapp", "rone", &env(&[("FOO", "bar")]));
        let spec = ReleaseSpec {
            app: "myapp".into(),
            env: env(&[("A", "1")]),
            env_secret: Some(reference),
            ..ReleaseSpec::default()
        };
        (Release::new("rone", spec), secret)
    }

    #[test]
    fn the_whole_env_is_the_plain_values_and_the_secrets() {
        let (release, secret) = pinned();
        assert_eq!(secret_to_read(&release), Some("rone-env"));
        assert_eq!(
            release_env(&release, Some(&secret)).unwrap(),
            env(&[("A", "1"), ("FOO", "bar")])
        );
        let plain = Release::new("rtwo", ReleaseSpec::default());
        assert_eq!(secret_to_read(&plain), None);
        // A release that names no Secret takes none, even one read by mistake.
        assert_eq!(release_env(&plain, Some(&secret)).unwrap(), Env::new());
    }

    #[test]
    fn a_missing_secret_is_named() {
        let (release, _) = pinned();
        let problem = release_env(&release, None).unwrap_err();
        assert_eq!(
            problem,
            EnvProblem::Missing {
                secret: "rone-env".into()
            }
        );
        assert_eq!(problem.to_string(), "its env Secret rone-env is missing");
    }

    #[test]
    fn a_secret_with_other_values_is_refused() {
        let (release, mut secret) = pinned();
        secret.data = Some(BTreeMap::from([(
            "FOO".to_string(),
            ByteString(b"evil".to_vec()),
        )]));
        let problem = release_env(&release, Some(&secret)).unwrap_err();
        assert_eq!(problem.secret(), "rone-env");
        assert_eq!(
            problem.to_string(),
            "its env Secret rone-env no longer holds the env the release was made with"
        );
    }

    #[test]
    fn a_secret_that_holds_no_text_is_unreadable() {
        let (release, mut secret) = pinned();
        secret.data = Some(BTreeMap::from([(
            "FOO".to_string(),
            ByteString(vec![0xff, 0xfe]),
        )]));
        let problem = release_env(&release, Some(&secret)).unwrap_err();
        assert!(matches!(problem, EnvProblem::Unreadable { .. }));
        assert_eq!(problem.to_string(), "env value of FOO is not UTF-8 text");
    }
}
