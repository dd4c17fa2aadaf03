//! What BuildKit exported, turned back into salve's terms: the layers it added over the base
//! image (one per step) and the mount points it left in them.

use crate::image::PlatformImage;
use crate::image::blob::{normalize, open_layer};
use crate::image::layout::OciLayout;
use crate::image::manifest::Descriptor;
use crate::image::read_paths;
use crate::plugin::types::FileKind;
use anyhow::{Context, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The most a mount point candidate of the base may hold (they are folders and small files).
const CANDIDATE_FILE_CAP: u64 = 16 << 20;

/// The layers of `exported` above the base image's (`base_diff_ids`), bottom first.
pub fn new_layers(
    layout: &OciLayout,
    exported: &Descriptor,
    base_diff_ids: &[String],
) -> anyhow::Result<Vec<PathBuf>> {
    let layers = PlatformImage::read(layout, exported)
        .context("reading the image BuildKit exported")?
        .layers;
    if !layers.diff_ids.starts_with(base_diff_ids) {
        bail!(
            "the image BuildKit exported does not start with the original image's {} layers; \
             salve cannot tell which layers are the patch",
            base_diff_ids.len()
        );
    }
    Ok(layers.blobs[base_diff_ids.len()..].to_vec())
}

/// One entry of the new layers, as far as mount points go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A folder.
    Folder,
    /// An empty regular file.
    EmptyFile,
    /// Anything else (a file with content, a link, a whiteout).
    Other,
}

/// The paths among `candidates` (mount destinations, with their parent folders) that the new
/// layers hold only because the daemon created them as mount points: absent from the base,
/// and an empty file, or a folder holding nothing but other such paths.
pub fn mount_points(
    layers: &[PathBuf],
    base: &[PathBuf],
    candidates: &BTreeSet<String>,
) -> anyhow::Result<BTreeSet<String>> {
    let mut shapes: BTreeMap<String, Shape> = BTreeMap::new();
    for layer in layers {
        let mut archive = tar::Archive::new(open_layer(layer)?);
        for entry in archive.entries()? {
            let entry = entry?;
            let Some(path) = normalize(&String::from_utf8_lossy(&entry.path_bytes())) else {
                continue;
            };
            let header = entry.header();
            let kind = header.entry_type();
            let shape = if kind.is_dir() {
                Shape::Folder
            } else if kind.is_file() && header.size()? == 0 && !path.contains("/.wh.") {
                Shape::EmptyFile
            } else {
                Shape::Other
            };
            shapes.insert(path, shape);
        }
    }
    let present: Vec<String> = candidates
        .iter()
        .filter(|path| shapes.contains_key(*path))
        .cloned()
        .collect();
    if present.is_empty() {
        return Ok(BTreeSet::new());
    }
    let in_base: BTreeSet<String> = read_paths(base, &present, CANDIDATE_FILE_CAP)
        .context("reading the base image's layers")?
        .into_iter()
        .filter(|file| file.kind != FileKind::Missing)
        .map(|file| file.path)
        .collect();
    // Deepest first, so a folder's children are decided before it.
    let mut ordered = present;
    ordered.sort_by_key(|path| std::cmp::Reverse(path.matches('/').count()));
    let mut found = BTreeSet::new();
    for path in ordered {
        if in_base.contains(&path) {
            continue;
        }
        let only_mount_points = shapes
            .range(format!("{path}/")..)
            .take_while(|(child, _)| child.starts_with(&format!("{path}/")))
            .all(|(child, _)| found.contains(child));
        let stub = match shapes[&path] {
            Shape::EmptyFile => true,
            Shape::Folder => only_mount_points,
            Shape::Other => false,
        };
        if stub {
            found.insert(path);
        }
    }
    Ok(found)
}

/// The mount destinations of a run in the target's paths, with their parent folders: with the
/// target as root, the results folder, the kept-out paths and what the daemon binds into every
/// container; with a tooling image, only the kept-out paths lie in the target.
pub fn mount_candidates(exclude_paths: &[String], tooling: bool) -> BTreeSet<String> {
    let mut destinations: Vec<String> = exclude_paths.to_vec();
    if !tooling {
        destinations.extend(
            [
                crate::engine::spec::RESULTS_MOUNT,
                "/etc/resolv.conf",
                "/etc/hosts",
                "/etc/hostname",
                "/dev",
                "/proc",
                "/sys",
            ]
            .map(String::from),
        );
    }
    let mut candidates = BTreeSet::new();
    for destination in destinations {
        let mut path = format!("/{}", destination.trim_matches('/'));
        while path.len() > 1 {
            candidates.insert(path.clone());
            path = match path.rsplit_once('/') {
                Some(("", _)) | None => break,
                Some((parent, _)) => parent.to_string(),
            };
        }
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_include_parent_folders() {
        let candidates = mount_candidates(&["/var/cache/apt/archives/".into()], true);
        let listed: Vec<&str> = candidates.iter().map(String::as_str).collect();
        assert_eq!(
            listed,
            [
                "/var",
                "/var/cache",
                "/var/cache/apt",
                "/var/cache/apt/archives"
            ]
        );
        let chroot = mount_candidates(&[], false);
        assert!(chroot.contains("/salve-results"));
        assert!(chroot.contains("/etc/resolv.conf"));
        assert!(chroot.contains("/etc"));
    }
}
