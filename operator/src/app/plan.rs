//! Validation: a Release and its environment become a Plan, or a reason a person can act on.

use std::collections::BTreeMap;

use slipway_crds::env::Env;
use slipway_crds::manifest::Manifest;
use slipway_crds::{Release, id};

/// Everything needed to render one release of one App.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The App's name.
    pub app: String,
    /// The release's object name.
    pub release: String,
    /// The build the release came from.
    pub build: Option<String>,
    /// The manifest, interpolated with the release's env.
    pub manifest: Manifest,
    /// The image of each service.
    pub images: BTreeMap<String, String>,
    /// The Secret that holds the release's env, for `envFrom`.
    pub env_secret: String,
    /// The keys of the release's env.
    pub env_keys: Vec<String>,
    /// Seconds a Deployment may make no progress.
    pub progress_deadline: i32,
}

/// Why a release cannot be rolled out, in words a person understands.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Checks a release against its App and its env, and makes the Plan to render.
pub fn plan(
    app: &str,
    release: &Release,
    env: &Env,
    env_secret: &str,
    progress_deadline: i32,
) -> Result<Plan, Invalid> {
    let name = release.metadata.name.clone().unwrap_or_default();
    let spec = &release.spec;
    if spec.app != app {
        return Err(Invalid(format!(
            "release {} belongs to app {}, not {app}",
            id::display_id(&name),
            spec.app
        )));
    }
    let manifest = Manifest::load(&spec.manifest, env)
        .map_err(|e| Invalid(format!("release {}: {e}", id::display_id(&name))))?;
    let mut images = BTreeMap::new();
    for (service_name, service) in &manifest.services {
        let image = spec.images.get(service_name).or(service.image.as_ref());
        let Some(image) = image else {
            return Err(Invalid(format!(
                "release {}: service {service_name} has no image (source builds are not supported yet)",
                id::display_id(&name)
            )));
        };
        if let Some(problem) = image_problem(image) {
            return Err(Invalid(format!(
                "release {}: image {image:?} of service {service_name} {problem}",
                id::display_id(&name)
            )));
        }
        images.insert(service_name.clone(), image.clone());
    }
    Ok(Plan {
        app: app.to_string(),
        release: name,
        build: spec.build.clone(),
        manifest,
        images,
        env_secret: env_secret.to_string(),
        env_keys: env.keys().cloned().collect(),
        progress_deadline,
    })
}

// The API server takes such an image into a Deployment and only refuses its Pods, so the
// rollout would start and then stall: refuse it before anything runs.
fn image_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() {
        Some("is empty")
    } else if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("holds spaces or control characters")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures;

    #[test]
    fn a_valid_release_becomes_a_plan_with_resolved_images() {
        let release = fixtures::release("myapp", "rone", fixtures::TWO_SERVICES);
        let plan = plan(
            "myapp",
            &release,
            &fixtures::env(&[("FOO", "bar")]),
            "rone-env",
            60,
        )
        .unwrap();
        assert_eq!(plan.images["web"], "nginx:1.27");
        assert_eq!(plan.images["worker"], "busybox:1");
        assert_eq!(plan.env_keys, ["FOO"]);
    }

    #[test]
    fn another_apps_release_is_refused() {
        let release = fixtures::release("other", "rone", fixtures::TWO_SERVICES);
        let err = plan("myapp", &release, &Env::new(), "x", 60).unwrap_err();
        assert_eq!(err.0, "release rone belongs to app other, not myapp");
    }

    #[test]
    fn missing_required_env_and_bad_manifests_are_refused() {
        let required = "environment: [TOKEN]\nservices:\n  web:\n    image: nginx\n";
        let release = fixtures::release("myapp", "rone", required);
        let err = plan("myapp", &release, &Env::new(), "x", 60).unwrap_err();
        assert_eq!(err.0, "release rone: required env: TOKEN");
        let bad = fixtures::release("myapp", "rone", "services: [");
        assert!(
            plan("myapp", &bad, &Env::new(), "x", 60)
                .unwrap_err()
                .0
                .contains("invalid convox.yml")
        );
    }

    #[test]
    fn empty_and_spaced_images_are_refused() {
        for (image, problem) in [("", "is empty"), (" nginx ", "holds spaces")] {
            let mut release = fixtures::release("myapp", "rone", fixtures::TWO_SERVICES);
            release.spec.images.insert("web".into(), image.into());
            let env = fixtures::env(&[("FOO", "bar")]);
            let err = plan("myapp", &release, &env, "x", 60).unwrap_err();
            assert!(
                err.0.starts_with(&format!(
                    "release rone: image {image:?} of service web {problem}"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn a_source_build_service_without_image_is_refused() {
        let release = fixtures::release("myapp", "rone", "services:\n  web:\n    build: .\n");
        let err = plan("myapp", &release, &Env::new(), "x", 60).unwrap_err();
        assert!(err.0.contains("service web has no image"), "{err}");
    }
}
