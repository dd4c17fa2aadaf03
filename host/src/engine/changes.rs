//! What an engine's run produced: the changes the steps made, in the form the engine gives
//! them, the package database files read back, and the one layer the changes are written as.

use crate::image::{LayerOptions, WrittenLayer, squash, write_layer};
use crate::plugin::types::ImageFile;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What a run produced.
#[derive(Debug)]
pub struct Executed {
    /// The changes the steps made to the target.
    pub changes: Changes,
    /// The package database files read back after the steps.
    pub database: Vec<ImageFile>,
}

/// The changes a run made, in the form its engine gives them.
#[derive(Debug)]
pub enum Changes {
    /// An overlay upper folder (the local engine).
    Upper(PathBuf),
    /// Layer blobs, bottom first, that together are the changes (BuildKit gives one per step),
    /// and the paths in them that are only the daemon's mount points, to be left out.
    Layers {
        /// The layer blobs.
        layers: Vec<PathBuf>,
        /// Mount points the daemon created.
        mount_points: BTreeSet<String>,
    },
}

impl Changes {
    /// Writes the changes as one layer blob at `blob`.
    pub fn write_layer(&self, blob: &Path, options: &LayerOptions) -> anyhow::Result<WrittenLayer> {
        let out = std::fs::File::create(blob)?;
        Ok(match self {
            Changes::Upper(upper) => write_layer(upper, out, options)?,
            Changes::Layers {
                layers,
                mount_points,
            } => {
                let layers: Vec<&Path> = layers.iter().map(|layer| layer.as_path()).collect();
                squash(
                    &layers,
                    &|path| mount_points.contains(path),
                    out,
                    options.compression,
                    options.threads,
                )?
            }
        })
    }
}
