//! Plugins shared through registries: a component is published as an OCI artifact in the CNCF
//! Wasm layout ([`artifact`]), fetched and checked before anything is stored ([`registry`]), and
//! installed into the data folder's plugin folder with its digests in the lock file
//! ([`install`]).

pub mod artifact;
pub mod install;
pub mod registry;
pub mod signature;

use crate::image::layout::LayoutError;
use crate::plugin::PluginError;
use crate::plugin::lock::{LockError, LockedPlugin};
use crate::transport::{ImageReference, RegistryError};
use std::path::PathBuf;
use thiserror::Error;

/// The scheme that names a plugin in a registry: `oci://registry/repository[:tag][@digest]`.
pub const OCI_SCHEME: &str = "oci://";

/// What can go wrong publishing, fetching or installing a plugin.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The text is not `oci://registry/repository[:tag][@digest]`.
    #[error("{text:?} does not name a plugin in a registry: {reason}")]
    Reference {
        /// The text.
        text: String,
        /// Why.
        reason: String,
    },
    /// The artifact is not a plugin salve takes.
    #[error("{reference} is not a salve plugin: {reason}")]
    NotAPlugin {
        /// The artifact.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The component is not a plugin that loads (imports, contract, name).
    #[error("{reference}: {error}")]
    Plugin {
        /// Where it came from.
        reference: String,
        /// Why it does not load.
        error: Box<PluginError>,
    },
    /// The registry failed, or sent bytes that do not match their digests.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The working layout could not be written or read.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A lock file could not be read or written.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The plugin folder could not be written.
    #[error("plugin folder {}: {what}: {error}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why.
        error: std::io::Error,
    },
    /// A key file cannot be used.
    #[error("key {}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `--key` was given and no signature of the artifact verifies with it.
    #[error("{reference}: {reason}")]
    Unsigned {
        /// The artifact.
        reference: String,
        /// What was found instead of a good signature.
        reason: String,
    },
    /// `remove` named a plugin that was not added to the data folder.
    #[error(
        "no plugin named {name:?} is installed in {} (built-in plugins and those on \
         $SALVE_PLUGIN_PATH or --plugin are not removed by salve)",
        folder.display()
    )]
    NotInstalled {
        /// The name.
        name: String,
        /// The plugin folder.
        folder: PathBuf,
    },
}

/// Parses `oci://registry/repository[:tag][@digest]`.
pub fn parse_oci_reference(text: &str) -> Result<ImageReference, StoreError> {
    let refuse = |reason: String| StoreError::Reference {
        text: text.to_string(),
        reason,
    };
    let Some(rest) = text.strip_prefix(OCI_SCHEME) else {
        return Err(refuse(format!(
            "write it as {OCI_SCHEME}registry/repository:tag or {OCI_SCHEME}registry/repository@sha256:..."
        )));
    };
    if !rest
        .split('/')
        .next()
        .is_some_and(|host| host.contains(['.', ':']) || host == "localhost")
        || !rest.contains('/')
    {
        return Err(refuse(
            "name the registry host first (registry.example.com/team/plugin:1.0); salve does not \
             assume Docker Hub for plugins"
                .into(),
        ));
    }
    rest.parse()
        .map_err(|error: crate::transport::reference::ReferenceError| refuse(error.reason))
}

/// Where a lock entry's artifact is fetched from: its source's repository at the locked manifest
/// digest (`oci://registry/repository@sha256:...`).
pub fn pinned_source(entry: &LockedPlugin) -> Result<String, StoreError> {
    let (repository, _) = parse_oci_reference(&entry.source)?.name_and_tag();
    Ok(format!("{OCI_SCHEME}{repository}@{}", entry.manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_source_names_the_manifest_digest() {
        let locked = |source: &str| LockedPlugin {
            source: source.into(),
            manifest: format!("sha256:{}", "a".repeat(64)),
            component: "sha256:bb".into(),
            kind: "scanner".into(),
            version: "0.1.0".into(),
            contract: "0.4.0".into(),
            signed_by: None,
        };
        let pinned = format!("oci://127.0.0.1:5000/team/lines@sha256:{}", "a".repeat(64));
        let by_tag = locked("oci://127.0.0.1:5000/team/lines:0.1");
        assert_eq!(pinned_source(&by_tag).unwrap(), pinned);
        let by_digest = locked(&pinned);
        assert_eq!(pinned_source(&by_digest).unwrap(), pinned);
    }

    #[test]
    fn only_oci_references_with_a_registry_are_taken() {
        let parsed = parse_oci_reference("oci://127.0.0.1:5000/team/lines:0.1.0").unwrap();
        assert_eq!(parsed.registry(), "127.0.0.1:5000");
        assert!(parse_oci_reference("oci://localhost/lines@sha256:0123").is_err());
        let digest = format!("oci://localhost/lines@sha256:{}", "a".repeat(64));
        assert!(parse_oci_reference(&digest).is_ok());
        let error = parse_oci_reference("127.0.0.1:5000/lines:1")
            .unwrap_err()
            .to_string();
        assert!(error.contains("write it as oci://"), "{error}");
        let error = parse_oci_reference("oci://team/lines:1")
            .unwrap_err()
            .to_string();
        assert!(error.contains("name the registry host first"), "{error}");
    }
}
