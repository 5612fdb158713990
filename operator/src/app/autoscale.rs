//! Autoscaling: a service whose convox.yml says `scale.count: 1-5` gets a HorizontalPodAutoscaler
//! on its Deployment (`scale.targets` as its metrics), owned by that Deployment.
//!
//! HPAs are written only in a pass that applies their Deployment (a new release, or a changed
//! template), so a converged App costs no extra request; the HPA owns the replica count from then
//! on, and render keeps the live count across promotes. An HPA is deleted only when the service
//! stops autoscaling (its Deployment was rendered with [`AUTOSCALED`]).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use slipway_crds::app::workload_name;
use slipway_crds::labels::{self, OPERATOR_MANAGER};
use slipway_crds::manifest;

use super::error::AppError;
use super::plan::Plan;
use super::render::{AUTOSCALED, RENDER_HASH};

/// The HPA of an autoscaled service on its applied Deployment (whose UID makes it the owner).
pub fn autoscaler(
    plan: &Plan,
    service: &manifest::Service,
    deployment: &Deployment,
) -> Option<HorizontalPodAutoscaler> {
    let (min, max) = service.scale.autoscale()?;
    let name = workload_name(&plan.app, &service.name);
    let metric = |resource: &str, percent: Option<u32>| {
        percent.map(|p| MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: resource.into(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: i32::try_from(p).ok(),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        })
    };
    let targets = &service.scale.targets;
    // No targets: Kubernetes' default, 80% of requested CPU.
    let metrics: Vec<MetricSpec> = [metric("cpu", targets.cpu), metric("memory", targets.memory)]
        .into_iter()
        .flatten()
        .collect();
    let mut tags = labels::app_labels(&plan.app);
    tags.insert(labels::SERVICE.into(), service.name.clone());
    let owner = OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: name.clone(),
        uid: deployment.uid()?,
        ..OwnerReference::default()
    };
    Some(HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(tags),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name,
            },
            min_replicas: Some(min),
            max_replicas: max,
            metrics: (!metrics.is_empty()).then_some(metrics),
            behavior: None,
        },
        status: None,
    })
}

/// Whether this pass (re)applied `wanted`: it was missing or its render hash differed.
fn applied_now(wanted: &Deployment, live: &[Deployment]) -> bool {
    let hash = |d: &Deployment| d.annotations().get(RENDER_HASH).cloned();
    live.iter()
        .find(|d| d.name_any() == wanted.name_any())
        .is_none_or(|d| hash(d) != hash(wanted))
}

/// Applies the HPAs of the Deployments this pass applied; removes those of services that stopped autoscaling.
pub async fn apply(
    client: &kube::Client,
    namespace: &str,
    plan: &Plan,
    (wanted, live, applied): (&[Deployment], &[Deployment], &[Deployment]),
) -> Result<(), AppError> {
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    for service in plan.manifest.services.values() {
        let name = workload_name(&plan.app, &service.name);
        let named = |d: &&Deployment| d.name_any() == name;
        let (Some(want), Some(now)) = (wanted.iter().find(named), applied.iter().find(named))
        else {
            continue;
        };
        if !applied_now(want, live) {
            continue;
        }
        // A Deployment that never autoscaled has no HPA to delete: a promote costs no DELETE.
        let had_one = live
            .iter()
            .find(|d| d.name_any() == name)
            .is_some_and(|d| d.annotations().contains_key(AUTOSCALED));
        match autoscaler(plan, service, now) {
            None if !had_one => {}
            Some(hpa) => {
                let params = PatchParams::apply(OPERATOR_MANAGER).force();
                api.patch(&name, &params, &Patch::Apply(&hpa))
                    .await
                    .map_err(|source| failed("applying", &name, source))?;
                tracing::info!(name, kind = %HorizontalPodAutoscaler::kind(&()), "Applied");
            }
            None => match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => tracing::info!(name, kind = "HorizontalPodAutoscaler", "Deleted"),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(source) => return Err(failed("deleting", &name, source)),
            },
        }
    }
    Ok(())
}

fn failed(verb: &'static str, name: &str, source: kube::Error) -> AppError {
    AppError::Apply {
        verb,
        kind: "HorizontalPodAutoscaler",
        name: name.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures;
    use crate::app::plan::plan;

    const RANGED: &str = "services:\n  web:\n    image: nginx\n    scale:\n      count: 2-6\n      targets:\n        cpu: 70\n  worker:\n    image: busybox\n";

    #[test]
    fn a_range_becomes_an_hpa_owned_by_the_deployment() {
        let release = fixtures::release("myapp", "rabcdefghij", RANGED);
        let plan = plan(
            "myapp",
            &release,
            &fixtures::env(&[]),
            "rabcdefghij-env",
            120,
        )
        .unwrap();
        let mut deployment = Deployment::default();
        deployment.metadata.uid = Some("uid-d".into());
        let web = &plan.manifest.services["web"];
        let hpa = autoscaler(&plan, web, &deployment).unwrap();
        assert_eq!(hpa.name_any(), "myapp-web");
        assert_eq!(hpa.owner_references()[0].uid, "uid-d");
        let spec = hpa.spec;
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 6));
        assert_eq!(spec.scale_target_ref.name, "myapp-web");
        let metrics = spec.metrics.unwrap();
        let cpu = metrics[0].resource.as_ref().unwrap();
        assert_eq!(
            (cpu.name.as_str(), cpu.target.average_utilization),
            ("cpu", Some(70))
        );
        let worker = &plan.manifest.services["worker"];
        assert!(autoscaler(&plan, worker, &deployment).is_none());
    }

    #[test]
    fn hpas_are_written_only_when_their_deployment_is() {
        let with_hash = |h: &str| {
            let mut d = Deployment::default();
            d.metadata.name = Some("myapp-web".into());
            d.metadata.annotations = Some([(RENDER_HASH.to_string(), h.to_string())].into());
            d
        };
        assert!(applied_now(&with_hash("a"), &[]));
        assert!(applied_now(&with_hash("a"), &[with_hash("b")]));
        assert!(!applied_now(&with_hash("a"), &[with_hash("a")]));
    }
}
