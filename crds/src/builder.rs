//! Source builds: the pod that builds a Build's services with BuildKit, and what its end means.
//!
//! The pod's `source` init container puts the source in a shared volume (the OCI artifact
//! `convox build` pushed, by digest); its `build` container runs BuildKit once per service, pushes each image and its layer cache
//! (in `<repository>/cache`), and writes `service=repository@digest` lines as its termination
//! message.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerStateTerminated, EnvFromSource, EnvVar, KeyToPath, Pod, PodSpec,
    SecretEnvSource, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

use crate::Build;
use crate::labels;
use crate::manifest::Manifest;

/// Label naming the Build a build pod builds.
pub const BUILD_LABEL: &str = "slipway.dev/build";
/// The init container that fetches or receives the source.
pub const SOURCE_CONTAINER: &str = "source";
/// The container that runs BuildKit.
pub const BUILD_CONTAINER: &str = "build";
/// Prefix of the build pod's variables that are build arguments (`ARG NAME` reads `NAME`).
pub const ARG_PREFIX: &str = "SLIPWAY_ARG_";

/// How this cluster builds from source: the operator's builder settings.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Builder {
    /// The builder image: BuildKit, runc, crane and Slipway's two build scripts.
    pub image: String,
    /// Repository prefix that images and layer caches are pushed under (`registry/path`).
    pub registry: String,
    /// Speak plain HTTP to the registry (one inside the cluster, without TLS).
    pub insecure: bool,
    /// A `kubernetes.io/dockerconfigjson` Secret in the app's namespace with push credentials.
    pub registry_secret: Option<String>,
    /// The ServiceAccount of build pods; they get no API token either way.
    pub service_account: Option<String>,
    /// Longest time a build pod may run, in seconds.
    pub deadline_seconds: i64,
}

/// One service to build from source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceService {
    /// The service's name.
    pub name: String,
    /// Its build path inside the source.
    pub path: String,
    /// Its Dockerfile, relative to the build path.
    pub dockerfile: String,
}

/// The env a build reads its arguments from: the base release's Secret and plain values.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BuildEnv {
    /// The env Secret of the release whose env the build's release will take.
    pub secret: Option<String>,
    /// Plain values (a release's `spec.env`, then the Build's `buildArgs` over them).
    pub plain: BTreeMap<String, String>,
}

/// What a build pod's state means for its Build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodOutcome {
    /// Still fetching, receiving or building.
    Building,
    /// Every service built: its image by digest.
    Built(BTreeMap<String, String>),
    /// The build failed, in words.
    Failed(String),
}

/// The name of the pod that builds `build`.
pub fn pod_name(build: &str) -> String {
    format!("{build}-build")
}

/// The repository an app's built images go to.
pub fn repository(registry: &str, namespace: &str, app: &str) -> String {
    format!("{}/{namespace}/{app}", registry.trim_end_matches('/'))
}

/// The services of `manifest` to build from source: those with `build:` and no image given.
pub fn services_to_build(
    manifest: &Manifest,
    images: &BTreeMap<String, String>,
) -> Result<Vec<SourceService>, String> {
    let mut services = vec![];
    for (name, service) in &manifest.services {
        let Some(path) = &service.build else { continue };
        if images.contains_key(name) || service.image.is_some() {
            continue;
        }
        let path = path.trim_start_matches("./").trim_end_matches('/');
        let path = if path.is_empty() { "." } else { path };
        for (what, value) in [
            ("build path", path),
            ("build.manifest", &service.dockerfile),
        ] {
            if value.starts_with('/') || value.split('/').any(|part| part == "..") {
                return Err(format!(
                    "service {name}: {what} {value} must stay inside the source"
                ));
            }
            if value.chars().any(char::is_whitespace) {
                return Err(format!(
                    "service {name}: {what} {value:?} must not contain spaces"
                ));
            }
        }
        services.push(SourceService {
            name: name.clone(),
            path: path.to_string(),
            dockerfile: service.dockerfile.clone(),
        });
    }
    Ok(services)
}

