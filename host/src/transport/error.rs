//! What can go wrong moving an image in or out of the working layout: one error that names the
//! registry, file or daemon concerned, and what was being done there.

use super::remote::RegistryError;
use crate::image::LayoutError;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// An image could not be brought in or sent out.
#[derive(Debug, Error)]
pub enum TransportError {
    /// A registry refused or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The working layout, or an `oci:` layout, failed.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// An archive file could not be read or written.
    #[error(transparent)]
    Archive(Box<ArchiveError>),
    /// The Docker daemon could not be reached.
    #[error(
        "cannot talk to the docker daemon at {} ({error}); start it, or set \
         DOCKER_HOST=unix://PATH",
        socket.display()
    )]
    DaemonUnreachable {
        /// The daemon's socket.
        socket: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The Docker daemon refused a request.
    #[error("docker daemon at {}: {step}: HTTP {status}: {message}", socket.display())]
    DaemonRefused {
        /// The daemon's socket.
        socket: PathBuf,
        /// What was asked: `exporting REF`, `loading REF`, `removing REF`, `answering a ping`.
        step: String,
        /// The HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
}

/// An archive file could not be read or written.
#[derive(Debug, Error)]
#[error("{format} {}: {step}: {cause}", file.display())]
pub struct ArchiveError {
    /// `oci-archive` or `docker-archive`.
    pub format: &'static str,
    /// The file.
    pub file: PathBuf,
    /// What was being done: `reading manifest.json`, `writing`, ...
    pub step: String,
    /// Why it failed.
    pub cause: Cause,
}

/// Why one step on an archive failed.
#[derive(Debug, Error)]
pub enum Cause {
    /// What salve found wrong with the archive.
    #[error("{0}")]
    Message(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The working layout refused a blob.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A JSON file of the archive is not what it should be.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<String> for Cause {
    fn from(message: String) -> Cause {
        Cause::Message(message)
    }
}

impl From<&str> for Cause {
    fn from(message: &str) -> Cause {
        Cause::Message(message.to_string())
    }
}

/// An archive file being read or written, for naming it in errors.
pub struct ArchiveFile<'a> {
    /// `oci-archive` or `docker-archive`.
    pub format: &'static str,
    /// The file.
    pub file: &'a Path,
}

impl<'a> ArchiveFile<'a> {
    /// An `oci-archive` file.
    pub fn oci(file: &'a Path) -> ArchiveFile<'a> {
        ArchiveFile {
            format: "oci-archive",
            file,
        }
    }

    /// A `docker-archive` file.
    pub fn docker(file: &'a Path) -> ArchiveFile<'a> {
        ArchiveFile {
            format: "docker-archive",
            file,
        }
    }

    /// The archive `docker save` streams of the image `label` names.
    pub fn docker_save(label: &'a Path) -> ArchiveFile<'a> {
        ArchiveFile {
            format: "docker save of",
            file: label,
        }
    }

    /// The error for `step` failing with `cause`.
    pub fn fail(&self, step: impl Into<String>, cause: impl Into<Cause>) -> TransportError {
        TransportError::Archive(Box::new(ArchiveError {
            format: self.format,
            file: self.file.to_path_buf(),
            step: step.into(),
            cause: cause.into(),
        }))
    }
}
