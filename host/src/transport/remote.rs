//! Pulling images from a registry (the `docker://` transport) into an OCI layout, and pushing
//! them back.
//!
//! Plain HTTP is used only for registries on the loopback interface and those named as insecure;
//! everything else is HTTPS. Credentials come from the usual files (see `credentials`); basic and
//! bearer challenges are answered by the distribution client. Requests that fail for a reason that
//! may pass are retried with backoff (see `retry`). Every blob is streamed to a temporary file,
//! checked against its digest, then moved into the layout; manifests and the tag come last.

use super::credentials;
use super::reference::ImageReference;
use super::retry::{RetryPolicy, is_stall, is_unauthorized, retrying};
use crate::image::digest::sha256;
use crate::image::layout::{LayoutError, OciLayout};
use crate::image::manifest::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, Descriptor, Index, Manifest, OCI_INDEX, OCI_MANIFEST,
    is_index,
};
use futures_util::{StreamExt, TryStreamExt};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// Blobs fetched or sent at the same time.
const CONCURRENT_BLOBS: usize = 4;

/// Tags asked for per page of a tag list.
const TAG_PAGE: usize = 1000;
/// The most tags read from one repository.
pub const MAX_TAGS: usize = 100_000;

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

/// How long a registry connection may stay silent in the middle of an answer before it counts
/// as stalled, by default.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach registries.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Registries (`host[:port]`) to reach over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
    /// The credentials file to read instead of the usual places (see `credentials`).
    pub auth_file: Option<PathBuf>,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// How long a connection may send nothing while an answer is awaited or read before the
    /// request fails as stalled (and is retried like a reset).
    pub stall_timeout: Duration,
}

impl Default for RegistryOptions {
    fn default() -> RegistryOptions {
        RegistryOptions {
            insecure: Vec::new(),
            auth_file: None,
            retry: RetryPolicy::default(),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }
}

/// Which images of an index to pull.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformChoice {
    /// The one for `os/arch[/variant]`; the layout's tag names that platform's manifest.
    One(String),
    /// Every platform; the layout's tag names the index itself.
    All,
}

/// A registry client.
pub struct RegistryClient {
    /// The OCI distribution client.
    client: Client,
    /// The options it was made with.
    options: RegistryOptions,
}

/// The registry host of a reference, lower-cased.
fn registry_of(reference: &Reference) -> String {
    reference.resolve_registry().to_ascii_lowercase()
}

/// True for registry hosts (`host[:port]`) on the loopback interface, written as a name or an
/// address.
pub fn is_loopback(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(registry, |(host, _)| host);
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "[::1]"
        || host == "0.0.0.0"
        || host == "[::]"
}

impl RegistryClient {
    /// A client for the registries of `references` (loopback and insecure ones over HTTP).
    pub fn new(
        references: &[&ImageReference],
        options: &RegistryOptions,
    ) -> Result<RegistryClient, RegistryError> {
        let mut plain_http: Vec<String> = options.insecure.clone();
        for reference in references {
            let registry = registry_of(reference.oci());
            if is_loopback(&registry) {
                plain_http.push(registry);
            }
        }
        let config = oci_client::client::ClientConfig {
            protocol: oci_client::client::ClientProtocol::HttpsExcept(plain_http),
            connect_timeout: Some(Duration::from_secs(30)),
            // Per read: a body cut short with the connection closed fails at once; one that
            // stops arriving fails after this long.
            read_timeout: Some(options.stall_timeout),
            // One PUT per blob, streamed from its file: the chunked mode sends one request
            // per stream item.
            use_monolithic_push: true,
            ..Default::default()
        };
        Ok(RegistryClient {
            client: Client::new(config),
            options: options.clone(),
        })
    }

    /// The credentials for the registry of `reference`.
    fn auth(&self, reference: &Reference) -> Result<RegistryAuth, RegistryError> {
        let registry = reference.resolve_registry();
        credentials::lookup(registry, self.options.auth_file.as_deref()).map_err(|error| {
            RegistryError::Registry {
                registry: registry.to_string(),
                what: "finding credentials".into(),
                reason: error.to_string(),
            }
        })
    }

