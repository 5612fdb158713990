//! Rendering: a Plan becomes the Deployments and Services that run it (pure, no client).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, HTTPGetAction, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SecretEnvSource, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;
use slipway_crds::ServiceSettings;
use slipway_crds::app::workload_name;
use slipway_crds::digest::sha256_hex;
use slipway_crds::labels;
use slipway_crds::manifest;

use super::plan::Plan;

/// Annotation holding the hash of what was rendered, so an unchanged object is not applied again.
pub const RENDER_HASH: &str = "slipway.dev/render-hash";

/// Annotation on the Deployment of an autoscaled service, so that its HPA is removed only
/// where one was made.
pub const AUTOSCALED: &str = "slipway.dev/autoscaled";

/// The objects that run one release.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// One Deployment per service.
    pub deployments: Vec<Deployment>,
    /// One Service per service with a port.
    pub services: Vec<Service>,
}

/// Renders every service of the plan; `replicas` holds live counts, which win over `scale.count`.
#[cfg(test)]
pub fn render(plan: &Plan, owner: &OwnerReference, replicas: &BTreeMap<String, i32>) -> Rendered {
    render_with(plan, owner, replicas, &BTreeMap::new())
}

/// Renders with the App's per-service settings, which win over live counts and convox.yml.
pub fn render_with(
    plan: &Plan,
    owner: &OwnerReference,
    replicas: &BTreeMap<String, i32>,
    settings: &BTreeMap<String, ServiceSettings>,
) -> Rendered {
    let mut rendered = Rendered::default();
    let none = ServiceSettings::default();
    for (name, service) in &plan.manifest.services {
        let set = settings.get(name).unwrap_or(&none);
        let live = replicas.get(name).copied();
        // An autoscaled service's count belongs to its HorizontalPodAutoscaler.
        let fixed = set.count.filter(|_| service.scale.autoscale().is_none());
        let count = fixed.or(live).unwrap_or(service.scale.count);
        rendered
            .deployments
            .push(deployment(plan, service, owner, count, set));
        if let Some(port) = &service.port {
            rendered
                .services
                .push(kube_service(plan, service, port, owner));
        }
    }
    rendered
}

fn service_labels(plan: &Plan, service: &str) -> BTreeMap<String, String> {
    let mut labels = labels::app_labels(&plan.app);
    labels.insert(labels::SERVICE.to_string(), service.to_string());
    labels
}

fn metadata(plan: &Plan, service: &str, owner: &OwnerReference) -> ObjectMeta {
    ObjectMeta {
        name: Some(workload_name(&plan.app, service)),
        labels: Some(service_labels(plan, service)),
        owner_references: Some(vec![owner.clone()]),
        ..ObjectMeta::default()
    }
}

fn deployment(
    plan: &Plan,
    service: &manifest::Service,
    owner: &OwnerReference,
    replicas: i32,
    set: &ServiceSettings,
) -> Deployment {
    let selector = BTreeMap::from([
        (labels::APP.to_string(), plan.app.clone()),
        (labels::SERVICE.to_string(), service.name.clone()),
    ]);
    let mut pod_labels = service.labels.clone();
    pod_labels.extend(service_labels(plan, &service.name));
    pod_labels.insert(labels::RELEASE.to_string(), plan.release.clone());
    let mut pod_annotations = service.annotations.clone();
    if let Some(at) = &set.restarted_at {
        pod_annotations.insert(labels::RESTARTED_AT.to_string(), at.clone());
    }
    let spec = DeploymentSpec {
        selector: LabelSelector {
            match_labels: Some(selector),
            ..LabelSelector::default()
        },
        progress_deadline_seconds: Some(plan.progress_deadline),
        revision_history_limit: Some(5),
        strategy: Some(DeploymentStrategy {
            type_: Some("RollingUpdate".to_string()),
            rolling_update: Some(RollingUpdateDeployment {
                max_unavailable: Some(percent(100 - service.deployment.minimum as i64)),
                max_surge: Some(percent(service.deployment.maximum as i64 - 100)),
            }),
        }),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(pod_labels),
                annotations: (!pod_annotations.is_empty()).then_some(pod_annotations),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers: vec![container(plan, service, set)],
                ..PodSpec::default()
            }),
        },
        ..DeploymentSpec::default()
    };
    // A live count is not rendered state, but a count set with `convox scale` is: without it
    // in the hash, a change of count alone would never be applied.
    let mut hashed = serde_json::to_string(&spec).unwrap_or_default();
    if let Some(count) = set.count.filter(|_| service.scale.autoscale().is_none()) {
        hashed.push_str(&format!("\nreplicas={count}"));
    }
    let hash = sha256_hex(&hashed);
    let mut meta = metadata(plan, &service.name, owner);
    let mut annotations = BTreeMap::from([(RENDER_HASH.to_string(), hash)]);
    if service.scale.autoscale().is_some() {
        annotations.insert(AUTOSCALED.to_string(), "true".to_string());
    }
    meta.annotations = Some(annotations);
    Deployment {
        metadata: meta,
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            ..spec
        }),
        status: None,
    }
}

