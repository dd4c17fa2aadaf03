//! The `oci:DIR[:TAG]` transport: an OCI image layout folder.
//!
//! Blobs live in `blobs/sha256/<hex>`; `index.json` lists the manifests, tags naming them through
//! the `org.opencontainers.image.ref.name` annotation. Every blob read is checked against its
//! digest. Every write goes to a temporary file in the same folder and is renamed into place —
//! blobs before `index.json` — so a reader never sees a tag naming something incomplete, and a
//! failed write leaves the layout as it was.

use crate::image::digest::{HashingWriter, sha256};
use crate::image::manifest::{
    Descriptor, Index, Manifest, OCI_INDEX, REF_NAME, Unchosen, is_index, is_manifest,
};
use serde_json::{Map, Value};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A failure reading or writing an OCI layout.
#[derive(Debug, Error)]
pub enum LayoutError {
    /// A file could not be read or written.
    #[error("OCI layout {}: {what}: {error}", dir.display())]
    Io {
        /// The layout.
        dir: PathBuf,
        /// What was being done.
        what: String,
        /// Why.
        error: io::Error,
    },
    /// The layout's files are not what the OCI specification describes.
    #[error("OCI layout {}: {message}", dir.display())]
    Invalid {
        /// What is wrong.
        message: String,
        /// The layout.
        dir: PathBuf,
    },
    /// A blob's content does not match its digest.
    #[error(
        "OCI layout {}: blob {expected} has digest {actual}; the layout is corrupt",
        dir.display()
    )]
    DigestMismatch {
        /// The layout.
        dir: PathBuf,
        /// The digest asked for.
        expected: String,
        /// The digest of the bytes found.
        actual: String,
    },
    /// No manifest has the tag asked for.
    #[error("OCI layout {} has no image tagged {tag:?} (tags: {known})", dir.display())]
    NoSuchTag {
        /// The layout.
        dir: PathBuf,
        /// The tag asked for.
        tag: String,
        /// The tags it has.
        known: String,
    },
}

/// An OCI image layout folder.
pub struct OciLayout {
    /// The folder.
    dir: PathBuf,
}

impl OciLayout {
    /// Opens an existing layout.
    pub fn open(dir: &Path) -> Result<OciLayout, LayoutError> {
        let layout = OciLayout {
            dir: dir.to_path_buf(),
        };
        let marker = layout.read_file("oci-layout")?;
        let marker: Value = serde_json::from_slice(&marker)
            .map_err(|error| layout.invalid(format!("oci-layout is not JSON: {error}")))?;
        if marker["imageLayoutVersion"] != "1.0.0" {
            return Err(layout.invalid(format!(
                "oci-layout names version {}, not 1.0.0",
                marker["imageLayoutVersion"]
            )));
        }
        Ok(layout)
    }

    /// Opens the layout at `dir`, creating an empty one if the folder has none.
    pub fn open_or_create(dir: &Path) -> Result<OciLayout, LayoutError> {
        let layout = OciLayout {
            dir: dir.to_path_buf(),
        };
        if dir.join("oci-layout").exists() {
            return OciLayout::open(dir);
        }
        fs::create_dir_all(dir.join("blobs/sha256"))
            .map_err(|error| layout.io("creating the folder", error))?;
        layout.write_atomically("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let empty = Index {
            schema_version: 2,
            media_type: Some(OCI_INDEX.to_string()),
            manifests: Vec::new(),
            other: Map::new(),
        };
        layout.write_index(&empty)?;
        Ok(layout)
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<Index, LayoutError> {
        let bytes = self.read_file("index.json")?;
        serde_json::from_slice(&bytes)
            .map_err(|error| self.invalid(format!("index.json is not an image index: {error}")))
    }

    /// The descriptor tagged `tag` (or, with no tag, the only manifest of the index).
    pub fn resolve(&self, tag: Option<&str>) -> Result<Descriptor, LayoutError> {
        let index = self.index()?;
        index
            .choose(tag)
            .cloned()
            .map_err(|unchosen| match unchosen {
                Unchosen::NoSuchTag { known } => LayoutError::NoSuchTag {
                    dir: self.dir.clone(),
                    tag: tag.unwrap_or_default().to_string(),
                    known: if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    },
                },
                Unchosen::NotOne { count, known } => self.invalid(format!(
                    "it holds {count} images; name one with oci:DIR:TAG (tags: {})",
                    known.join(", ")
                )),
            })
    }

