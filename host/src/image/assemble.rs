//! Building the patched image in a working layout: the new layer added to the base's manifest
//! and config (with a history entry and `sh.salve.*` labels), or — when the base's last layer is
//! itself a patch, salve's or copa's — merged with that layer so that patches never pile up.
//! Indexes get the patched platforms' manifests swapped in and every other entry kept as it was.

use super::compression::Compression;
use super::config::{ConfigError, add_layer};
use super::manifest::{DOCKER_MANIFEST, Descriptor, Index};
use super::platform_image::PlatformImage;
use super::sink::WrittenLayer;
use super::squash::squash;
use crate::image::layout::{LayoutError, OciLayout};
use serde_json::Value;
use std::io;
use std::path::Path;
use thiserror::Error;

/// Why a patched image could not be assembled.
#[derive(Debug, Error)]
pub enum AssembleError {
    /// The working layout failed.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The index the patched manifests go into is not what it should be.
    #[error("the base {what} is not readable: {error}")]
    Unreadable {
        /// `index`.
        what: &'static str,
        /// Why.
        error: serde_json::Error,
    },
    /// A zstd layer for an image whose manifest format cannot name one.
    #[error("the image uses Docker's manifest format, which has no zstd layers; use gzip")]
    ZstdInDockerFormat,
    /// The base is labelled as patched, but its last layer is not there to merge with.
    #[error("the base is labelled as patched but {0}")]
    NoPatchLayer(&'static str),
    /// The previous patch layer and the new one could not be merged.
    #[error("merging the previous patch layer: {0}")]
    Merge(io::Error),
    /// The configuration could not be edited.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The error for a base document that does not parse.
fn unreadable(what: &'static str) -> impl FnOnce(serde_json::Error) -> AssembleError {
    move |error| AssembleError::Unreadable { what, error }
}

/// The label naming the image a patched image was made from.
pub const LABEL_BASE_IMAGE: &str = "sh.salve.base-image";
/// The label holding the digest of the manifest that was patched first.
pub const LABEL_BASE_DIGEST: &str = "sh.salve.base-digest";
/// The label holding the diff id of salve's patch layer (always the last layer).
pub const LABEL_PATCH_LAYER: &str = "sh.salve.patch.layer";
/// The label holding when the image was patched.
pub const LABEL_PATCHED_AT: &str = "sh.salve.patched-at";
/// The label copa puts on images it patched, naming the original image.
pub const COPA_BASE_IMAGE: &str = "BaseImage";
/// The OCI creation-time label and annotation, refreshed where the base has it.
const CREATED: &str = "org.opencontainers.image.created";
/// Docker's media type for a gzip layer.
const DOCKER_GZIP_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What to assemble.
pub struct PatchInput<'a> {
    /// The working layout holding the base image and where the result goes.
    pub layout: &'a OciLayout,
    /// The base image (one platform).
    pub base: &'a PlatformImage,
    /// How the base was named by the user (`sh.salve.base-image`).
    pub base_name: &'a str,
    /// The new layer's blob file, and what writing it measured.
    pub layer_file: &'a Path,
    /// The new layer.
    pub layer: &'a WrittenLayer,
    /// The time to record (RFC 3339).
    pub created: &'a str,
    /// Compression for a squashed layer.
    pub compression: Compression,
    /// Compression threads.
    pub threads: usize,
}

/// The assembled image.
#[derive(Clone, Debug)]
pub struct Patched {
    /// Its manifest, stored in the layout.
    pub manifest: Descriptor,
    /// True when the base's previous patch layer was merged with the new one.
    pub squashed: bool,
    /// The patch layer's diff id.
    pub patch_diff_id: String,
}

/// Where the base's last layer came from, if it is a patch.
enum PreviousPatch {
    /// No patch: the base is an original image.
    None,
    /// A salve patch (its labels are carried over).
    Salve,
    /// A copa patch, with the original image copa names.
    Copa(String),
}

/// Adds `input.layer` to the base (squashing a previous patch); stores and returns the result.
pub fn assemble(input: &PatchInput<'_>) -> Result<Patched, AssembleError> {
    let layout = input.layout;
    let base = &input.base.descriptor;
    let mut manifest = input.base.manifest.clone();
    let mut config = input.base.config.clone();
    let previous = previous_patch(&config);
    let docker = base.media_type == DOCKER_MANIFEST;
    let compression = input.compression;
    if docker && input.layer.media_type.contains("zstd") {
        return Err(AssembleError::ZstdInDockerFormat);
    }

    let (layer_digest, layer_size, diff_id, layer_type, squashed) = match previous {
        PreviousPatch::None => {
            layout.put_blob_file(&input.layer.blob.digest, input.layer_file)?;
            (
                input.layer.blob.digest.clone(),
                input.layer.blob.size,
                input.layer.tar.digest.clone(),
                input.layer.media_type,
                false,
            )
        }
        PreviousPatch::Salve | PreviousPatch::Copa(_) => {
            let lower = manifest
                .layers
                .pop()
                .ok_or(AssembleError::NoPatchLayer("has no layers"))?;
            let lower_path = layout.blob_path(&lower.digest)?;
            let merged_file = layout.temp_blob()?;
            let merged = squash(
                &[&lower_path, input.layer_file],
                &|_| false,
                merged_file.reopen().map_err(AssembleError::Merge)?,
                compression,
                input.threads,
            )
            .map_err(AssembleError::Merge)?;
            layout.adopt_verified_blob(&merged.blob.digest, merged_file)?;
            drop_last_layer(&mut config)?;
            (
                merged.blob.digest,
                merged.blob.size,
                merged.tar.digest,
                merged.media_type,
                true,
            )
        }
    };

    let base_labels = labels(&config);
    let (base_name, base_digest) = match &previous {
        PreviousPatch::Salve => (
            base_labels
                .get(LABEL_BASE_IMAGE)
                .cloned()
                .unwrap_or_else(|| input.base_name.to_string()),
            base_labels
                .get(LABEL_BASE_DIGEST)
                .cloned()
                .unwrap_or_else(|| base.digest.clone()),
        ),
        PreviousPatch::Copa(original) => (original.clone(), base.digest.clone()),
        PreviousPatch::None => (input.base_name.to_string(), base.digest.clone()),
    };
    let mut new_labels = vec![
        (LABEL_BASE_IMAGE, base_name.as_str()),
        (LABEL_BASE_DIGEST, base_digest.as_str()),
        (LABEL_PATCH_LAYER, diff_id.as_str()),
        (LABEL_PATCHED_AT, input.created),
    ];
    if base_labels.contains_key(CREATED) {
        new_labels.push((CREATED, input.created));
    }
    let config_bytes = serde_json::to_vec(&config).expect("JSON serialises");
    let new_config = add_layer(
        &config_bytes,
        &diff_id,
        input.created,
        "salve patch",
        &new_labels,
    )?;
    let config_descriptor = layout.put_blob(&manifest.config.media_type, &new_config)?;
    manifest.config.digest = config_descriptor.digest;
    manifest.config.size = config_descriptor.size;
    let layer_type = if docker {
        DOCKER_GZIP_LAYER
    } else {
        layer_type
    };
    manifest
        .layers
        .push(Descriptor::new(layer_type, &layer_digest, layer_size));
    if let Some(annotations) = manifest.other.get_mut("annotations")
        && let Some(created) = annotations.get_mut(CREATED)
    {
        *created = Value::String(input.created.to_string());
    }
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    let mut descriptor = layout.put_blob(&base.media_type, &bytes)?;
    descriptor.platform = base.platform.clone();
    Ok(Patched {
        manifest: descriptor,
        squashed,
        patch_diff_id: diff_id,
    })
}

/// The config's labels.
fn labels(config: &Value) -> std::collections::HashMap<String, String> {
    config["config"]["Labels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the base's last layer is a previous patch.
fn previous_patch(config: &Value) -> PreviousPatch {
    let labels = labels(config);
    let last_diff_id = config["rootfs"]["diff_ids"]
        .as_array()
        .and_then(|ids| ids.last())
        .and_then(Value::as_str);
    if let Some(patch) = labels.get(LABEL_PATCH_LAYER)
        && Some(patch.as_str()) == last_diff_id
    {
        return PreviousPatch::Salve;
    }
    match labels.get(COPA_BASE_IMAGE) {
        Some(original) if last_diff_id.is_some() => PreviousPatch::Copa(original.clone()),
        _ => PreviousPatch::None,
    }
}

/// Removes the last layer's diff id and its history entry from a config.
fn drop_last_layer(config: &mut Value) -> Result<(), AssembleError> {
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .and_then(|ids| ids.pop())
        .ok_or(AssembleError::NoPatchLayer(
            "its configuration lists no layers",
        ))?;
    if let Some(history) = config["history"].as_array_mut()
        && let Some(last) = history
            .iter()
            .rposition(|entry| entry["empty_layer"].as_bool() != Some(true))
    {
        history.remove(last);
    }
    Ok(())
}

/// Stores a copy of the index `index` with each entry whose digest is a key of `replaced`
/// pointing at the new manifest instead (platform and annotations kept); every other entry is
/// kept byte for byte. Returns the new index's descriptor.
pub fn replace_in_index(
    layout: &OciLayout,
    index: &Descriptor,
    replaced: &[(String, Descriptor)],
) -> Result<Descriptor, AssembleError> {
    let mut document: Index =
        serde_json::from_slice(&layout.read_blob(&index.digest)?).map_err(unreadable("index"))?;
    for entry in &mut document.manifests {
        if let Some((_, new)) = replaced.iter().find(|(old, _)| *old == entry.digest) {
            entry.digest = new.digest.clone();
            entry.size = new.size;
            entry.media_type = new.media_type.clone();
        }
    }
    let bytes = serde_json::to_vec(&document).expect("an index serialises");
    Ok(layout.put_blob(&index.media_type, &bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_salve_patch_is_recognised_only_when_it_is_the_last_layer() {
        let patched = json!({"config": {"Labels": {LABEL_PATCH_LAYER: "sha256:bb"}},
            "rootfs": {"diff_ids": ["sha256:aa", "sha256:bb"]}});
        assert!(matches!(previous_patch(&patched), PreviousPatch::Salve));
        let rebuilt = json!({"config": {"Labels": {LABEL_PATCH_LAYER: "sha256:bb"}},
            "rootfs": {"diff_ids": ["sha256:aa", "sha256:bb", "sha256:cc"]}});
        assert!(matches!(previous_patch(&rebuilt), PreviousPatch::None));
        let copa = json!({"config": {"Labels": {"BaseImage": "nginx:1.21"}},
            "rootfs": {"diff_ids": ["sha256:aa", "sha256:bb"]}});
        assert!(matches!(previous_patch(&copa), PreviousPatch::Copa(name) if name == "nginx:1.21"));
        let plain = json!({"config": {"Labels": null}, "rootfs": {"diff_ids": ["sha256:aa"]}});
        assert!(matches!(previous_patch(&plain), PreviousPatch::None));
    }

    #[test]
    fn dropping_the_last_layer_skips_empty_history_entries() {
        let mut config = json!({"rootfs": {"diff_ids": ["sha256:aa", "sha256:bb"]},
            "history": [{"created_by": "base"}, {"created_by": "patch"},
                        {"created_by": "LABEL x", "empty_layer": true}]});
        drop_last_layer(&mut config).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"], json!(["sha256:aa"]));
        assert_eq!(
            config["history"],
            json!([{"created_by": "base"}, {"created_by": "LABEL x", "empty_layer": true}])
        );
    }
}
