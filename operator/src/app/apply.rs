//! Apply: server-side apply of rendered objects, removal of services that left, the env Secret
//! of a hand-written release, the status patch.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use slipway_crds::App;
use slipway_crds::app::AppStatus;
use slipway_crds::labels::{self, OPERATOR_MANAGER};

use super::error::AppError;
use super::render::{RENDER_HASH, Rendered};
use super::stores::Live;

type Result<T, E = AppError> = std::result::Result<T, E>;

/// What one pass applied, and what it put back that someone had changed by hand.
pub struct Applied {
    /// The Deployments as they now are, in the order rendered.
    pub deployments: Vec<Deployment>,
    /// `Deployment myapp-web was deleted by hand; made again`, one per object restored.
    pub restored: Vec<String>,
}

/// Applies what was rendered, skipping objects whose render hash is unchanged.
// `ran` names the services that already ran this release: an object of theirs that is missing
// was deleted by hand (once a read confirms it), rather than not made yet.
pub async fn apply(
    client: &kube::Client,
    namespace: &str,
    rendered: &Rendered,
    live: &Live,
    ran: &[&str],
) -> Result<Applied> {
    // At once rather than one after another: a promote waited for each write in turn.
    let deployments = rendered
        .deployments
        .iter()
        .map(|d| apply_one(client, namespace, d, &live.deployments, ran));
    let services = rendered
        .services
        .iter()
        .map(|s| apply_one(client, namespace, s, &live.services, ran));
    let (deployments, services) = futures::future::try_join(
        futures::future::try_join_all(deployments),
        futures::future::try_join_all(services),
    )
    .await?;
    let restored = deployments
        .iter()
        .filter_map(|(_, note)| note.clone())
        .chain(services.into_iter().filter_map(|(_, note)| note))
        .collect();
    Ok(Applied {
        deployments: deployments.into_iter().map(|(d, _)| d).collect(),
        restored,
    })
}

async fn apply_one<K>(
    client: &kube::Client,
    namespace: &str,
    wanted: &K,
    live: &[K],
    ran: &[&str],
) -> Result<(K, Option<String>)>
where
    K: k8s_openapi::Resource
        + Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let name = wanted.name_any();
    let hash = |o: &K| o.annotations().get(RENDER_HASH).cloned();
    let current = live.iter().find(|o| o.name_any() == name);
    if let Some(current) = current
        && hash(current).is_some()
        && hash(current) == hash(wanted)
        && !edited_elsewhere(current)
    {
        return Ok((current.clone(), None));
    }
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    // Missing from the store is not yet deleted: the store may lag an object the last pass
    // made. A read, only in this rare case, tells a deletion by hand from that lag (a LIST by
    // name: the operator's role has list, not get).
    let service = wanted.labels().get(labels::SERVICE).map(String::as_str);
    let failed = |verb| {
        let name = name.clone();
        move |source| AppError::Apply {
            verb,
            kind: K::KIND,
            name,
            source,
        }
    };
    let gone = current.is_none()
        && service.is_some_and(|s| ran.contains(&s))
        && api
            .list_metadata(&ListParams::default().fields(&format!("metadata.name={name}")))
            .await
            .map_err(failed("reading"))?
            .items
            .is_empty();
    let mut object = wanted.clone();
    object.meta_mut().managed_fields = None;
    let params = PatchParams::apply(OPERATOR_MANAGER).force();
    let applied = api
        .patch(&name, &params, &Patch::Apply(&object))
        .await
        .map_err(failed("applying"))?;
    tracing::info!(name, kind = %K::kind(&()), "Applied");
    let note = super::drift::restored(wanted, current, &applied, gone).map(|how| {
        tracing::warn!(name, kind = %K::kind(&()), how, "Restored drift");
        format!("{} {name} {how}", K::kind(&()))
    });
    Ok((applied, note))
}

// A spec field other than replicas (which people and autoscalers own) set by another manager
// (kubectl set image, kubectl edit): the render hash cannot see it, so the object is applied
// again, which takes the operator's fields back.
pub(super) fn edited_elsewhere<K: Resource>(object: &K) -> bool {
    let mut entries = object.meta().managed_fields.iter().flatten();
    entries.any(foreign_spec_edit)
}

