//! Drift: whether an apply put back what someone changed by hand (pure).

use kube::{Resource, ResourceExt};

use super::apply::edited_elsewhere;
use super::render::RENDER_HASH;

/// How applying `wanted` put back what someone changed by hand, if it did.
// Deleted: the object of a service that already ran this release was `gone` from the API server.
// Edited: its spec (other than replicas) changed under the same render hash, and this apply
// changed it back (its generation moved; an apply that changed nothing repaired nothing).
pub(super) fn restored<K: Resource>(
    wanted: &K,
    before: Option<&K>,
    after: &K,
    gone: bool,
) -> Option<&'static str> {
    let hash = |o: &K| o.annotations().get(RENDER_HASH).cloned();
    match before {
        None if gone => Some("was deleted by hand; made again"),
        Some(b)
            if hash(b) == hash(wanted)
                && edited_elsewhere(b)
                && after.meta().generation > b.meta().generation =>
        {
            Some("was edited by hand; the release's spec is applied again")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    use super::restored;

    #[test]
    fn only_what_was_changed_by_hand_and_put_back_is_called_restored() {
        let object = |generation: i64, hash: &str, entries: serde_json::Value| -> Deployment {
            serde_json::from_value(json!({ "metadata": {
                "name": "myapp-web", "generation": generation,
                "labels": { "slipway.dev/service": "web" },
                "annotations": { "slipway.dev/render-hash": hash },
                "managedFields": entries,
            } }))
            .unwrap()
        };
        let ours = json!({ "manager": "slipway-operator", "operation": "Apply",
            "fieldsType": "FieldsV1", "fieldsV1": { "f:spec": { "f:template": {} } } });
        let set_image = json!({ "manager": "kubectl-set", "operation": "Update",
            "fieldsType": "FieldsV1", "fieldsV1": { "f:spec": { "f:template": {} } } });
        let wanted = object(0, "h1", json!([]));
        let applied = object(1, "h1", json!([ours]));
        // Missing: deleted by hand only when it is gone from the API server too.
        assert!(restored(&wanted, None, &applied, true).is_some());
        assert_eq!(restored(&wanted, None, &applied, false), None);
        // Edited under the same render hash, and the apply changed it back.
        let edited = object(2, "h1", json!([ours, set_image]));
        let back = object(3, "h1", json!([ours]));
        assert!(restored(&wanted, Some(&edited), &back, false).is_some());
        // An apply that changed nothing (a field only the other manager sets) is no repair.
        assert_eq!(restored(&wanted, Some(&edited), &edited, false), None);
        // A new render is a rollout, not a repair.
        let older = object(2, "h0", json!([ours, set_image]));
        assert_eq!(restored(&wanted, Some(&older), &back, false), None);
    }
}
