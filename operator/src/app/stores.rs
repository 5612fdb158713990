//! What runs, in memory: the stores the controller's watches fill, what each keeps of its
//! objects, and the objects of one App read from them.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use slipway_crds::{Release, labels};

use super::apply::foreign_spec_edit;

/// The objects of one App that exist now.
pub struct Live {
    /// Deployments labelled with the App.
    pub deployments: Vec<Deployment>,
    /// Services labelled with the App.
    pub services: Vec<Service>,
    /// Pods labelled with the App, trimmed (see [`trim_pod`]).
    pub pods: Vec<Pod>,
}

/// The Deployments and Services Slipway made, as the operator's own watches see them.
#[derive(Clone)]
pub struct Stores {
    /// Deployments labelled managed-by Slipway.
    pub deployments: Store<Deployment>,
    /// Services labelled managed-by Slipway.
    pub services: Store<Service>,
    /// Every Release, without its manifest, images and env (see [`trim_release`]).
    pub releases: Store<Release>,
    /// Pods labelled managed-by Slipway, trimmed (see [`trim_pod`]).
    pub pods: Store<Pod>,
    ready: Shared<BoxFuture<'static, ()>>,
}

impl Stores {
    /// Stores fed by the controller's watches; `releases_listed` resolves once the Release
    /// watch has listed everything.
    // The release store's own wait is not used: the env owner controller, which reads the same
    // store, waits on it too, and a store's wait wakes only the latest of the tasks waiting on
    // it (so one of the two controllers slept for good).
    pub fn new(
        deployments: Store<Deployment>,
        services: Store<Service>,
        releases: Store<Release>,
        pods: Store<Pod>,
        releases_listed: BoxFuture<'static, ()>,
    ) -> Stores {
        let (d, s, p) = (deployments.clone(), services.clone(), pods.clone());
        // One shared wait, for the same reason: reconciles that waited side by side at start
        // could sleep forever.
        let ready = async move {
            // An error means the watches are gone: the controller is stopping anyway.
            let _ = futures::future::join4(
                d.wait_until_ready(),
                s.wait_until_ready(),
                p.wait_until_ready(),
                releases_listed,
            )
            .await;
        }
        .boxed()
        .shared();
        Stores {
            deployments,
            services,
            releases,
            pods,
            ready,
        }
    }

    /// The releases of `app` in `namespace`, trimmed, from memory (history cleanup reads them
    /// on every pass, so it is level-triggered without a LIST per reconcile).
    pub fn releases(&self, namespace: &str, app: &str) -> Vec<Release> {
        self.releases
            .state()
            .iter()
            .filter(|r| r.namespace().as_deref() == Some(namespace) && r.spec.app == app)
            .map(|r| Release::clone(r))
            .collect()
    }

    /// Release `name` in `namespace` as the watch holds it (trimmed), if it holds it yet.
    pub fn release(&self, namespace: &str, name: &str) -> Option<Arc<Release>> {
        self.releases.get(&ObjectRef::new(name).within(namespace))
    }

    /// Waits until the watches have listed everything once, so nothing looks missing.
    pub async fn ready(&self) {
        self.ready.clone().await;
    }

    /// The objects of `app` in `namespace`. Read from memory: a labelled LIST per reconcile
    /// made the API server scan every object of the namespace, so cost grew with every App.
    pub fn live(&self, namespace: &str, app: &str) -> Live {
        Live {
            deployments: of_app(self.deployments.state(), namespace, app),
            services: of_app(self.services.state(), namespace, app),
            pods: of_app(self.pods.state(), namespace, app),
        }
    }
}

/// The objects of `app` in `namespace`, by their `slipway.dev/app` label.
fn of_app<K: Resource + Clone>(objects: Vec<Arc<K>>, namespace: &str, app: &str) -> Vec<K> {
    objects
        .into_iter()
        .filter(|o| {
            o.meta().namespace.as_deref() == Some(namespace)
                && o.labels().get(labels::APP).map(String::as_str) == Some(app)
        })
        .map(|o| o.as_ref().clone())
        .collect()
}

/// Keeps of a Release what the release store's readers use (its name and uid, app, env Secret's
/// name, creation stamps, labels, and the keys of GitOps tracking annotations): it holds every
/// Release, and the rest (manifests most of all) was nearly all of their weight.
pub fn trim_release(release: &mut Release) {
    let meta = &mut release.metadata;
    meta.managed_fields = None;
    meta.owner_references = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.retain(|key, _| labels::is_tracking_key(key));
        annotations.values_mut().for_each(String::clear);
    }
    let spec = &mut release.spec;
    spec.manifest = String::new();
    spec.images.clear();
    spec.env.clear();
    spec.secret_keys.clear();
    spec.description = String::new();
    spec.build = None;
    spec.rollback_of = None;
    spec.created_from = None;
    if let Some(reference) = spec.env_secret.as_mut() {
        reference.keys.clear();
        reference.sha256 = String::new();
    }
}

/// Keeps of a Pod what the rollout reads (labels, deletion, container states): the store
/// holds every pod Slipway runs.
pub fn trim_pod(pod: &mut Pod) {
    pod.managed_fields_mut().clear();
    pod.annotations_mut().clear();
    pod.spec = None;
    if let Some(status) = pod.status.as_mut() {
        status.conditions = None;
        status.pod_ips = None;
        status.host_ips = None;
    }
}

/// Keeps of an object's managedFields only what [`super::apply::edited_elsewhere`] looks at
/// (usually nothing): the parsed entries were most of the memory the stores took.
pub fn keep_foreign_spec_edits<K: Resource>(object: &mut K) {
    if let Some(entries) = object.meta_mut().managed_fields.as_mut() {
        entries.retain(foreign_spec_edit);
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    #[test]
    fn live_objects_are_those_of_the_app_in_its_namespace() {
        let d = |ns: &str, app: &str| -> std::sync::Arc<Deployment> {
            let meta =
                json!({ "name": app, "namespace": ns, "labels": { "slipway.dev/app": app } });
            std::sync::Arc::new(serde_json::from_value(json!({ "metadata": meta })).unwrap())
        };
        let all = vec![d("a", "web"), d("b", "web"), d("a", "other")];
        let found = super::of_app(all, "a", "web");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].metadata.namespace.as_deref(), Some("a"));
    }

    #[test]
    fn a_trimmed_release_keeps_what_cleanup_and_resolve_read() {
        let mut release: slipway_crds::Release = serde_json::from_value(json!({
            "apiVersion": "slipway.dev/v1alpha1", "kind": "Release",
            "metadata": { "name": "rone", "uid": "u", "annotations": {
                "argocd.argoproj.io/tracking-id": "myapp:slipway.dev/Release:ns/rone",
                "kubectl.kubernetes.io/last-applied-configuration": "{ a whole manifest }" } },
            "spec": { "app": "myapp", "manifest": "services: {}", "created": "2026-01-01T00:00:00Z",
                "envSecret": { "name": "rone-env", "keys": ["FOO"], "sha256": "abc" } },
        }))
        .unwrap();
        super::trim_release(&mut release);
        let annotations = release.metadata.annotations.as_ref();
        assert!(slipway_crds::labels::is_gitops_tracked(None, annotations));
        // kubectl apply's copy of the whole manifest marks it too; only its key is kept.
        assert!(annotations.unwrap().values().all(String::is_empty));
        assert_eq!(release.metadata.uid.as_deref(), Some("u"));
        assert_eq!(release.spec.env_secret.unwrap().name, "rone-env");
        assert!(release.spec.manifest.is_empty());
        assert!(release.spec.created.is_some());
    }
}