    /// The path of a blob in the layout.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, LayoutError> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.invalid(format!("{digest:?} is not a sha256 digest")))?;
        Ok(self.dir.join("blobs/sha256").join(hex))
    }

    /// A blob's bytes, checked against its digest.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, LayoutError> {
        let path = self.blob_path(digest)?;
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .map_err(|error| self.io(&format!("reading blob {digest}"), error))?;
        let actual = sha256(&bytes);
        if actual != digest {
            return Err(LayoutError::DigestMismatch {
                dir: self.dir.clone(),
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Stores a blob from a file, unless the layout has it; checks the digest first.
    pub fn put_blob_file(&self, digest: &str, source: &Path) -> Result<(), LayoutError> {
        let target = self.blob_path(digest)?;
        if target.exists() {
            return Ok(());
        }
        let mut temp = tempfile::NamedTempFile::new_in(self.dir.join("blobs/sha256"))
            .map_err(|error| self.io("creating a temporary blob", error))?;
        let mut hashing = HashingWriter::new(temp.as_file_mut());
        File::open(source)
            .and_then(|mut file| io::copy(&mut file, &mut hashing))
            .map_err(|error| self.io(&format!("copying {}", source.display()), error))?;
        let (_, described) = hashing.finish();
        if described.digest != digest {
            return Err(LayoutError::DigestMismatch {
                dir: self.dir.clone(),
                expected: digest.to_string(),
                actual: described.digest,
            });
        }
        temp.as_file()
            .sync_all()
            .map_err(|error| self.io("syncing a blob", error))?;
        temp.persist(&target)
            .map_err(|error| self.io("storing a blob", error.error))?;
        Ok(())
    }

    /// Moves a downloaded file into the layout as blob `digest`. The caller has checked the
    /// bytes against the digest as they arrived; the file must live in this layout's folder.
    pub fn adopt_verified_blob(
        &self,
        digest: &str,
        file: tempfile::NamedTempFile,
    ) -> Result<(), LayoutError> {
        let target = self.blob_path(digest)?;
        file.as_file()
            .sync_all()
            .map_err(|error| self.io("syncing a blob", error))?;
        file.persist(&target)
            .map_err(|error| self.io("storing a blob", error.error))?;
        Ok(())
    }

    /// A temporary file in the layout's blob folder, for a blob being downloaded.
    pub fn temp_blob(&self) -> Result<tempfile::NamedTempFile, LayoutError> {
        tempfile::NamedTempFile::new_in(self.dir.join("blobs/sha256"))
            .map_err(|error| self.io("creating a temporary blob", error))
    }

    /// Every blob an image needs, manifests first: for an index its platforms' manifests, for
    /// each manifest its config and layers. The descriptor itself comes first.
    pub fn reachable(&self, descriptor: &Descriptor) -> Result<Vec<Descriptor>, LayoutError> {
        let mut found = vec![descriptor.clone()];
        let mut next = 0;
        while next < found.len() {
            let current = found[next].clone();
            next += 1;
            if is_index(&current.media_type) {
                let index: Index = serde_json::from_slice(&self.read_blob(&current.digest)?)
                    .map_err(|error| {
                        self.invalid(format!("index {} is not JSON: {error}", current.digest))
                    })?;
                found.extend(index.manifests);
            } else if is_manifest(&current.media_type) {
                let manifest: Manifest = serde_json::from_slice(&self.read_blob(&current.digest)?)
                    .map_err(|error| {
                        self.invalid(format!("manifest {} is not JSON: {error}", current.digest))
                    })?;
                found.push(manifest.config);
                found.extend(manifest.layers);
            }
        }
        Ok(found)
    }

    /// Copies the image `descriptor` names from `source` into this layout (hard links where
    /// both are on one file system; blobs are immutable) and tags it `tag`.
    pub fn import(
        &self,
        source: &OciLayout,
        descriptor: &Descriptor,
        tag: &str,
    ) -> Result<(), LayoutError> {
        for blob in source.reachable(descriptor)? {
            let target = self.blob_path(&blob.digest)?;
            if target.exists() {
                continue;
            }
            let from = source.blob_path(&blob.digest)?;
            if fs::hard_link(&from, &target).is_err() {
                self.put_blob_file(&blob.digest, &from)?;
            }
        }
        let mut tagged = descriptor.clone();
        if let Some(annotations) = tagged.annotations.as_mut() {
            annotations.remove(REF_NAME);
        }
        self.tag(tag, &tagged)
    }

    /// The layout's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores a blob from memory (a manifest or config); returns its descriptor.
    pub fn put_blob(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor, LayoutError> {
        let digest = sha256(bytes);
        let target = self.blob_path(&digest)?;
        if !target.exists() {
            let relative = target
                .strip_prefix(&self.dir)
                .expect("blobs live in the layout")
                .to_path_buf();
            self.write_atomically(&relative.to_string_lossy(), bytes)?;
        }
        Ok(Descriptor::new(media_type, &digest, bytes.len() as u64))
    }

    /// Points `tag` at `manifest` in `index.json` (replacing what the tag named), atomically.
    pub fn tag(&self, tag: &str, manifest: &Descriptor) -> Result<(), LayoutError> {
        let mut index = self.index()?;
        index
            .manifests
            .retain(|descriptor| descriptor.annotation(REF_NAME) != Some(tag));
        let mut tagged = manifest.clone();
        tagged
            .annotations
            .get_or_insert_with(Map::new)
            .insert(REF_NAME.into(), Value::String(tag.to_string()));
        index.manifests.push(tagged);
        self.write_index(&index)
    }

    /// Writes `index.json` atomically.
    fn write_index(&self, index: &Index) -> Result<(), LayoutError> {
        let bytes = serde_json::to_vec(index).expect("an index serialises");
        self.write_atomically("index.json", &bytes)
    }

    /// Writes a file of the layout through a temporary file and a rename.
    fn write_atomically(&self, relative: &str, bytes: &[u8]) -> Result<(), LayoutError> {
        write_file_atomically(&self.dir.join(relative), bytes)
            .map_err(|error| self.io(&format!("writing {relative}"), error))
    }

    /// Reads a file of the layout.
    fn read_file(&self, relative: &str) -> Result<Vec<u8>, LayoutError> {
        fs::read(self.dir.join(relative))
            .map_err(|error| self.io(&format!("reading {relative}"), error))
    }

    /// An I/O error on this layout.
    fn io(&self, what: &str, error: io::Error) -> LayoutError {
        LayoutError::Io {
            dir: self.dir.clone(),
            what: what.to_string(),
            error,
        }
    }

    /// A malformed-layout error.
    fn invalid(&self, message: String) -> LayoutError {
        LayoutError::Invalid {
            message,
            dir: self.dir.clone(),
        }
    }
}

/// Writes a file through a synced temporary file beside it and a rename, so readers see the
/// old content or the new, never part of it.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(parent)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|error| error.error)?;
    Ok(())
}
