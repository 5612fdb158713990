//! Writes Slipway's CRD YAML into charts/slipway/crds/ (or the folder given as the first argument).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/slipway/crds")
        });
    std::fs::create_dir_all(&dir)?;
    for (file, yaml) in slipway_crds::crd_files() {
        std::fs::write(dir.join(&file), yaml)?;
        println!("wrote {}", dir.join(file).display());
    }
    Ok(())
}
