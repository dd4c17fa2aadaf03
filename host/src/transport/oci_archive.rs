//! The `oci-archive:FILE[:TAG]` transport: an OCI image layout in one tar file.
//!
//! Reading streams every blob of the archive into a working layout, checking each against the
//! digest its name gives. Writing puts the image's blobs and an index naming only it into a
//! temporary file beside the target, renamed into place when complete.

use super::error::{ArchiveFile, Cause, TransportError};
use crate::image::digest::HashingWriter;
use crate::image::layout::OciLayout;
use crate::image::manifest::{Descriptor, Index, OCI_INDEX, REF_NAME, Unchosen};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Reads the image tagged `tag` (or the archive's only image) from `file` into `work`, tagged
/// `work_tag` there; returns its descriptor.
pub fn read(
    file: &Path,
    tag: Option<&str>,
    work: &OciLayout,
    work_tag: &str,
) -> Result<Descriptor, TransportError> {
    let archive_file = ArchiveFile::oci(file);
    let opened = File::open(file).map_err(|error| archive_file.fail("opening", error))?;
    let mut archive = tar::Archive::new(io::BufReader::with_capacity(1 << 20, opened));
    let mut index_bytes = None;
    for entry in archive
        .entries()
        .map_err(|error| archive_file.fail("reading", error))?
    {
        let mut entry = entry.map_err(|error| archive_file.fail("reading", error))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|error| archive_file.fail("reading a name", error))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if path == "index.json" {
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|error| archive_file.fail("reading index.json", error))?;
            index_bytes = Some(bytes);
        } else if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let digest = format!("sha256:{hex}");
            store_blob(&mut entry, &digest, work)
                .map_err(|cause| archive_file.fail(format!("reading {path}"), cause))?;
        }
    }
    let index_bytes =
        index_bytes.ok_or_else(|| archive_file.fail("reading", "it has no index.json"))?;
    let index: Index = serde_json::from_slice(&index_bytes)
        .map_err(|error| archive_file.fail("reading index.json", error))?;
    let descriptor =
        choose(&index, tag).map_err(|cause| archive_file.fail("choosing the image", cause))?;
    // Every blob the image needs must have been in the archive.
    for blob in work.reachable(&descriptor)? {
        if !work.blob_path(&blob.digest)?.exists() {
            let missing = format!("blob {} is missing from the archive", blob.digest);
            return Err(archive_file.fail("reading", missing));
        }
    }
    let mut tagged = descriptor.clone();
    if let Some(annotations) = tagged.annotations.as_mut() {
        annotations.remove(REF_NAME);
    }
    work.tag(work_tag, &tagged)?;
    Ok(tagged)
}

/// Streams one blob into the layout, refusing it unless its bytes match `digest`.
fn store_blob(entry: &mut impl Read, digest: &str, work: &OciLayout) -> Result<(), Cause> {
    if work.blob_path(digest)?.exists() {
        return Ok(());
    }
    let mut temp = work.temp_blob()?;
    let mut hashing = HashingWriter::new(temp.as_file_mut());
    io::copy(entry, &mut hashing)?;
    let (_, described) = hashing.finish();
    if described.digest != digest {
        return Err(format!(
            "its content has digest {}; the archive is corrupt",
            described.digest
        )
        .into());
    }
    Ok(work.adopt_verified_blob(digest, temp)?)
}

/// The index entry tagged `tag`, or the only entry.
fn choose(index: &Index, tag: Option<&str>) -> Result<Descriptor, Cause> {
    index.choose(tag).cloned().map_err(|unchosen| {
        Cause::Message(match unchosen {
            Unchosen::NoSuchTag { known } => {
                format!(
                    "no image is tagged {:?} (tags: {})",
                    tag.unwrap_or_default(),
                    known.join(", ")
                )
            }
            Unchosen::NotOne { count, known } => format!(
                "it holds {count} images; name one with oci-archive:FILE:TAG (tags: {})",
                known.join(", ")
            ),
        })
    })
}

/// Writes the image `descriptor` names in `work` to `file` as an OCI archive whose index tags
/// it `tag`.
pub fn write(
    work: &OciLayout,
    descriptor: &Descriptor,
    file: &Path,
    tag: &str,
) -> Result<(), TransportError> {
    let archive_file = ArchiveFile::oci(file);
    let mut entry = descriptor.clone();
    entry
        .annotations
        .get_or_insert_with(Map::new)
        .insert(REF_NAME.into(), Value::String(tag.to_string()));
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.to_string()),
        manifests: vec![entry],
        other: Map::new(),
    };
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(parent)
        .map_err(|error| archive_file.fail("creating a temporary file", error))?;
    let mut builder = tar::Builder::new(io::BufWriter::with_capacity(1 << 20, temp.as_file()));
    let mut append = |name: &str, size: u64, data: &mut dyn Read| {
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, data)
            .map_err(|error| archive_file.fail(format!("writing {name}"), error))
    };
    let marker = br#"{"imageLayoutVersion":"1.0.0"}"#;
    append("oci-layout", marker.len() as u64, &mut &marker[..])?;
    let mut written = std::collections::HashSet::new();
    for blob in work.reachable(descriptor)? {
        if !written.insert(blob.digest.clone()) {
            continue;
        }
        let path = work.blob_path(&blob.digest)?;
        let mut source =
            File::open(&path).map_err(|error| archive_file.fail("reading a blob", error))?;
        let size = source
            .metadata()
            .map_err(|error| archive_file.fail("reading a blob", error))?
            .len();
        let name = format!("blobs/sha256/{}", &blob.digest["sha256:".len()..]);
        append(&name, size, &mut source)?;
    }
    let index_bytes = serde_json::to_vec(&index).expect("an index serialises");
    append(
        "index.json",
        index_bytes.len() as u64,
        &mut &index_bytes[..],
    )?;
    let buffered = builder
        .into_inner()
        .map_err(|error| archive_file.fail("finishing", error))?;
    buffered
        .into_inner()
        .map_err(|error| archive_file.fail("finishing", error.into_error()))?
        .sync_all()
        .map_err(|error| archive_file.fail("syncing", error))?;
    temp.persist(file)
        .map_err(|error| archive_file.fail("moving into place", error.error))?;
    Ok(())
}
