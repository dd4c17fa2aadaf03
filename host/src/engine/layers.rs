//! An image's layers as the engines need them, read from the working layout: the blobs, their
//! uncompressed digests, and the chain id that names their unpacked root filesystem.

use crate::image::digest::sha256;
use crate::image::layout::OciLayout;
use crate::image::manifest::{Descriptor, Manifest};
use anyhow::{Context, bail};
use std::path::PathBuf;

/// An image's layers: the blobs (bottom first), their digests, and the chain id that names
/// their unpacked root filesystem in the cache.
#[derive(Clone, Debug)]
pub struct ImageLayers {
    /// The layer blobs.
    pub blobs: Vec<PathBuf>,
    /// The chain id of the layers.
    pub chain_id: String,
    /// The layers' uncompressed digests, bottom first.
    pub diff_ids: Vec<String>,
}

/// The manifest `descriptor` names in `layout`, and its image configuration.
pub fn read_image(
    layout: &OciLayout,
    descriptor: &Descriptor,
) -> anyhow::Result<(Manifest, serde_json::Value)> {
    let manifest: Manifest = serde_json::from_slice(&layout.read_blob(&descriptor.digest)?)
        .context("reading the image manifest")?;
    let config = serde_json::from_slice(&layout.read_blob(&manifest.config.digest)?)
        .context("reading the image configuration")?;
    Ok((manifest, config))
}

impl ImageLayers {
    /// The layers of an image, checking that its manifest and configuration agree on them.
    pub fn of(
        layout: &OciLayout,
        manifest: &Manifest,
        config: &serde_json::Value,
    ) -> anyhow::Result<ImageLayers> {
        let blobs = manifest
            .layers
            .iter()
            .map(|layer| layout.blob_path(&layer.digest))
            .collect::<Result<Vec<_>, _>>()?;
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if diff_ids.len() != blobs.len() {
            bail!(
                "the image configuration lists {} layers but the manifest {}",
                diff_ids.len(),
                blobs.len()
            );
        }
        let mut chain_id = String::new();
        for diff_id in &diff_ids {
            chain_id = if chain_id.is_empty() {
                diff_id.clone()
            } else {
                sha256(format!("{chain_id} {diff_id}").as_bytes())
            };
        }
        Ok(ImageLayers {
            blobs,
            chain_id,
            diff_ids,
        })
    }
}
