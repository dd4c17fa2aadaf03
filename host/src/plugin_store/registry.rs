//! Publishing a plugin to a registry and fetching one back, through the registry client
//! `salve copy` uses (same credentials, plain HTTP only for loopback and `--insecure-registry`).

use super::StoreError;
use super::artifact::{self, ArtifactFacts};
use super::signature::{self, PluginSigner, PluginVerifier};
use crate::image::OciLayout;
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

/// The working layout's tag for the signature being pushed.
const SIGNATURE_WORK_TAG: &str = "signature";

/// Pushes `component` as a plugin artifact to `reference`, and with `signer` its signature
/// beside it (tag `sha256-<hex>.sig`); returns the manifest's digest.
pub async fn publish(
    component: &[u8],
    facts: &ArtifactFacts,
    reference: &ImageReference,
    signer: Option<&PluginSigner>,
    options: &RegistryOptions,
    work_dir: &Path,
) -> Result<String, StoreError> {
    let layout = OciLayout::open_or_create(work_dir)?;
    artifact::write(&layout, WORK_TAG, component, facts)?;
    let client = RegistryClient::new(&[reference], options)?;
    let digest = client.push(&layout, WORK_TAG, reference, None).await?;
    if let Some(signer) = signer {
        let repository = repository_of(reference);
        signature::write(&layout, SIGNATURE_WORK_TAG, &repository, &digest, signer)?;
        let target = signature_reference(reference, &digest)?;
        client
            .push(&layout, SIGNATURE_WORK_TAG, &target, None)
            .await?;
    }
    Ok(digest)
}

/// Checks that a signature stored beside the artifact `manifest_digest` in `reference`'s
/// repository verifies with `verifier` and names that digest.
pub async fn verify_signature(
    reference: &ImageReference,
    manifest_digest: &str,
    verifier: &PluginVerifier,
    options: &RegistryOptions,
    work_dir: &Path,
) -> Result<(), StoreError> {
    let shown = format!("{}{reference}", super::OCI_SCHEME);
    let unsigned = |reason: String| StoreError::Unsigned {
        reference: shown.clone(),
        reason,
    };
    let target = signature_reference(reference, manifest_digest)?;
    let client = RegistryClient::new(&[&target], options)?;
    let (manifest, _) = client.fetch_manifest(&target).await.map_err(|error| {
        unsigned(format!(
            "--key asks for a signature and none could be fetched from tag {}: {error}",
            signature::signature_tag(manifest_digest)
        ))
    })?;
    let layers = signature::signed_layers(&manifest);
    let layout = OciLayout::open_or_create(work_dir)?;
    for (layer, signed) in &layers {
        client.fetch_blob(&target, layer, &layout).await?;
        let payload = layout.read_blob(&layer.digest)?;
        if signature::accepts(verifier, &payload, signed, manifest_digest) {
            return Ok(());
        }
    }
    Err(unsigned(format!(
        "{} signature(s) under tag {}, none by key {} for manifest {manifest_digest}",
        layers.len(),
        signature::signature_tag(manifest_digest),
        verifier.fingerprint()
    )))
}

/// `registry/repository` of a reference.
fn repository_of(reference: &ImageReference) -> String {
    format!(
        "{}/{}",
        reference.oci().registry(),
        reference.oci().repository()
    )
}

/// The reference of the signature tag of `manifest_digest` in `reference`'s repository.
fn signature_reference(
    reference: &ImageReference,
    manifest_digest: &str,
) -> Result<ImageReference, StoreError> {
    let text = format!(
        "{}:{}",
        repository_of(reference),
        signature::signature_tag(manifest_digest)
    );
    text.parse()
        .map_err(
            |error: crate::transport::reference::ReferenceError| StoreError::Reference {
                text,
                reason: error.reason,
            },
        )
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
    // The client checked the bytes against the layer's digest as they arrived (fetch_blob).
    let component = layout.read_blob(&layer.digest)?;
    Ok(FetchedPlugin {
        manifest_digest,
        component_digest: layer.digest,
        component,
    })
}
