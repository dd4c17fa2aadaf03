//! One platform's image in the working layout, read once: its manifest, configuration,
//! platform and layers, shared by the choice of report, the patch, the engines and the assembly.

use super::digest::sha256;
use super::layout::{LayoutError, OciLayout};
use super::manifest::{Descriptor, Manifest};
use crate::plugin::types::Platform;
use serde_json::Value;
use std::path::PathBuf;
use thiserror::Error;

/// Why a platform's image could not be read.
#[derive(Debug, Error)]
pub enum ImageError {
    /// The working layout failed.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The manifest or the configuration is not JSON of its kind.
    #[error("reading the image {what}: {error}")]
    Unreadable {
        /// `manifest` or `configuration`.
        what: &'static str,
        /// Why.
        error: serde_json::Error,
    },
    /// The manifest and the configuration disagree on the layers.
    #[error("the image configuration lists {config} layers but the manifest {manifest}")]
    LayerCount {
        /// Layers the configuration lists (`rootfs.diff_ids`).
        config: usize,
        /// Layers the manifest lists.
        manifest: usize,
    },
}

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

impl ImageLayers {
    /// The layers of an image, checking that its manifest and configuration agree on them.
    pub fn of(
        layout: &OciLayout,
        manifest: &Manifest,
        config: &Value,
    ) -> Result<ImageLayers, ImageError> {
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
            return Err(ImageError::LayerCount {
                config: diff_ids.len(),
                manifest: blobs.len(),
            });
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

/// One platform's image: what its descriptor names, parsed once.
#[derive(Clone, Debug)]
pub struct PlatformImage {
    /// The manifest's descriptor in the working layout.
    pub descriptor: Descriptor,
    /// The manifest.
    pub manifest: Manifest,
    /// The image configuration.
    pub config: Value,
    /// The platform the configuration states.
    pub platform: Platform,
    /// The layers.
    pub layers: ImageLayers,
}

impl PlatformImage {
    /// Reads the manifest `descriptor` names in `layout`, its configuration and its layers.
    pub fn read(layout: &OciLayout, descriptor: &Descriptor) -> Result<PlatformImage, ImageError> {
        let unreadable = |what| move |error| ImageError::Unreadable { what, error };
        let manifest: Manifest = serde_json::from_slice(&layout.read_blob(&descriptor.digest)?)
            .map_err(unreadable("manifest"))?;
        let config: Value = serde_json::from_slice(&layout.read_blob(&manifest.config.digest)?)
            .map_err(unreadable("configuration"))?;
        let layers = ImageLayers::of(layout, &manifest, &config)?;
        Ok(PlatformImage {
            descriptor: descriptor.clone(),
            platform: platform_of(&config),
            manifest,
            config,
            layers,
        })
    }
}

/// The platform an image configuration states (Linux on amd64 where it states none).
fn platform_of(config: &Value) -> Platform {
    Platform {
        os: config["os"].as_str().unwrap_or("linux").to_string(),
        architecture: config["architecture"]
            .as_str()
            .unwrap_or("amd64")
            .to_string(),
        variant: config["variant"].as_str().map(str::to_string),
    }
}
