//! Helpers for the end-to-end patch tests: fixture images, layers of images in OCI layouts,
//! source policies, and checks on versions and files.

use salve::image::layout::OciLayout;
use salve::image::read_paths;
use salve::plugin::types::FileKind;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs a fixture script of the workspace (`fixtures/...`) and returns what it printed, trimmed.
pub fn fixture_script(script: &str, args: &[&str]) -> String {
    let path = workspace().join(script);
    let mut all = vec![path.to_str().unwrap()];
    all.extend_from_slice(args);
    super::run("bash", &all).trim().to_string()
}

/// The OCI layout folder of a Debian fixture image (tagged with the variant), built once per
/// recipe by `fixtures/images/debian-image.sh`.
pub fn debian_fixture(variant: &str) -> String {
    fixture_script("fixtures/images/debian-image.sh", &[variant])
}

/// The layer blobs (bottom first) of the image tagged `tag` in an OCI layout.
pub fn image_layers(layout: &Path, tag: &str) -> Vec<PathBuf> {
    let layout = OciLayout::open(layout).unwrap();
    let manifest: Value = serde_json::from_slice(
        &layout
            .read_blob(&layout.resolve(Some(tag)).unwrap().digest)
            .unwrap(),
    )
    .unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layout.blob_path(layer["digest"].as_str().unwrap()).unwrap())
        .collect()
}

/// The paths of a layer blob's entries that are not folders (files, links, whiteouts), without
/// a leading `/` or `./`: what a patch layer adds, changes or removes.
pub fn layer_file_paths(blob: &Path) -> Vec<String> {
    let mut archive = tar::Archive::new(salve::image::blob::open_layer(blob).unwrap());
    let mut paths = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        paths.push(
            path.trim_start_matches("./")
                .trim_start_matches('/')
                .to_string(),
        );
    }
    paths
}

/// Supplies a tooling image as copa's users do: pushes the Debian fixture `variant` to
/// `registry` as `tooling/NAME` and writes to `policy` a source policy converting `upstream`
/// (the image a plugin asks for) into it. Returns the pushed image's name.
pub fn tooling_through_policy(
    cache: &Path,
    registry: &str,
    variant: &str,
    name: &str,
    upstream: &str,
    policy: &Path,
) -> String {
    let source = format!("oci:{}:{variant}", debian_fixture(variant));
    tooling_image_through_policy(cache, registry, &source, name, upstream, policy)
}

/// As `tooling_through_policy`, for any image `source` (in salve's notation).
pub fn tooling_image_through_policy(
    cache: &Path,
    registry: &str,
    source: &str,
    name: &str,
    upstream: &str,
    policy: &Path,
) -> String {
    let tooling = format!("{registry}/tooling/{name}");
    let (ok, _, stderr) = salve_in(
        cache,
        &["copy", source, &format!("docker://{tooling}")],
        &[],
    );
    assert!(ok, "pushing the tooling image: {stderr}");
    let rules = json!({"rules": [{"action": "CONVERT",
        "selector": {"identifier": format!("docker-image://{upstream}")},
        "updates": {"identifier": format!("docker-image://{tooling}")}}]});
    std::fs::write(policy, serde_json::to_vec(&rules).unwrap()).unwrap();
    tooling
}

/// True when the image has a regular file at `path`.
pub fn has_file(layers: &[PathBuf], path: &str) -> bool {
    read_paths(layers, &[path.to_string()], 64 << 20).unwrap()[0].kind == FileKind::File
}

/// Runs `salve` with a private cache folder and extra environment; its success, stdout and
/// stderr.
pub fn salve_in(cache: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_salve"))
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A layer's entries (compressed or not) without timestamps: path → kind, mode, owner, link
/// target and content digest (whiteouts by their own names).
pub fn layer_entries(blob: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    use std::io::Read;
    let mut archive = tar::Archive::new(salve::image::blob::open_layer(blob).unwrap());
    let mut entries = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = String::from_utf8_lossy(&entry.path_bytes())
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let header = entry.header().clone();
        let link = entry
            .link_name()
            .unwrap()
            .map(|target| target.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        let described = format!(
            "{:?} {:o} {}:{} {link} {}",
            header.entry_type(),
            header.mode().unwrap() & 0o7777,
            header.uid().unwrap(),
            header.gid().unwrap(),
            hex::encode(sha2::Sha256::digest(&content))
        );
        entries.insert(path, described);
    }
    entries
}
