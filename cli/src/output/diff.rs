//! `convox releases diff A B` and `--dry-run`: what changes between two releases, env values
//! never shown.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use slipway_crds::Release;
use slipway_crds::env::{self, Env};
use slipway_crds::manifest::Manifest;

use super::table::info;

/// What changes from one release to another.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct ReleaseDiff {
    /// Release compared from.
    pub from: String,
    /// Release compared to.
    pub to: String,
    /// Services whose image changes: service, old image, new image.
    pub images: Vec<(String, String, String)>,
    /// Env keys added.
    pub env_added: Vec<String>,
    /// Env keys whose value changes.
    pub env_changed: Vec<String>,
    /// Env keys removed.
    pub env_removed: Vec<String>,
    /// Whether values were compared (false: no read access, only keys and hashes).
    pub env_values_compared: bool,
    /// Services only in the new release.
    pub services_added: Vec<String>,
    /// Services only in the old release.
    pub services_removed: Vec<String>,
    /// Whether the convox.yml text differs.
    pub manifest_changed: bool,
}

/// The image each service runs: `images` over the manifest's `image:`.
fn images_of(release: &Release) -> BTreeMap<String, String> {
    let mut images: BTreeMap<String, String> = Manifest::parse(&release.spec.manifest)
        .map(|m| {
            m.services
                .into_iter()
                .filter_map(|(name, s)| Some((name, s.image?)))
                .collect()
        })
        .unwrap_or_default();
    images.extend(release.spec.images.clone());
    images
}

fn services_of(release: &Release) -> BTreeSet<String> {
    Manifest::parse(&release.spec.manifest)
        .map(|m| m.services.into_keys().collect())
        .unwrap_or_default()
}

/// Env keys a release has, known without reading values.
fn env_keys(release: &Release) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = release.spec.env.keys().cloned().collect();
    keys.extend(release.spec.env_secret.iter().flat_map(|r| r.keys.clone()));
    keys
}

/// Whether two releases have the same env for certain, without reading values.
pub fn same_env(a: &Release, b: &Release) -> bool {
    let hash = |r: &Release| r.spec.env_secret.as_ref().map(|s| s.sha256.clone());
    a.spec.env == b.spec.env && hash(a) == hash(b)
}

/// The diff of two releases; `envs` holds both environments when they could be read.
pub fn release_diff(
    (from_id, from): (&str, &Release),
    (to_id, to): (&str, &Release),
    envs: Option<(&Env, &Env)>,
) -> ReleaseDiff {
    let (old, new) = (images_of(from), images_of(to));
    let images = new
        .iter()
        .filter_map(|(service, image)| {
            let before = old.get(service)?;
            (before != image).then(|| (service.clone(), before.clone(), image.clone()))
        })
        .collect();
    let (old_services, new_services) = (services_of(from), services_of(to));
    let mut diff = ReleaseDiff {
        from: from_id.to_string(),
        to: to_id.to_string(),
        images,
        services_added: new_services.difference(&old_services).cloned().collect(),
        services_removed: old_services.difference(&new_services).cloned().collect(),
        manifest_changed: from.spec.manifest.trim() != to.spec.manifest.trim(),
        ..ReleaseDiff::default()
    };
    match envs {
        Some((a, b)) => {
            let change = env::diff(a, b);
            diff.env_added = change.added;
            diff.env_changed = change.changed;
            diff.env_removed = change.removed;
            diff.env_values_compared = true;
        }
        None => {
            let (a, b) = (env_keys(from), env_keys(to));
            diff.env_added = b.difference(&a).cloned().collect();
            diff.env_removed = a.difference(&b).cloned().collect();
            diff.env_values_compared = same_env(from, to);
        }
    }
    diff
}

/// `Images`, `Env`, `Services`, `Manifest` rows for what changes; `No changes` when nothing does.
pub fn diff_text(d: &ReleaseDiff) -> String {
    let mut rows: Vec<(&str, String)> = vec![];
    if !d.images.is_empty() {
        let lines: Vec<String> = d
            .images
            .iter()
            .map(|(s, a, b)| format!("{s}: {a} => {b}"))
            .collect();
        rows.push(("Images", lines.join("\n")));
    }
    let mut env = vec![];
    for (label, keys) in [
        ("add", &d.env_added),
        ("change", &d.env_changed),
        ("remove", &d.env_removed),
    ] {
        if !keys.is_empty() {
            env.push(format!("{label}:{}", keys.join(",")));
        }
    }
    if !d.env_values_compared {
        env.push("(values not compared: no read access to the env Secrets)".to_string());
    }
    if !env.is_empty() {
        rows.push(("Env", env.join(" ")));
    }
    let mut services = vec![];
    if !d.services_added.is_empty() {
        services.push(format!("add:{}", d.services_added.join(",")));
    }
    if !d.services_removed.is_empty() {
        services.push(format!("remove:{}", d.services_removed.join(",")));
    }
    if !services.is_empty() {
        rows.push(("Services", services.join(" ")));
    }
    if d.manifest_changed {
        rows.push(("Manifest", "changed".to_string()));
    }
    let head = format!("{} => {}\n", d.from, d.to);
    if rows.is_empty() {
        format!("{head}No changes\n")
    } else {
        format!("{head}{}", info(&rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(manifest: &str, images: &[(&str, &str)], keys: &[&str], hash: &str) -> Release {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "slipway.dev/v1alpha1", "kind": "Release",
            "metadata": { "name": "r" },
            "spec": {
                "app": "myapp", "manifest": manifest,
                "images": images.iter().map(|(s, i)| (s.to_string(), i.to_string())).collect::<BTreeMap<_, _>>(),
                "envSecret": { "name": "r-env", "keys": keys, "sha256": hash },
            }
        }))
        .unwrap()
    }

    const WEB: &str = "services:\n  web:\n    image: nginx:1.25\n    port: 80\n";
    const WEB_WORKER: &str =
        "services:\n  web:\n    image: nginx:1.25\n    port: 80\n  worker:\n    image: busybox\n";

    #[test]
    fn images_env_keys_and_services() {
        let a = release(WEB, &[], &["A", "B", "C"], "h1");
        let b = release(WEB_WORKER, &[("web", "nginx:1.27")], &["A", "B", "D"], "h2");
        let env_a = Env::from([
            ("A".into(), "1".into()),
            ("B".into(), "2".into()),
            ("C".into(), "3".into()),
        ]);
        let env_b = Env::from([
            ("A".into(), "1".into()),
            ("B".into(), "x".into()),
            ("D".into(), "4".into()),
        ]);
        let d = release_diff(("RA", &a), ("RB", &b), Some((&env_a, &env_b)));
        assert_eq!(
            diff_text(&d),
            "\
RA => RB
Images    web: nginx:1.25 => nginx:1.27
Env       add:D change:B remove:C
Services  add:worker
Manifest  changed
"
        );
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("\"x\"") && !json.contains("\"4\""), "{json}");
    }

    #[test]
    fn without_read_access_keys_and_hashes_decide() {
        let a = release(WEB, &[], &["A"], "h1");
        let same = release(WEB, &[], &["A"], "h1");
        assert_eq!(
            diff_text(&release_diff(("RA", &a), ("RB", &same), None)),
            "RA => RB\nNo changes\n"
        );
        let other = release(WEB, &[], &["A", "B"], "h2");
        assert_eq!(
            diff_text(&release_diff(("RA", &a), ("RB", &other), None)),
            "RA => RB\nEnv  add:B (values not compared: no read access to the env Secrets)\n"
        );
    }
}
