//! Merging layers into a single one: a previous patch layer and a new one, so patches never pile
//! up, or the layers BuildKit makes one per step.
//!
//! The result is what the layers mean stacked, as one layer over the same base. For each pair:
//! - every entry of the new (upper) layer is kept, whiteouts and opaque markers included, since
//!   they may hide content of the base below both;
//! - an entry of the old (lower) layer is kept unless the new layer has the same path, whites it
//!   (or a folder above it) out, marks a folder above it opaque, or puts a file or link where a
//!   folder above it was;
//! - an old whiteout or opaque marker is dropped when the new layer has an entry at that path.
//!
//! The old layer's surviving entries come first and the new layer's after them, so a whiteout
//! the old layer keeps is applied before anything the new layer puts under it. Entries are copied
//! with their headers, link targets and extended attributes; contents are streamed, never held in
//! memory.

use super::blob::{normalize, open_layer};
use super::compression::Compression;
use super::sink::{self, WrittenLayer};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// What the new layer decides about the paths below it.
#[derive(Default)]
struct UpperIndex {
    /// Every path the new layer has an entry for (whiteouts and markers by their own names).
    paths: HashSet<String>,
    /// Paths the new layer whites out (they and everything under them).
    removed: Vec<String>,
    /// Folders whose lower content the new layer hides (opaque), or where it put a non-folder.
    covered: Vec<String>,
}

impl UpperIndex {
    /// Reads the new layer's names.
    fn read(layer: &Path) -> io::Result<UpperIndex> {
        let mut index = UpperIndex::default();
        let mut archive = tar::Archive::new(open_layer(layer)?);
        for entry in archive.entries()? {
            let entry = entry?;
            let Some(path) = normalize(&String::from_utf8_lossy(&entry.path_bytes())) else {
                continue;
            };
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", &path));
            if name == ".wh..wh..opq" {
                index.covered.push(parent.to_string());
            } else if let Some(removed) = name.strip_prefix(".wh.") {
                index.removed.push(format!("{parent}/{removed}"));
            } else if !entry.header().entry_type().is_dir() {
                index.covered.push(path.clone());
            }
            index.paths.insert(path);
        }
        Ok(index)
    }

    /// True when the new layer decides `path` of the old layer (so the old entry goes).
    fn overrides(&self, path: &str) -> bool {
        let under = |dir: &str| {
            path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
        };
        self.paths.contains(path)
            || self
                .removed
                .iter()
                .any(|removed| path == removed || under(removed))
            || self.covered.iter().any(|dir| under(dir))
            || self.whiteout_target_recreated(path)
    }

    /// True when `path` is an old whiteout or opaque marker for something the new layer puts back.
    fn whiteout_target_recreated(&self, path: &str) -> bool {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        match name.strip_prefix(".wh.") {
            // An old opaque marker stays: it hid the base's content of its folder.
            Some(".wh..opq") | None => false,
            Some(removed) => self.paths.contains(&format!("{parent}/{removed}")),
        }
    }
}

/// Writes the merge of `layers` (bottom first: a previous patch and a new one, or the layers
/// BuildKit made one per step) into `out`, leaving out the paths `skip` names.
pub fn squash(
    layers: &[&Path],
    skip: &dyn Fn(&str) -> bool,
    out: File,
    compression: Compression,
    threads: usize,
) -> io::Result<WrittenLayer> {
    let indexes: Vec<UpperIndex> = layers
        .iter()
        .skip(1)
        .map(|layer| UpperIndex::read(layer))
        .collect::<io::Result<_>>()?;
    let mut builder = tar::Builder::new(sink::start(out, compression, threads)?);
    let mut entries = 0;
    for (position, layer) in layers.iter().enumerate() {
        let above = &indexes[position..];
        entries += copy_entries(layer, &mut builder, |path| {
            !skip(path) && !above.iter().any(|index| index.overrides(path))
        })?;
    }
    sink::finish(builder.into_inner()?, compression, entries)
}

/// Copies the entries of `layer` whose normalized paths (`/usr/bin/x`) `keep` accepts, with
/// their headers, link targets and extended attributes; returns how many were copied.
pub fn copy_entries<W: Write>(
    layer: &Path,
    builder: &mut tar::Builder<W>,
    keep: impl Fn(&str) -> bool,
) -> io::Result<usize> {
    let mut archive = tar::Archive::new(open_layer(layer)?);
    let mut copied = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(path) = normalize(&raw) else {
            continue;
        };
        if !keep(&path) {
            continue;
        }
        let relative = path.trim_start_matches('/').to_string();
        if let Some(extensions) = entry.pax_extensions()? {
            let records: Vec<(String, Vec<u8>)> = extensions
                .filter_map(Result::ok)
                .filter_map(|record| {
                    let key = record.key().ok()?;
                    key.starts_with("SCHILY.xattr.")
                        .then(|| (key.to_string(), record.value_bytes().to_vec()))
                })
                .collect();
            if !records.is_empty() {
                builder.append_pax_extensions(
                    records
                        .iter()
                        .map(|(key, value)| (key.as_str(), value.as_slice())),
                )?;
            }
        }
        let mut header = entry.header().clone();
        let kind = header.entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name()?.unwrap_or_default().into_owned();
            let target = if kind.is_hard_link() {
                normalize(&target.to_string_lossy())
                    .map(|t| t.trim_start_matches('/').into())
                    .unwrap_or(target)
            } else {
                target
            };
            builder.append_link(&mut header, &relative, target)?;
        } else {
            let mut data: Box<dyn Read> = Box::new(&mut entry);
            builder.append_data(&mut header, &relative, &mut data)?;
        }
        copied += 1;
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_layer_decides_what_it_touches() {
        let mut index = UpperIndex::default();
        index.paths.insert("/usr/lib/libssl.so.3".into());
        index.paths.insert("/etc/app".into());
        index.paths.insert("/etc/app/.wh..wh..opq".into());
        index.covered.push("/etc/app".into());
        index.removed.push("/var/lib/old".into());
        index.covered.push("/opt/tool".into());

        assert!(index.overrides("/usr/lib/libssl.so.3"), "same path");
        assert!(index.overrides("/var/lib/old"), "whited out");
        assert!(index.overrides("/var/lib/old/deep"), "under a whiteout");
        assert!(index.overrides("/etc/app/conf"), "under an opaque folder");
        assert!(
            index.overrides("/opt/tool/bin"),
            "under a file that replaced a folder"
        );
        assert!(!index.overrides("/usr/lib/libcrypto.so.3"));
        assert!(!index.overrides("/etc/application"));
        assert!(
            index.overrides("/usr/lib/.wh.libssl.so.3"),
            "an old whiteout of a path put back"
        );
    }
}