fn percent(value: i64) -> IntOrString {
    IntOrString::String(format!("{}%", value.max(0)))
}

fn container(plan: &Plan, service: &manifest::Service, set: &ServiceSettings) -> Container {
    let positive = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
    let scale = manifest::Scale {
        cpu: positive(set.cpu).or(service.scale.cpu),
        memory: positive(set.memory).or(service.scale.memory),
        ..service.scale.clone()
    };
    Container {
        name: "main".to_string(),
        image: plan.images.get(&service.name).cloned(),
        args: service.command.as_deref().map(|c| {
            shell_words::split(c).unwrap_or_else(|_| vec!["sh".into(), "-c".into(), c.into()])
        }),
        env: Some(env_vars(plan, service)),
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: plan.env_secret.clone(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        }]),
        ports: service.port.as_ref().map(|p| {
            vec![ContainerPort {
                name: Some("main".to_string()),
                container_port: i32::from(p.number),
                ..ContainerPort::default()
            }]
        }),
        readiness_probe: service.port.as_ref().map(|p| readiness(&service.health, p)),
        resources: resources(&scale),
        ..Container::default()
    }
}

// System variables first; manifest defaults only for keys the release env lacks, since envFrom
// loses to explicit env entries.
fn env_vars(plan: &Plan, service: &manifest::Service) -> Vec<EnvVar> {
    let var = |name: &str, value: String| EnvVar {
        name: name.to_string(),
        value: Some(value),
        ..EnvVar::default()
    };
    let mut vars = vec![
        var("APP", plan.app.clone()),
        var("SERVICE", service.name.clone()),
        var("RELEASE", slipway_crds::id::display_id(&plan.release)),
        var(
            "BUILD",
            plan.build
                .as_deref()
                .map(slipway_crds::id::display_id)
                .unwrap_or_default(),
        ),
    ];
    if let Some(port) = &service.port {
        vars.push(var("PORT", port.number.to_string()));
    }
    for decl in plan.manifest.service_env(&service.name) {
        if let Some(default) = decl.default
            && !plan.env_keys.contains(&decl.name)
        {
            vars.push(var(&decl.name, default));
        }
    }
    vars
}

fn readiness(health: &manifest::Health, port: &manifest::Port) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(health.path.clone()),
            port: IntOrString::Int(i32::from(port.number)),
            scheme: Some(port.scheme.to_uppercase()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(health.grace as i32),
        period_seconds: Some(health.interval as i32),
        timeout_seconds: Some(health.timeout as i32),
        ..Probe::default()
    }
}

fn resources(scale: &manifest::Scale) -> Option<ResourceRequirements> {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some(cpu) = scale.cpu {
        requests.insert("cpu".to_string(), Quantity(format!("{cpu}m")));
    }
    if let Some(memory) = scale.memory {
        requests.insert("memory".to_string(), Quantity(format!("{memory}Mi")));
        limits.insert("memory".to_string(), Quantity(format!("{memory}Mi")));
    }
    (!requests.is_empty()).then(|| ResourceRequirements {
        requests: Some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    })
}

fn kube_service(
    plan: &Plan,
    service: &manifest::Service,
    port: &manifest::Port,
    owner: &OwnerReference,
) -> Service {
    let spec = ServiceSpec {
        selector: Some(BTreeMap::from([
            (labels::APP.to_string(), plan.app.clone()),
            (labels::SERVICE.to_string(), service.name.clone()),
        ])),
        ports: Some(vec![ServicePort {
            name: Some(port.scheme.clone()),
            port: i32::from(port.number),
            target_port: Some(IntOrString::Int(i32::from(port.number))),
            ..ServicePort::default()
        }]),
        ..ServiceSpec::default()
    };
    // Without the hash, apply could never tell the Service unchanged and rewrote it every pass.
    let hash = sha256_hex(serde_json::to_string(&spec).unwrap_or_default());
    let mut meta = metadata(plan, &service.name, owner);
    meta.annotations = Some(BTreeMap::from([(RENDER_HASH.to_string(), hash)]));
    Service {
        metadata: meta,
        spec: Some(spec),
        status: None,
    }
}

#[cfg(test)]
mod tests;
