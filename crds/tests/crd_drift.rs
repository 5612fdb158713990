//! The committed CRD YAML must be what the types generate: run `make crds` after changing them.

use std::path::Path;

#[test]
fn committed_crds_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/slipway/crds");
    for (file, generated) in slipway_crds::crd_files() {
        let committed = std::fs::read_to_string(dir.join(&file))
            .unwrap_or_else(|e| panic!("{file} is missing ({e}): run `make crds`"));
        assert!(
            committed == generated,
            "charts/slipway/crds/{file} differs from the types: run `make crds` and commit the result"
        );
    }
}

#[test]
fn every_kind_is_in_the_slipway_category() {
    for crd in slipway_crds::crds() {
        let categories = crd.spec.names.categories.unwrap_or_default();
        assert_eq!(categories, ["slipway"], "{}", crd.spec.names.kind);
        assert_eq!(crd.spec.group, "slipway.dev");
        assert_eq!(crd.spec.scope, "Namespaced");
    }
}
