//! The source of `convox build`: the app's directory packed as a gzipped tarball (honouring
//! `.dockerignore`) and pushed to the app's registry as a one-layer OCI artifact, which the
//! build pod fetches by digest. The cluster needs no server of Slipway's own for it, and the
//! source stays as immutable as the Build that names it.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::error::{Error, Result};

/// Address to push to instead of the registry's own host, for a registry reached through a
/// port-forward (`http://127.0.0.1:5000` speaks plain HTTP).
pub const PUSH_ENDPOINT: &str = "SLIPWAY_PUSH_ENDPOINT";

/// A packed source: the gzipped tarball and the digest of the tarball itself.
pub struct Packed {
    /// The gzipped tarball.
    pub gzipped: Vec<u8>,
    /// `sha256:` digest of the uncompressed tarball (the layer's diff ID).
    pub diff_id: String,
}

/// Packs `dir` as a tarball, leaving out what its `.dockerignore` names.
pub fn pack(dir: &Path) -> Result<Packed> {
    let local = |what: &str, err: std::io::Error| Error::Local(format!("{what}: {err}"));
    let ignored = dockerignore(dir)?;
    let mut tar = tar::Builder::new(Vec::new());
    // Fixed owners and times: the same tree packs to the same bytes.
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&folder)
            .map_err(|e| local(&format!("reading {}", folder.display()), e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| local(&format!("reading {}", folder.display()), e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let kind = entry
                .file_type()
                .map_err(|e| local(&format!("reading {}", path.display()), e))?;
            if ignored
                .matched_path_or_any_parents(relative, kind.is_dir())
                .is_ignore()
            {
                continue;
            }
            if kind.is_dir() {
                tar.append_dir(relative, &path)
                    .map_err(|e| local(&format!("packing {}", path.display()), e))?;
                pending.push(path);
            } else {
                tar.append_path_with_name(&path, relative)
                    .map_err(|e| local(&format!("packing {}", path.display()), e))?;
            }
        }
    }
    let tarball = tar
        .into_inner()
        .map_err(|e| local("packing the source", e))?;
    let mut gzip = GzEncoder::new(Vec::new(), Compression::fast());
    gzip.write_all(&tarball)
        .map_err(|e| local("compressing the source", e))?;
    Ok(Packed {
        diff_id: sha256(&tarball),
        gzipped: gzip
            .finish()
            .map_err(|e| local("compressing the source", e))?,
    })
}

/// The `.dockerignore` of `dir` as a matcher: docker's patterns are anchored at the root.
fn dockerignore(dir: &Path) -> Result<Gitignore> {
    let mut builder = GitignoreBuilder::new(dir);
    if let Ok(text) = std::fs::read_to_string(dir.join(".dockerignore")) {
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(rest) => ("!", rest),
                None => ("", line),
            };
            let anchored = format!(
                "{negated}/{}",
                pattern.trim_start_matches("./").trim_start_matches('/')
            );
            builder
                .add_line(None, &anchored)
                .map_err(|e| Error::Local(format!(".dockerignore: {e}")))?;
        }
    }
    builder
        .build()
        .map_err(|e| Error::Local(format!(".dockerignore: {e}")))
}

/// Pushes `packed` to `repository:tag`; returns the reference by digest the cluster pulls.
pub async fn push(repository: &str, tag: &str, packed: &Packed) -> Result<String> {
    let (host, path) = repository
        .split_once('/')
        .ok_or_else(|| Error::Config(format!("the app's repository {repository} names no path")))?;
    let endpoint = std::env::var(PUSH_ENDPOINT).ok().filter(|e| !e.is_empty());
    let (push_host, plain) = match endpoint.as_deref() {
        Some(e) => match e.strip_prefix("http://") {
            Some(rest) => (rest.to_string(), true),
            None => (e.trim_start_matches("https://").to_string(), false),
        },
        None => (host.to_string(), false),
    };
    let loopback = push_host.starts_with("127.") || push_host.starts_with("localhost");
    let client = Client::new(ClientConfig {
        protocol: if plain || loopback {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..ClientConfig::default()
    });
    let reference: Reference = format!("{push_host}/{path}:{tag}")
        .parse()
        .map_err(|e| Error::Config(format!("the app's repository {repository}: {e}")))?;
    client
        .store_auth_if_needed(reference.resolve_registry(), &credentials(host))
        .await;
    let unreachable = |e: oci_client::errors::OciDistributionError| {
        Error::Registry(format!("pushing the source to {push_host}/{path}: {e}"))
    };
    let layer_digest = sha256(&packed.gzipped);
    client
        .push_blob(&reference, packed.gzipped.clone(), &layer_digest)
        .await
        .map_err(unreachable)?;
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": [packed.diff_id] },
    }))
    .expect("a JSON value serialises");
    let config_digest = sha256(&config);
    client
        .push_blob(&reference, config.clone(), &config_digest)
        .await
        .map_err(unreachable)?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": packed.gzipped.len(),
        }],
        "annotations": { "org.opencontainers.image.title": "slipway source" },
    }))
    .expect("a JSON value serialises");
    let digest = sha256(&manifest);
    client
        .push_manifest_raw(
            &reference,
            manifest,
            http::HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json"),
        )
        .await
        .map_err(unreachable)?;
    Ok(format!("{repository}@{digest}"))
}

/// The credentials docker and crane would use for `registry`, or none.
fn credentials(registry: &str) -> RegistryAuth {
    match docker_credential::get_credential(registry) {
        Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
            RegistryAuth::Basic(user, password)
        }
        Ok(docker_credential::DockerCredential::IdentityToken(token)) => {
            RegistryAuth::Bearer(token)
        }
        Err(_) => RegistryAuth::Anonymous,
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", slipway_crds::digest::sha256_hex(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(packed: &Packed) -> Vec<String> {
        let tarball = flate2::read::GzDecoder::new(&packed.gzipped[..]);
        let mut archive = tar::Archive::new(tarball);
        let mut names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_source_leaves_out_what_dockerignore_names_from_the_root() {
        let dir = std::env::temp_dir().join(format!("slipway-pack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for file in [
            "Dockerfile",
            "web/app.sh",
            "web/secret.env",
            "logs/a.log",
            "keep.log",
            "sub/logs/b",
        ] {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, file).unwrap();
        }
        std::fs::write(
            dir.join(".dockerignore"),
            "# comment\nlogs\n*.log\n!keep.log\nweb/*.env\n",
        )
        .unwrap();
        let packed = pack(&dir).unwrap();
        assert_eq!(
            names(&packed),
            [
                ".dockerignore",
                "Dockerfile",
                "keep.log",
                "sub",
                "sub/logs",
                "sub/logs/b",
                "web",
                "web/app.sh"
            ]
        );
        // The same tree packs to the same bytes, so an unchanged app uploads the same source.
        assert_eq!(pack(&dir).unwrap().diff_id, packed.diff_id);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
