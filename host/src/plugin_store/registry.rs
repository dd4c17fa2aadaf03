//! Publishing a plugin to a registry and fetching one back, through the registry client
//! `salve copy` uses (same credentials, plain HTTP only for loopback and `--insecure-registry`).

use super::StoreError;
use super::artifact::{self, ArtifactFacts};
use crate::image::OciLayout;
use crate::image::digest::sha256;
use crate::transport::{ImageReference, RegistryClient, RegistryOptions};
use std::path::Path;

/// The working layout's tag for the artifact being pushed.
const WORK_TAG: &str = "plugin";

/// A plugin artifact fetched from a registry and checked: the component's bytes match the
/// manifest's layer digest, and the manifest matches the digest it was fetched by.
pub struct FetchedPlugin {
    /// The artifact manifest's digest.
    pub manifest_digest: String,
    /// The component's digest.
    pub component_digest: String,
    /// The component.
    pub component: Vec<u8>,
}

/// Pushes `component` as a plugin artifact to `reference`; returns the manifest's digest.
pub async fn publish(
    component: &[u8],
    facts: &ArtifactFacts,
    reference: &ImageReference,
    options: &RegistryOptions,
    work_dir: &Path,
) -> Result<String, StoreError> {
    let layout = OciLayout::open_or_create(work_dir)?;
    artifact::write(&layout, WORK_TAG, component, facts)?;
    let client = RegistryClient::new(&[reference], options)?;
    Ok(client.push(&layout, WORK_TAG, reference, None).await?)
}

/// Fetches the plugin artifact `reference` names: the manifest first, checked to be a plugin
/// artifact before any blob is fetched; then the config and the component, each checked against
/// its digest and size, into `work_dir`.
pub async fn fetch(
    reference: &ImageReference,
    options: &RegistryOptions,
    work_dir: &Path,
) -> Result<FetchedPlugin, StoreError> {
    let shown = format!("{}{reference}", super::OCI_SCHEME);
    let client = RegistryClient::new(&[reference], options)?;
    let (manifest, manifest_digest) = client.fetch_manifest(reference).await?;
    let (config, layer) = artifact::check_manifest(&shown, &manifest)?;
    let layout = OciLayout::open_or_create(work_dir)?;
    client.fetch_blob(reference, &config, &layout).await?;
    artifact::check_config(&shown, &layout.read_blob(&config.digest)?, &layer)?;
    client.fetch_blob(reference, &layer, &layout).await?;
    let component = layout.read_blob(&layer.digest)?;
    // The client checked the bytes as they arrived; this is the digest the lock will name.
    let component_digest = sha256(&component);
    if component_digest != layer.digest {
        return Err(StoreError::NotAPlugin {
            reference: shown,
            reason: format!(
                "its component hashes to {component_digest}, its manifest names {}",
                layer.digest
            ),
        });
    }
    Ok(FetchedPlugin {
        manifest_digest,
        component_digest,
        component,
    })
}