    /// Runs one registry operation with retries, naming it in the error.
    async fn attempt<T, F, Fut>(
        &self,
        registry: &str,
        what: &str,
        operation: F,
    ) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        retrying(self.options.retry, operation)
            .await
            .map_err(|(error, attempts)| {
                let reason = match error {
                    _ if is_stall(&error) => format!(
                        "the connection sent no data for {} (--registry-stall-timeout){}",
                        crate::quantity::format_duration(self.options.stall_timeout),
                        if attempts > 1 {
                            format!(" (after {attempts} attempts)")
                        } else {
                            String::new()
                        }
                    ),
                    _ if is_unauthorized(&error) => format!(
                        "{error} (log in with `docker login {registry}`, or give credentials in \
                         the file named by --authfile)"
                    ),
                    _ if attempts > 1 => format!("{error} (after {attempts} attempts)"),
                    _ => error.to_string(),
                };
                failure(registry, what, &reason)
            })
    }

    /// Fetches a manifest (or index) with its digest, checking the bytes against the digest.
    async fn manifest(
        &self,
        reference: &Reference,
        auth: &RegistryAuth,
        what: &str,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let registry = registry_of(reference);
        let (bytes, digest) = self
            .attempt(&registry, what, || {
                self.client.pull_manifest_raw(reference, auth, &ACCEPTED)
            })
            .await?;
        check_digest(&registry, &digest, &bytes)?;
        if let Some(asked) = reference.digest() {
            check_digest(&registry, asked, &bytes)?;
        }
        let digest = if digest.is_empty() {
            sha256(&bytes)
        } else {
            digest
        };
        Ok((bytes.to_vec(), digest))
    }

    /// Fetches the manifest (or index) `image` names, by tag or by digest, checked against the
    /// digest asked for and the one the registry states, without anything it names; returns its
    /// bytes and digest.
    pub async fn fetch_manifest(
        &self,
        image: &ImageReference,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let reference = image.oci();
        let auth = self.auth(reference)?;
        self.manifest(reference, &auth, "fetching the manifest")
            .await
    }

    /// The tags of `image`'s repository, page by page (at most [`MAX_TAGS`]: a registry that
    /// keeps sending pages is refused rather than followed forever), sorted.
    pub async fn list_tags(&self, image: &ImageReference) -> Result<Vec<String>, RegistryError> {
        let reference = image.oci();
        let auth = self.auth(reference)?;
        let registry = registry_of(reference);
        let what = "listing the repository's tags";
        let mut tags: Vec<String> = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let page = self
                .attempt(&registry, what, || {
                    self.client
                        .list_tags(reference, &auth, Some(TAG_PAGE), last.as_deref())
                })
                .await?;
            let count = page.tags.len();
            let next = page.tags.last().cloned();
            tags.extend(page.tags);
            if tags.len() > MAX_TAGS {
                return Err(failure(
                    &registry,
                    what,
                    &format!("it lists more than {MAX_TAGS} tags"),
                ));
            }
            // A short page is the last; a page that does not move past the last tag would repeat.
            if count < TAG_PAGE || next.is_none() || next == last {
                break;
            }
            last = next;
        }
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    /// Downloads one blob of `image`'s repository into `layout`, checked against its digest and
    /// size (call [`RegistryClient::fetch_manifest`] first: it answers the registry's challenge).
    pub async fn fetch_blob(
        &self,
        image: &ImageReference,
        blob: &Descriptor,
        layout: &OciLayout,
    ) -> Result<(), RegistryError> {
        self.pull_blob(image.oci(), blob, layout).await
    }

    /// Pulls `reference` into `layout` and tags it there; returns the tagged descriptor (the
    /// platform's manifest, or with [`PlatformChoice::All`] the index).
    pub async fn pull(
        &self,
        image: &ImageReference,
        choice: &PlatformChoice,
        layout: &OciLayout,
        tag: &str,
    ) -> Result<Descriptor, RegistryError> {
        let reference = image.oci().clone();
        let auth = self.auth(&reference)?;
        let registry = registry_of(&reference);
        let fail = |what: &str, error: &dyn std::fmt::Display| failure(&registry, what, error);
        let (bytes, _) = self
            .manifest(&reference, &auth, "fetching the manifest")
            .await?;
        let media_type = media_type_of(&bytes);
        if !is_index(&media_type) {
            self.pull_image(&reference, &bytes, layout).await?;
            let descriptor = layout.put_blob(&media_type, &bytes)?;
            layout.tag(tag, &descriptor)?;
            return Ok(descriptor);
        }
        let index: Index =
            serde_json::from_slice(&bytes).map_err(|error| fail("reading the index", &error))?;
        let wanted: Vec<&Descriptor> = match choice {
            PlatformChoice::All => index.manifests.iter().collect(),
            PlatformChoice::One(platform) => {
                vec![choose_platform(&index, platform).ok_or_else(|| {
                    RegistryError::NoPlatform {
                        reference: image.to_string(),
                        platform: platform.clone(),
                        available: platforms(&index),
                    }
                })?]
            }
        };
        let mut last = None;
        for entry in wanted {
            let by_digest = reference.clone_with_digest(entry.digest.clone());
            let what = format!("fetching manifest {}", entry.digest);
            let (child, _) = self.manifest(&by_digest, &auth, &what).await?;
            if sha256(&child) != entry.digest {
                return Err(RegistryError::DigestMismatch {
                    registry: registry.clone(),
                    expected: entry.digest.clone(),
                    actual: sha256(&child),
                });
            }
            self.pull_image(&reference, &child, layout).await?;
            last = Some(layout.put_blob(&entry.media_type, &child)?);
        }
        let descriptor = match choice {
            PlatformChoice::All => layout.put_blob(&media_type, &bytes)?,
            PlatformChoice::One(_) => last.expect("one platform was chosen"),
        };
        layout.tag(tag, &descriptor)?;
        Ok(descriptor)
    }

    /// Pulls the config and layers a manifest names that the layout lacks.
    async fn pull_image(
        &self,
        reference: &Reference,
        manifest: &[u8],
        layout: &OciLayout,
    ) -> Result<(), RegistryError> {
        let registry = registry_of(reference);
        let fail = |what: &str, error: &dyn std::fmt::Display| failure(&registry, what, error);
        let manifest: Manifest = serde_json::from_slice(manifest)
            .map_err(|error| fail("reading the manifest", &error))?;
        let mut missing = Vec::new();
        for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if !layout.blob_path(&blob.digest)?.exists() && !missing.contains(&blob) {
                missing.push(blob);
            }
        }
        futures_util::stream::iter(missing)
            .map(|blob| self.pull_blob(reference, blob, layout))
            .buffer_unordered(CONCURRENT_BLOBS)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Downloads one blob into the layout. It is streamed to a temporary file (emptied before
    /// each attempt) and stopped once it passes the descriptor's size; the client checks the
    /// digest as the bytes arrive and fails the stream at its end when they do not match, so a
    /// complete file can be moved in as it is.
    async fn pull_blob(
        &self,
        reference: &Reference,
        blob: &Descriptor,
        layout: &OciLayout,
    ) -> Result<(), RegistryError> {
        let registry = registry_of(reference);
        let temp = layout.temp_blob()?;
        let what = format!("fetching blob {}", blob.digest);
        self.attempt(&registry, &what, || async {
            let mut file = std::io::BufWriter::with_capacity(1 << 20, temp.reopen()?);
            file.get_ref().set_len(0)?;
            let mut stream = self
                .client
                .pull_blob_stream(reference, blob.digest.as_str())
                .await?
                .stream;
            let mut received = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                received += chunk.len() as u64;
                if received > blob.size {
                    return Err(OciDistributionError::IoError(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the registry sent more than the blob's {} bytes", blob.size),
                    )));
                }
                file.write_all(&chunk)?;
            }
            file.flush()?;
            Ok(())
        })
        .await?;
        layout.adopt_verified_blob(&blob.digest, temp)?;
        Ok(())
    }

    /// Pushes the image (or index) tagged `tag` in `layout` to `reference`: every blob the
    /// registry lacks first (mounted from `mount_from`, a repository on the same registry, when
    /// it has them; else streamed from the layout), each platform's manifest by digest, the
    /// tagged manifest last, so the tag never names an image whose parts are not all there.
    /// Returns the tagged manifest's digest.
    pub async fn push(
        &self,
        layout: &OciLayout,
        tag: &str,
        reference: &ImageReference,
        mount_from: Option<&ImageReference>,
    ) -> Result<String, RegistryError> {
        let reference = reference.oci().clone();
        let registry = registry_of(&reference);
        let fail = |what: &str, error: &dyn std::fmt::Display| failure(&registry, what, error);
        let auth = self.auth(&reference)?;
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &auth)
            .await;
        let mount_from = mount_from
            .map(|source| source.oci().clone())
            .filter(|source| {
                registry_of(source) == registry && source.repository() != reference.repository()
            });
        let descriptor = layout.resolve(Some(tag))?;
        let bytes = layout.read_blob(&descriptor.digest)?;
        if is_index(&descriptor.media_type) {
            let index: Index = serde_json::from_slice(&bytes)
                .map_err(|error| fail("reading the index to push", &error))?;
            for entry in &index.manifests {
                let child = layout.read_blob(&entry.digest)?;
                self.push_blobs(layout, &reference, &child, mount_from.as_ref())
                    .await?;
                let by_digest = reference.clone_with_digest(entry.digest.clone());
                self.push_manifest(&by_digest, &entry.media_type, child)
                    .await?;
            }
        } else {
            self.push_blobs(layout, &reference, &bytes, mount_from.as_ref())
                .await?;
        }
        self.push_manifest(&reference, &descriptor.media_type, bytes)
            .await?;
        Ok(descriptor.digest)
    }

    /// Makes sure the registry has every blob a manifest names.
    async fn push_blobs(
        &self,
        layout: &OciLayout,
        reference: &Reference,
        manifest: &[u8],
        mount_from: Option<&Reference>,
    ) -> Result<(), RegistryError> {
        let registry = registry_of(reference);
        let fail = |what: &str, error: &dyn std::fmt::Display| failure(&registry, what, error);
        let manifest: Manifest = serde_json::from_slice(manifest)
            .map_err(|error| fail("reading the manifest to push", &error))?;
        let blobs: Vec<&Descriptor> = manifest
            .layers
            .iter()
            .chain(std::iter::once(&manifest.config))
            .collect();
        futures_util::stream::iter(blobs)
            .map(|blob| self.push_blob(layout, reference, blob, mount_from))
            .buffer_unordered(CONCURRENT_BLOBS)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Makes sure the registry has one blob: there already, mounted, or uploaded in one
    /// streamed request.
    async fn push_blob(
        &self,
        layout: &OciLayout,
        reference: &Reference,
        blob: &Descriptor,
        mount_from: Option<&Reference>,
    ) -> Result<(), RegistryError> {
        let registry = registry_of(reference);
        let what = format!("checking blob {}", blob.digest);
        let present = self
            .attempt(&registry, &what, || {
                self.client.blob_exists(reference, &blob.digest)
            })
            .await?;
        if present {
            return Ok(());
        }
        if let Some(source) = mount_from
            && self
                .client
                .mount_blob(reference, source, &blob.digest)
                .await
                .is_ok()
        {
            return Ok(());
        }
        let path = layout.blob_path(&blob.digest)?;
        if !path.exists() {
            return Err(failure(
                &registry,
                &format!("pushing blob {}", blob.digest),
                &"the blob is not in the local layout and the registry could not mount it",
            ));
        }
        let what = format!("pushing blob {}", blob.digest);
        self.attempt(&registry, &what, || async {
            let file = tokio::fs::File::open(&path).await?;
            let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)
                .map_err(OciDistributionError::IoError);
            self.client
                .push_blob_stream(reference, stream, &blob.digest, Some(blob.size))
                .await
        })
        .await?;
        Ok(())
    }

    /// Pushes one manifest's bytes under `reference` (a tag or a digest).
    async fn push_manifest(
        &self,
        reference: &Reference,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), RegistryError> {
        let registry = registry_of(reference);
        let content_type = http::HeaderValue::from_str(media_type).map_err(|error| {
            let reason = format!("media type {media_type:?}: {error}");
            failure(&registry, "pushing the manifest", &reason)
        })?;
        self.attempt(&registry, "pushing the manifest", || {
            self.client
                .push_manifest_raw(reference, bytes.clone(), content_type.clone())
        })
        .await?;
        Ok(())
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

/// The media type a manifest states, OCI's image manifest when it states none.
fn media_type_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|value| value["mediaType"].as_str().map(str::to_string))
        .unwrap_or_else(|| OCI_MANIFEST.to_string())
}

/// Checks a manifest against the digest the registry gave for it.
fn check_digest(registry: &str, expected: &str, bytes: &[u8]) -> Result<(), RegistryError> {
    let actual = sha256(bytes);
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
        .map(ToString::to_string)
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