/// The pod that builds `services` of `build`, owned by the Build so deleting it stops the build.
pub fn build_pod(
    build: &Build,
    namespace: &str,
    services: &[SourceService],
    builder: &Builder,
    env: &BuildEnv,
) -> Pod {
    let name = build.name_any();
    let app = &build.spec.app;
    let insecure = if builder.insecure { "1" } else { "" };
    let var = |name: &str, value: &str| EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        ..EnvVar::default()
    };
    let mount = |volume: &str, path: &str| VolumeMount {
        name: volume.to_string(),
        mount_path: path.to_string(),
        ..VolumeMount::default()
    };
    let mut mounts = vec![mount("workspace", "/workspace")];
    let mut volumes = vec![empty_dir("workspace"), empty_dir("buildkit")];
    if let Some(secret) = &builder.registry_secret {
        mounts.push(VolumeMount {
            read_only: Some(true),
            ..mount("registry-auth", "/slipway/docker")
        });
        volumes.push(Volume {
            name: "registry-auth".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                items: Some(vec![KeyToPath {
                    key: ".dockerconfigjson".into(),
                    path: "config.json".into(),
                    ..KeyToPath::default()
                }]),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    let source_image = build.spec.source.as_ref().map(|s| s.image.as_str());
    let source = Container {
        name: SOURCE_CONTAINER.into(),
        image: Some(builder.image.clone()),
        command: Some(vec!["slipway-source".into()]),
        env: Some(vec![
            var("SLIPWAY_SOURCE_IMAGE", source_image.unwrap_or_default()),
            var("SLIPWAY_INSECURE", insecure),
            var("DOCKER_CONFIG", "/slipway/docker"),
        ]),
        volume_mounts: Some(mounts.clone()),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Container::default()
    };
    let listed: Vec<String> = services
        .iter()
        .map(|s| format!("{} {} {}", s.name, s.path, s.dockerfile))
        .collect();
    let mut build_env = vec![
        var("SLIPWAY_BUILD", &name),
        var(
            "SLIPWAY_REPOSITORY",
            &repository(&builder.registry, namespace, app),
        ),
        var("SLIPWAY_SERVICES", &listed.join("\n")),
        var(
            "SLIPWAY_NO_CACHE",
            if build.spec.no_cache { "1" } else { "" },
        ),
        var("SLIPWAY_INSECURE", insecure),
        var("DOCKER_CONFIG", "/slipway/docker"),
    ];
    build_env.extend(
        env.plain
            .iter()
            .map(|(key, value)| var(&format!("{ARG_PREFIX}{key}"), value)),
    );
    let mut build_mounts = mounts;
    build_mounts.push(mount("buildkit", "/var/lib/buildkit"));
    let build_container = Container {
        name: BUILD_CONTAINER.into(),
        image: Some(builder.image.clone()),
        command: Some(vec!["slipway-build".into()]),
        env: Some(build_env),
        // Values of the release env reach the pod by reference, never in its spec.
        env_from: env.secret.as_ref().map(|secret| {
            vec![EnvFromSource {
                prefix: Some(ARG_PREFIX.into()),
                secret_ref: Some(SecretEnvSource {
                    name: secret.clone(),
                    optional: Some(true),
                }),
                ..EnvFromSource::default()
            }]
        }),
        // BuildKit mounts filesystems for every RUN step: see the README on builders.
        security_context: Some(SecurityContext {
            privileged: Some(true),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(build_mounts),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Container::default()
    };
    let mut labels = labels::app_labels(app);
    labels.insert(BUILD_LABEL.into(), name.clone());
    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(&name)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            owner_references: build.controller_owner_ref(&()).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            automount_service_account_token: Some(false),
            service_account_name: builder.service_account.clone(),
            enable_service_links: Some(false),
            active_deadline_seconds: Some(builder.deadline_seconds),
            init_containers: Some(vec![source]),
            containers: vec![build_container],
            volumes: Some(volumes),
            ..PodSpec::default()
        }),
        status: None,
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_string(),
        empty_dir: Some(Default::default()),
        ..Volume::default()
    }
}

/// What `pod`'s state means: still building, built (images by digest), or failed and why.
pub fn pod_outcome(pod: &Pod, services: &[SourceService]) -> PodOutcome {
    let Some(status) = &pod.status else {
        return PodOutcome::Building;
    };
    let statuses = |list: &Option<Vec<_>>| list.iter().flatten().cloned().collect::<Vec<_>>();
    let containers = [
        statuses(&status.init_container_statuses),
        statuses(&status.container_statuses),
    ]
    .concat();
    for container in &containers {
        if let Some(failure) = crate::pods::container_failure(container) {
            return PodOutcome::Failed(format!(
                "the builder {}",
                failure.describe(&pod.name_any())
            ));
        }
        let terminated = container.state.as_ref().and_then(|s| s.terminated.as_ref());
        match terminated {
            Some(t) if t.exit_code != 0 => {
                return PodOutcome::Failed(failure_in_words(&container.name, t));
            }
            Some(t) if container.name == BUILD_CONTAINER => {
                return images_from_message(t.message.as_deref().unwrap_or_default(), services)
                    .map_or_else(PodOutcome::Failed, PodOutcome::Built);
            }
            _ => {}
        }
    }
    if status.phase.as_deref() == Some("Failed") {
        return PodOutcome::Failed(match status.reason.as_deref() {
            Some("DeadlineExceeded") => "the build took longer than the builder allows".into(),
            _ => status
                .message
                .clone()
                .unwrap_or_else(|| "the build pod failed".into()),
        });
    }
    PodOutcome::Building
}

/// Why a container of the build pod ended badly: the last `ERROR:` line it printed, if any.
fn failure_in_words(container: &str, terminated: &ContainerStateTerminated) -> String {
    if terminated.reason.as_deref() == Some("OOMKilled") {
        return format!("the {container} step ran out of memory");
    }
    let message = terminated.message.as_deref().unwrap_or_default();
    let said = message
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("ERROR: "));
    match said {
        Some(reason) => reason.trim().to_string(),
        None if container == SOURCE_CONTAINER => format!(
            "the source could not be read (exit code {})",
            terminated.exit_code
        ),
        None => format!("the build ended with exit code {}", terminated.exit_code),
    }
}

/// The images a successful build pod reported: one `service=repository@digest` line each.
fn images_from_message(
    message: &str,
    services: &[SourceService],
) -> Result<BTreeMap<String, String>, String> {
    let images: BTreeMap<String, String> = message
        .lines()
        .filter_map(|line| line.trim().split_once('='))
        .filter(|(_, image)| image.contains("@sha256:"))
        .map(|(service, image)| (service.to_string(), image.to_string()))
        .collect();
    match services.iter().find(|s| !images.contains_key(&s.name)) {
        Some(missing) => Err(format!(
            "the builder reported no image for service {}",
            missing.name
        )),
        None => Ok(images),
    }
}

#[cfg(test)]
mod tests;
