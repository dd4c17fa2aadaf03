//! Pulling images from a registry (the `docker://` transport) into an OCI layout, and pushing
//! them back.
//!
//! Plain HTTP is used only for registries on the loopback interface and those named as insecure;
//! everything else is HTTPS. Indexes are resolved to the manifest of the platform asked for.
//! Every blob is streamed to a temporary file, checked against its digest, then moved into the
//! layout; the manifest and tag come last.

use super::oci_layout::{LayoutError, OciLayout};
use crate::image::manifest::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, Descriptor, Index, Manifest, OCI_INDEX, OCI_MANIFEST,
    is_index,
};
use futures_util::TryStreamExt;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use thiserror::Error;

/// Manifest media types salve accepts from registries.
const ACCEPTED: [&str; 4] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// A failure talking to a registry.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The reference is not a valid image name.
    #[error("{reference:?} is not an image reference: {reason}")]
    Reference {
        /// The text.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The registry answered with an error, or could not be reached.
    #[error("registry {registry}: {what}: {reason}")]
    Registry {
        /// The registry host.
        registry: String,
        /// What was being done.
        what: String,
        /// Why.
        reason: String,
    },
    /// A blob's bytes do not match its digest.
    #[error("registry {registry} sent blob {expected} with digest {actual}; refusing it")]
    DigestMismatch {
        /// The registry host.
        registry: String,
        /// The digest asked for.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// The index has no manifest for the platform.
    #[error("{reference} has no image for {platform} (it has: {available})")]
    NoPlatform {
        /// The image.
        reference: String,
        /// The platform asked for.
        platform: String,
        /// The platforms it has.
        available: String,
    },
    /// The layout could not be written.
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// How to reach registries.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Registries (`host[:port]`) to reach over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
}

/// A registry client.
pub struct RegistryClient {
    /// The OCI distribution client.
    client: Client,
}

/// The registry host of a reference, lower-cased.
fn registry_of(reference: &Reference) -> String {
    reference.resolve_registry().to_ascii_lowercase()
}

/// True for hosts on the loopback interface.
fn is_loopback(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(registry, |(host, _)| host);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

impl RegistryClient {
    /// A client for the registries of `references` (loopback and insecure ones over HTTP).
    pub fn new(
        references: &[&str],
        options: &RegistryOptions,
    ) -> Result<RegistryClient, RegistryError> {
        let mut plain_http: Vec<String> = options.insecure.clone();
        for text in references {
            let reference = parse(text)?;
            let registry = registry_of(&reference);
            if is_loopback(&registry) {
                plain_http.push(registry);
            }
        }
        let config = oci_client::client::ClientConfig {
            protocol: oci_client::client::ClientProtocol::HttpsExcept(plain_http),
            ..Default::default()
        };
        Ok(RegistryClient {
            client: Client::new(config),
        })
    }

    /// Pulls `reference` (for `platform`, `os/arch[/variant]`, when it is an index) into `layout`
    /// and tags it there; returns the manifest's descriptor.
    pub async fn pull(
        &self,
        text: &str,
        platform: &str,
        layout: &OciLayout,
        tag: &str,
    ) -> Result<Descriptor, RegistryError> {
        let reference = parse(text)?;
        let registry = registry_of(&reference);
        let fail = |what: &str, error: &dyn std::fmt::Display| failure(&registry, what, error);
        let auth = RegistryAuth::Anonymous;
        let (mut bytes, mut digest) = self
            .client
            .pull_manifest_raw(&reference, &auth, &ACCEPTED)
            .await
            .map_err(|e| fail("fetching the manifest", &e))?;
        let mut media_type = media_type_of(&bytes);
        if is_index(&media_type) {
            let index: Index = serde_json::from_slice(&bytes)
                .map_err(|error| fail("reading the index", &error))?;
            let chosen =
                choose_platform(&index, platform).ok_or_else(|| RegistryError::NoPlatform {
                    reference: text.to_string(),
                    platform: platform.to_string(),
                    available: platforms(&index),
                })?;
            let by_digest = reference.clone_with_digest(chosen.digest.clone());
            (bytes, digest) = self
                .client
                .pull_manifest_raw(&by_digest, &auth, &ACCEPTED)
                .await
                .map_err(|e| fail("fetching the platform's manifest", &e))?;
            media_type = media_type_of(&bytes);
        }
        check_digest(&registry, &digest, &bytes)?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|error| fail("reading the manifest", &error))?;
        for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if layout.blob_path(&blob.digest)?.exists() {
                continue;
            }
            // Streamed to a temporary file; the layout checks the digest as it copies it in.
            let temp = tempfile::NamedTempFile::new()
                .map_err(|error| fail("creating a temporary file", &error))?;
            let file = tokio::fs::File::from_std(
                temp.reopen()
                    .map_err(|error| fail("opening a temporary file", &error))?,
            );
            self.client
                .pull_blob(&reference, blob.digest.as_str(), file)
                .await
                .map_err(|e| fail(&format!("fetching blob {}", blob.digest), &e))?;
            layout.put_blob_file(&blob.digest, temp.path())?;
        }
        let descriptor = layout.put_blob(&media_type, &bytes)?;
        layout.tag(tag, &descriptor)?;
        Ok(descriptor)
    }

    /// Pushes the image tagged `tag` in `layout` to `reference`: every blob the registry lacks
    /// first (streamed from the layout), the manifest last, so the tag never names an image
    /// whose blobs are not all there. Returns the manifest's digest.
    pub async fn push(
        &self,
        layout: &OciLayout,
        tag: &str,
        text: &str,
    ) -> Result<String, RegistryError> {
        let reference = parse(text)?;
        let registry = registry_of(&reference);
        let fail = |what: &str, error: &dyn std::fmt::Display| failure(&registry, what, error);
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &RegistryAuth::Anonymous)
            .await;
        let descriptor = layout.resolve(Some(tag))?;
        let bytes = layout.read_blob(&descriptor.digest)?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|error| fail("reading the manifest to push", &error))?;
        for blob in manifest
            .layers
            .iter()
            .chain(std::iter::once(&manifest.config))
        {
            let present = self
                .client
                .blob_exists(&reference, &blob.digest)
                .await
                .map_err(|e| fail(&format!("checking blob {}", blob.digest), &e))?;
            if present {
                continue;
            }
            let file = tokio::fs::File::open(layout.blob_path(&blob.digest)?)
                .await
                .map_err(|error| fail(&format!("opening blob {}", blob.digest), &error))?;
            let stream = tokio_util::io::ReaderStream::new(file).map_err(|error| {
                oci_client::errors::OciDistributionError::GenericError(Some(error.to_string()))
            });
            self.client
                .push_blob_stream(&reference, stream, &blob.digest, Some(blob.size))
                .await
                .map_err(|e| fail(&format!("pushing blob {}", blob.digest), &e))?;
        }
        let content_type =
            http::HeaderValue::from_str(&descriptor.media_type).map_err(|error| {
                let reason = format!("media type {:?}: {error}", descriptor.media_type);
                fail("pushing the manifest", &reason)
            })?;
        self.client
            .push_manifest_raw(&reference, bytes, content_type)
            .await
            .map_err(|e| fail("pushing the manifest", &e))?;
        Ok(descriptor.digest)
    }
}

