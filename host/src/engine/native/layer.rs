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

/// Writes the layer to `blob`; the database files written, as image files.
pub fn write(
    blob: &Path,
    packages: &[Downloaded],
    installation: &Installation,
    placement: &Placement,
) -> anyhow::Result<Vec<ImageFile>> {
    let kept: BTreeSet<&str> = installation.kept.iter().map(String::as_str).collect();
    let diverted: BTreeMap<&str, &str> = installation
        .diverted
        .iter()
        .map(|(from, to)| (from.as_str(), to.as_str()))
        .collect();
    let place = |path: &str| placement.resolve(diverted.get(path).copied().unwrap_or(path));
    let mut builder = tar::Builder::new(BufWriter::new(File::create(blob)?));
    builder.mode(tar::HeaderMode::Complete);
    let mut written: BTreeSet<String> = BTreeSet::new();
    for package in packages {
        package::each_data_entry(package, |path, kind, entry| {
            if path == "/" || kept.contains(path) {
                return Ok(());
            }
            let target = place(path);
            if kind == EntryKind::Directory && placement.is_link(&target) {
                // dpkg keeps a link where the package has a folder.
                return Ok(());
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
                EntryKind::File => builder.append_data(&mut header, relative, entry)?,
            }
            written.insert(target);
            Ok(())
        })?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut database = Vec::new();
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
    for path in &installation.removed {
        let path = placement.resolve(path);
        if placement.is_folder(&path) || written.contains(&path) {
            continue;
        }
        let Some((parent, name)) = path.rsplit_once('/') else {
            continue;
        };
        if name.is_empty() || name == "." || name == ".." {
            continue;
        }
        let mut header = root_header(tar::EntryType::Regular, 0, 0o644, now);
        let whiteout = format!("{}/.wh.{name}", parent.trim_start_matches('/'));
        builder.append_data(&mut header, whiteout.trim_start_matches('/'), io::empty())?;
    }
    builder
        .into_inner()?
        .into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    Ok(database)
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
