//! Making plugins: a new plugin crate from a template with the SDK it builds against
//! ([`scaffold`]), and building a crate into a checked component ([`compile`]).

pub mod compile;
pub mod scaffold;
pub mod sdk;

use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong making or building a plugin crate.
#[derive(Debug, Error)]
pub enum KitError {
    /// The plugin name cannot name a crate and a plugin file.
    #[error(
        "{name:?} cannot name a plugin crate: use lower-case letters, digits, '-' and '_', \
         starting with a letter, at most 64 characters"
    )]
    Name {
        /// The name.
        name: String,
    },
    /// The folder for the new crate is in use.
    #[error("{} exists and is not empty; name another with --dir", path.display())]
    FolderInUse {
        /// The folder.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {what}: {error}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why.
        error: std::io::Error,
    },
    /// cargo could not be run, or failed.
    #[error("{0}")]
    Cargo(String),
    /// No wasm compiler, or the module could not be made a component.
    #[error(transparent)]
    Build(#[from] salve_wasm_build::BuildError),
}

/// The error for an I/O failure on `path`.
fn io_error(path: &std::path::Path, what: &'static str) -> impl FnOnce(std::io::Error) -> KitError {
    let path = path.to_path_buf();
    move |error| KitError::Io { path, what, error }
}