/// The error for something that failed while talking to `registry`.
fn failure(registry: &str, what: &str, reason: &dyn std::fmt::Display) -> RegistryError {
    RegistryError::Registry {
        registry: registry.to_string(),
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

/// Parses an image reference.
fn parse(text: &str) -> Result<Reference, RegistryError> {
    text.parse()
        .map_err(|error: oci_client::ParseError| RegistryError::Reference {
            reference: text.to_string(),
            reason: error.to_string(),
        })
}

/// The media type a manifest states, OCI's image manifest when it states none.
fn media_type_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|value| value["mediaType"].as_str().map(str::to_string))
        .unwrap_or_else(|| OCI_MANIFEST.to_string())
}

/// Checks a manifest against the digest the registry gave for it.
fn check_digest(registry: &str, expected: &str, bytes: &[u8]) -> Result<(), RegistryError> {
    use sha2::Digest;
    let actual = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
    if expected.starts_with("sha256:") && actual != expected {
        return Err(RegistryError::DigestMismatch {
            registry: registry.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

/// The index entry for `os/arch[/variant]`.
fn choose_platform<'a>(index: &'a Index, wanted: &str) -> Option<&'a Descriptor> {
    let mut parts = wanted.split('/');
    let (os, architecture, variant) = (parts.next()?, parts.next()?, parts.next());
    index.manifests.iter().find(|descriptor| {
        descriptor.platform.as_ref().is_some_and(|platform| {
            platform.os == os
                && platform.architecture == architecture
                && (variant.is_none() || platform.variant.as_deref() == variant)
        })
    })
}

/// The platforms an index lists, for messages.
fn platforms(index: &Index) -> String {
    index
        .manifests
        .iter()
        .filter_map(|descriptor| descriptor.platform.as_ref())
        .map(|platform| match &platform.variant {
            Some(variant) => format!("{}/{}/{variant}", platform.os, platform.architecture),
            None => format!("{}/{}", platform.os, platform.architecture),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        serde_json::from_str(
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1,
             "platform":{"os":"linux","architecture":"amd64"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":1,
             "platform":{"os":"linux","architecture":"arm","variant":"v7"}}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn picks_the_platform_asked_for() {
        let index = index();
        assert_eq!(
            choose_platform(&index, "linux/amd64").unwrap().digest,
            "sha256:aa"
        );
        assert_eq!(
            choose_platform(&index, "linux/arm/v7").unwrap().digest,
            "sha256:bb"
        );
        assert_eq!(
            choose_platform(&index, "linux/arm").unwrap().digest,
            "sha256:bb"
        );
        assert!(choose_platform(&index, "linux/arm64").is_none());
        assert!(choose_platform(&index, "linux").is_none());
        assert_eq!(platforms(&index), "linux/amd64, linux/arm/v7");
    }

    #[test]
    fn only_loopback_is_plain_http_by_default() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("registry.example.com"));
        assert!(!is_loopback("10.0.0.1:5000"));
    }
}