/// Whether `m` is a spec edit of another manager that [`edited_elsewhere`] must see.
pub(super) fn foreign_spec_edit(m: &ManagedFieldsEntry) -> bool {
    m.manager.as_deref() != Some(OPERATOR_MANAGER)
        && m.subresource.as_deref().unwrap_or_default().is_empty()
        && m.fields_v1
            .as_ref()
            .and_then(|f| f.0.get("f:spec")?.as_object())
            .is_some_and(|spec| spec.keys().any(|k| k != "f:replicas"))
}

/// Deletes Deployments and Services of services that are no longer rendered.
pub async fn prune(
    client: &kube::Client,
    namespace: &str,
    rendered: &Rendered,
    live: &Live,
) -> Result<()> {
    let keep = |name: String| rendered.deployments.iter().any(|d| d.name_any() == name);
    for d in live.deployments.iter().filter(|d| !keep(d.name_any())) {
        delete::<Deployment>(client, namespace, &d.name_any()).await?;
    }
    let keep = |name: String| rendered.services.iter().any(|s| s.name_any() == name);
    for s in live.services.iter().filter(|s| !keep(s.name_any())) {
        delete::<Service>(client, namespace, &s.name_any()).await?;
    }
    Ok(())
}

async fn delete<K>(client: &kube::Client, namespace: &str, name: &str) -> Result<()>
where
    K: k8s_openapi::Resource
        + Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {
            tracing::info!(name, kind = %K::kind(&()), "Deleted");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(AppError::Apply {
            verb: "deleting",
            kind: K::KIND,
            name: name.to_string(),
            source,
        }),
    }
}

/// Creates the immutable env Secret of a hand-written release (resolve found none).
pub async fn ensure_secret(
    client: &kube::Client,
    namespace: &str,
    secret: &Secret,
    app: &App,
) -> Result<()> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secret = secret.clone();
    secret.metadata.owner_references = app.controller_owner_ref(&()).map(|o| vec![o]);
    match api
        .create(
            &PostParams {
                field_manager: Some(OPERATOR_MANAGER.into()),
                ..Default::default()
            },
            &secret,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(source) => Err(AppError::EnvSecret {
            secret: secret.name_any(),
            source,
        }),
    }
}

/// Writes `status` to the App's status subresource.
pub async fn patch_status(client: &kube::Client, app: &App, status: &AppStatus) -> Result<App> {
    let namespace = app.namespace().unwrap_or_default();
    let api: Api<App> = Api::namespaced(client.clone(), &namespace);
    // Apply (not merge) so that fields this status no longer has are removed.
    let patch = serde_json::json!({
        "apiVersion": App::api_version(&()),
        "kind": App::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(OPERATOR_MANAGER).force();
    api.patch_status(&app.name_any(), &params, &Patch::Apply(&patch))
        .await
        .map_err(|source| AppError::Report {
            app: app.name_any(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    use super::edited_elsewhere;
    use crate::app::stores::keep_foreign_spec_edits;

    fn managed(entries: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({ "metadata": { "name": "d", "managedFields": entries } }))
            .unwrap()
    }

    #[test]
    fn a_template_edited_by_another_manager_is_applied_again() {
        let ours = json!({ "manager": "slipway-operator", "operation": "Apply",
            "fieldsType": "FieldsV1", "fieldsV1": { "f:spec": { "f:template": {} } } });
        let status = json!({ "manager": "kube-controller-manager", "operation": "Update",
            "subresource": "status", "fieldsType": "FieldsV1",
            "fieldsV1": { "f:status": { "f:replicas": {} } } });
        let scale = json!({ "manager": "kubectl", "operation": "Update",
            "fieldsType": "FieldsV1", "fieldsV1": { "f:spec": { "f:replicas": {} } } });
        let set_image = json!({ "manager": "kubectl-set", "operation": "Update",
            "fieldsType": "FieldsV1", "fieldsV1": { "f:spec": { "f:template": {} } } });
        assert!(!edited_elsewhere(&managed(json!([ours, status, scale]))));
        assert!(edited_elsewhere(&managed(json!([ours, set_image]))));
        let mut stored = managed(json!([ours, status, scale, set_image]));
        keep_foreign_spec_edits(&mut stored);
        assert_eq!(stored.metadata.managed_fields.as_ref().unwrap().len(), 1);
        assert!(
            edited_elsewhere(&stored),
            "the store keeps what the check needs"
        );
    }
}
