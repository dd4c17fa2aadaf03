//! The native engine's patch layer: the packages' data entries (less the kept configuration
//! files, diverted ones under their new names), the files and links written whole, and a whiteout for each
//! removed path that is not a folder in the image, every path placed through the image's links
//! ([`Placement`]), as one uncompressed tar the layer writer then compresses like any engine's
//! changes.

use super::package::{self, Downloaded, EntryKind};
use super::placement::Placement;
use crate::plugin::native::Installation;
use crate::plugin::types::{FileKind, ImageFile};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

/// Writes the layer to `blob`; the files written whole, and the packages' files at paths
/// `database` names (where the installation puts them, before links are followed), as image
/// files: what the image's package database is after the installation.
pub fn write(
    blob: &Path,
    packages: &[Downloaded],
    installation: &Installation,
    placement: &Placement,
    database: &dyn Fn(&str) -> bool,
) -> anyhow::Result<Vec<ImageFile>> {
    let kept: BTreeSet<&str> = installation.kept.iter().map(String::as_str).collect();
    // An archive path may be diverted to several places (a wheel in several environments).
    let mut diverted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in &installation.diverted {
        diverted.entry(from.as_str()).or_default().push(to.as_str());
    }
    let places = |path: &str| -> Vec<String> {
        match diverted.get(path) {
            Some(targets) => targets.iter().map(|to| placement.resolve(to)).collect(),
            None => vec![placement.resolve(path)],
        }
    };
    let place = |path: &str| places(path).swap_remove(0);
    let logical = |path: &str| -> Vec<String> {
        match diverted.get(path) {
            Some(targets) => targets.iter().map(|to| to.to_string()).collect(),
            None => vec![path.to_string()],
        }
    };
    let mut packaged_database: Vec<ImageFile> = Vec::new();
    let mut builder = tar::Builder::new(BufWriter::new(File::create(blob)?));
    builder.mode(tar::HeaderMode::Complete);
    let mut written: BTreeSet<String> = BTreeSet::new();
    for package in packages {
        package::each_data_entry(package, |path, kind, entry| {
            if path == "/" || kept.contains(path) {
                return Ok(());
            }
            let targets = places(path);
            let recorded: Vec<String> = logical(path)
                .into_iter()
                .filter(|target| kind == EntryKind::File && database(target))
                .collect();
            // A file written in several places, or kept for the database, is read once.
            let content = if kind == EntryKind::File && (targets.len() > 1 || !recorded.is_empty())
            {
                let mut bytes = Vec::new();
                io::Read::read_to_end(entry, &mut bytes)?;
                Some(bytes)
            } else {
                None
            };
            for target in targets {
                if kind == EntryKind::Directory && placement.is_link(&target) {
                    // dpkg keeps a link where the package has a folder.
                    continue;
                }
                let mut header = entry.header().clone();
                let relative = target.trim_start_matches('/');
                match kind {
                    EntryKind::Symlink => {
                        let link = entry.link_name_bytes().unwrap_or_default().into_owned();
                        let link = String::from_utf8_lossy(&link).into_owned();
                        builder.append_link(&mut header, relative, link)?;
                    }
                    EntryKind::HardLink => {
                        let link = entry.link_name_bytes().unwrap_or_default().into_owned();
                        let link = String::from_utf8_lossy(&link).into_owned();
                        let link = place(&format!(
                            "/{}",
                            link.trim_start_matches("./").trim_start_matches('/')
                        ));
                        builder.append_link(&mut header, relative, link.trim_start_matches('/'))?;
                    }
                    EntryKind::Directory => {
                        header.set_size(0);
                        builder.append_data(&mut header, format!("{relative}/"), io::empty())?;
                    }
                    EntryKind::File => match &content {
                        Some(bytes) => {
                            builder.append_data(&mut header, relative, bytes.as_slice())?
                        }
                        None => builder.append_data(&mut header, relative, &mut *entry)?,
                    },
                }
                written.insert(target);
            }
            if let Some(bytes) = &content {
                packaged_database.extend(recorded.into_iter().map(|path| ImageFile {
                    path,
                    kind: FileKind::File,
                    content: Some(bytes.clone()),
                    link_target: None,
                }));
            }
            Ok(())
        })?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut database = packaged_database;
    for file in &installation.files {
        let mut header = root_header(
            tar::EntryType::Regular,
            file.content.len() as u64,
            file.mode & 0o7777,
            now,
        );
        let target = placement.resolve(&file.path);
        builder.append_data(
            &mut header,
            target.trim_start_matches('/'),
            file.content.as_slice(),
        )?;
        written.insert(target);
        database.push(ImageFile {
            path: file.path.clone(),
            kind: FileKind::File,
            content: Some(file.content.clone()),
            link_target: None,
        });
    }
    for link in &installation.links {
        let mut header = root_header(tar::EntryType::Symlink, 0, 0o777, now);
        let target = placement.resolve(&link.path);
        builder.append_link(&mut header, target.trim_start_matches('/'), &link.target)?;
        written.insert(target);
    }
    let folders: Vec<String> = installation
        .removed_folders
        .iter()
        .map(|folder| placement.resolve(folder))
        .collect();
    let in_removed_folder = |path: &str| {
        folders
            .iter()
            .any(|folder| path.starts_with(&format!("{folder}/")))
    };
    for folder in &folders {
        if written
            .iter()
            .any(|path| path == folder || path.starts_with(&format!("{folder}/")))
        {
            anyhow::bail!("the installation writes into {folder}, which it also removes");
        }
        whiteout(&mut builder, folder, now)?;
    }
    for path in &installation.removed {
        let path = placement.resolve(path);
        if placement.is_folder(&path) || written.contains(&path) || in_removed_folder(&path) {
            continue;
        }
        whiteout(&mut builder, &path, now)?;
    }
    builder
        .into_inner()?
        .into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    Ok(database)
}

/// Writes the whiteout that removes `path` (and all beneath it) from the image.
fn whiteout(builder: &mut tar::Builder<BufWriter<File>>, path: &str, now: u64) -> io::Result<()> {
    let Some((parent, name)) = path.rsplit_once('/') else {
        return Ok(());
    };
    if name.is_empty() || name == "." || name == ".." {
        return Ok(());
    }
    let mut header = root_header(tar::EntryType::Regular, 0, 0o644, now);
    let whiteout = format!("{}/.wh.{name}", parent.trim_start_matches('/'));
    builder.append_data(&mut header, whiteout.trim_start_matches('/'), io::empty())
}

/// A header of an entry the layer writes itself, owned by root.
fn root_header(kind: tar::EntryType, size: u64, mode: u32, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header
}
