//! Fetching from package repositories for native installation: index files and packages over
//! HTTP(S), each checked against the SHA-256 and size a signed file gave before anything uses
//! it, and kept in a store by SHA-256 so a second run downloads nothing it already has.

use super::apk;
use super::apk_signature::{self, ApkSignatureError};
use super::openpgp::{self, SignatureError};
use super::package::{Downloaded, Format, PackageError};
use crate::cache::PACKAGES_LOCK;
use crate::cache::lock::{EntryLock, Mode};
use crate::mirror::Mirrors;
use crate::plugin::native::{
    FetchedFile, PackageCheck, PackageDownload, RepositoryFile, SignatureCheck,
};
use crate::plugin::types::{FileKind, ImageFile};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most an index or signed file may hold (the biggest `Packages` of a Debian release is
/// about 50 MB uncompressed).
const INDEX_CAP: u64 = 512 << 20;

/// The variable naming an extra CA bundle (PEM) to trust, as pip reads it.
const CA_BUNDLE: &str = "PIP_CERT";

/// How long connecting, and each read, may take.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a repository file or package could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed.
    #[error("fetching {url}: {error}")]
    Request {
        /// The URL.
        url: String,
        /// The client's error.
        error: String,
    },
    /// The HTTP client could not be set up.
    #[error("the HTTP client for package repositories: {0}")]
    Client(String),
    /// The server answered with an error status.
    #[error("fetching {url}: the server answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The bytes are not what the signed index says.
    #[error(
        "{url} is not what the repository's signed index says ({what}); the mirror or \
         something between serves a changed file, so nothing was written"
    )]
    Mismatch {
        /// The URL.
        url: String,
        /// What differs.
        what: String,
    },
    /// An OpenPGP signature did not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// An apk index's signature did not verify.
    #[error(transparent)]
    ApkSignature(#[from] ApkSignatureError),
    /// A file could not be decompressed.
    #[error("{url} could not be decompressed: {error}")]
    Decompress {
        /// The URL.
        url: String,
        /// The decoder's error.
        error: std::io::Error,
    },
    /// The store could not be written or read.
    #[error("the package store {path}: {error}")]
    Store {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

/// A client for package repositories with a store of what it fetched.
#[derive(Clone)]
pub struct Repositories {
    client: reqwest::Client,
    store: PathBuf,
    /// Where URLs under an origin are fetched from instead.
    mirrors: Mirrors,
    /// The store's lock, held shared while the client lives, so that no prune removes a file
    /// between its fetch and its use.
    _store_lock: std::sync::Arc<EntryLock>,
}

impl Repositories {
    /// A client whose store is `store` (created when missing), fetching URLs under an origin
    /// of `mirrors` from its mirror.
    pub fn new(store: &Path, mirrors: &Mirrors) -> Result<Repositories, FetchError> {
        let client_error = FetchError::Client;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(NETWORK_TIMEOUT)
            .read_timeout(NETWORK_TIMEOUT)
            .user_agent(concat!("salve/", env!("CARGO_PKG_VERSION")));
        // The CA bundle pip would be told of (a proxy's or a mirror's own CA), trusted as well.
        if let Some(bundle) = std::env::var_os(CA_BUNDLE) {
            let pem = std::fs::read(&bundle).map_err(|error| {
                client_error(format!("{CA_BUNDLE} {}: {error}", bundle.to_string_lossy()))
            })?;
            for certificate in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|error| client_error(format!("{CA_BUNDLE}: {error}")))?
            {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let client = builder
            .build()
            .map_err(|error| client_error(error.to_string()))?;
        let store_error = |error| FetchError::Store {
            path: store.to_path_buf(),
            error,
        };
        std::fs::create_dir_all(store).map_err(store_error)?;
        let store_lock =
            EntryLock::acquire(&store.join(PACKAGES_LOCK), Mode::Shared).map_err(store_error)?;
        Ok(Repositories {
            client,
            store: store.to_path_buf(),
            mirrors: mirrors.clone(),
            _store_lock: std::sync::Arc::new(store_lock),
        })
    }

    /// Fetches a repository file as the plugin asked: checked against its checksum and size,
    /// verified against the keyrings it names (among `image_files`) when it is signed,
    /// decompressed when asked.
    pub async fn fetch(
        &self,
        file: &RepositoryFile,
        image_files: &[ImageFile],
    ) -> Result<FetchedFile, FetchError> {
        let Some(path) = self
            .get(
                &file.url,
                file.sha256.as_deref(),
                file.size,
                INDEX_CAP,
                file.optional,
                file.accept.as_deref(),
            )
            .await?
        else {
            return Ok(FetchedFile {
                url: file.url.clone(),
                content: None,
            });
        };
        let read = |path: &Path| {
            std::fs::read(path).map_err(|error| FetchError::Store {
                path: path.to_path_buf(),
                error,
            })
        };
        let apk_signed = matches!(file.signature, Some(SignatureCheck::Apk(_)));
        let mut content = if file.decompress && !apk_signed {
            self.decompressed(&file.url, &path)?
        } else {
            read(&path)?
        };
        match &file.signature {
            None => {}
            Some(SignatureCheck::Openpgp(keyrings)) => {
                let keyrings = trusted_files(keyrings, image_files).map_err(|(path, error)| {
                    SignatureError::Keyring {
                        path: path.to_string(),
                        error,
                    }
                })?;
                let keys = openpgp::read_keyrings(&keyrings)?;
                let names: Vec<String> =
                    keyrings.iter().map(|(path, _)| path.to_string()).collect();
                content = openpgp::verified_text(&file.url, &content, &keys, &names)?.into_bytes();
            }
            Some(SignatureCheck::Apk(keys)) => {
                let keys = trusted_files(keys, image_files).map_err(|(path, error)| {
                    ApkSignatureError::Key {
                        path: path.to_string(),
                        error,
                    }
                })?;
                // The signature is of the compressed bytes: checked before decompressing.
                let signed = apk_signature::verified_index(&file.url, &content, &keys)?;
                content = if file.decompress {
                    gunzip(&file.url, signed)?
                } else {
                    signed.to_vec()
                };
            }
        }
        if file.sha256.is_none() {
            let _ = std::fs::remove_file(&path);
        }
        Ok(FetchedFile {
            url: file.url.clone(),
            content: Some(content),
        })
    }

    /// Downloads a package file into the store (once), checked against the index.
    pub async fn download(&self, package: &PackageDownload) -> Result<Downloaded, FetchError> {
        let format = Format::of(&package.check);
        let file = match &package.check {
            PackageCheck::Deb(sha256) | PackageCheck::Wheel(sha256) => self
                .get(
                    &package.url,
                    Some(sha256),
                    Some(package.size),
                    package.size,
                    false,
                    None,
                )
                .await?
                .expect("a package is not optional"),
            PackageCheck::Apk(control_sha1) => self.download_apk(package, control_sha1).await?,
        };
        Ok(Downloaded { file, format })
    }

    /// Downloads an apk package into the store (once, by its control stream's SHA-1), checked
    /// by its control and data streams.
    async fn download_apk(
        &self,
        package: &PackageDownload,
        control_sha1: &str,
    ) -> Result<PathBuf, FetchError> {
        let mismatch = |error: apk::ApkMismatch| FetchError::Mismatch {
            url: package.url.clone(),
            what: match error {
                apk::ApkMismatch::Package(PackageError::Format { reason, .. }) => reason,
                other => other.to_string(),
            },
        };
        if control_sha1.len() != 40 || !control_sha1.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(FetchError::Mismatch {
                url: package.url.clone(),
                what: format!("the index names it by {control_sha1:?}, not a SHA-1"),
            });
        }
        let stored = self
            .store
            .join(format!("apk-{}", control_sha1.to_ascii_lowercase()));
        if stored.is_file() && apk::verify(&stored, control_sha1).is_ok() {
            return Ok(stored);
        }
        let fetched = self
            .get(
                &package.url,
                None,
                Some(package.size),
                package.size,
                false,
                None,
            )
            .await?
            .expect("a package is not optional");
        if let Err(error) = apk::verify(&fetched, control_sha1) {
            let _ = std::fs::remove_file(&fetched);
            return Err(mismatch(error));
        }
        std::fs::rename(&fetched, &stored).map_err(|error| FetchError::Store {
            path: stored.clone(),
            error,
        })?;
        Ok(stored)
    }

    /// The stored file of `url` (asked for with `accept` as its `Accept` header, when given),
    /// fetched when the store lacks a file of that SHA-256. A file without a known checksum is
    /// fetched to a fresh name every time. `None`: an optional file the server does not have.
    async fn get(
        &self,
        url: &str,
        sha256: Option<&str>,
        size: Option<u64>,
        cap: u64,
        optional: bool,
        accept: Option<&str>,
    ) -> Result<Option<PathBuf>, FetchError> {
        let mirrored = self.mirrors.rewrite_url(url);
        let url = mirrored.as_deref().unwrap_or(url);
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(FetchError::Request {
                url: url.to_string(),
                error: "only http:// and https:// URLs are fetched".into(),
            });
        }
        let store_error = |path: &Path, error| FetchError::Store {
            path: path.to_path_buf(),
            error,
        };
        if let Some(sha256) = sha256 {
            let stored = self.store.join(sha256);
            if stored.is_file() && file_sha256(&stored).ok().as_deref() == Some(sha256) {
                // The time of last use orders evictions from the cache; not recording it is
                // not a failure.
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&stored)
                    .and_then(|file| file.set_modified(std::time::SystemTime::now()));
                return Ok(Some(stored));
            }
        }
        let request_error = |error: reqwest::Error| FetchError::Request {
            url: url.to_string(),
            error: error.to_string(),
        };
        let mut request = self.client.get(url);
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        let mut response = request.send().await.map_err(request_error)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND && optional {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let mut temporary = tempfile::NamedTempFile::new_in(&self.store)
            .map_err(|error| store_error(&self.store, error))?;
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        let limit = size.unwrap_or(cap);
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            received += chunk.len() as u64;
            if received > limit {
                return Err(FetchError::Mismatch {
                    url: url.to_string(),
                    what: format!("it is longer than the {limit} bytes expected"),
                });
            }
            hasher.update(&chunk);
            temporary
                .write_all(&chunk)
                .map_err(|error| store_error(temporary.path(), error))?;
        }
        if let Some(size) = size
            && received != size
        {
            return Err(FetchError::Mismatch {
                url: url.to_string(),
                what: format!("{received} bytes, not {size}"),
            });
        }
        let digest = hex::encode(hasher.finalize());
        if let Some(sha256) = sha256
            && digest != sha256
        {
            return Err(FetchError::Mismatch {
                url: url.to_string(),
                what: format!("SHA-256 {digest}, not {sha256}"),
            });
        }
        let name = match sha256 {
            Some(sha256) => sha256.to_string(),
            None => format!("unchecked-{digest}"),
        };
        let stored = self.store.join(name);
        temporary
            .persist(&stored)
            .map_err(|error| store_error(&stored, error.error))?;
        Ok(Some(stored))
    }

    /// The decompressed bytes of a stored file, by its URL's suffix; kept beside it.
    fn decompressed(&self, url: &str, stored: &Path) -> Result<Vec<u8>, FetchError> {
        let plain = stored.with_extension("plain");
        if let Ok(bytes) = std::fs::read(&plain) {
            return Ok(bytes);
        }
        let file = std::fs::File::open(stored).map_err(|error| FetchError::Store {
            path: stored.to_path_buf(),
            error,
        })?;
        let reader = std::io::BufReader::new(file);
        let decoder: Box<dyn Read> = if url.ends_with(".xz") {
            Box::new(liblzma::bufread::XzDecoder::new(reader))
        } else if url.ends_with(".gz") {
            Box::new(flate2::bufread::MultiGzDecoder::new(reader))
        } else if url.ends_with(".zst") {
            Box::new(
                zstd::stream::read::Decoder::with_buffer(reader).map_err(|error| {
                    FetchError::Decompress {
                        url: url.to_string(),
                        error,
                    }
                })?,
            )
        } else {
            Box::new(reader)
        };
        let bytes = read_capped(url, decoder)?;
        if stored
            .file_name()
            .is_some_and(|name| !name.to_string_lossy().starts_with("unchecked-"))
        {
            let _ = crate::image::layout::write_file_atomically(&plain, &bytes);
        }
        Ok(bytes)
    }
}

/// The SHA-256 of a file, in lower-case hex.
fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// A file read from the image: its path and bytes.
type PathAndBytes<'a> = (&'a str, &'a [u8]);

/// The contents of `paths` among `image_files` (regular files read at `native-paths`), each
/// with its path; the error names a path that is not there.
fn trusted_files<'a>(
    paths: &'a [String],
    image_files: &'a [ImageFile],
) -> Result<Vec<PathAndBytes<'a>>, (&'a str, String)> {
    paths
        .iter()
        .map(|path| {
            image_files
                .iter()
                .find(|image_file| image_file.path == *path && image_file.kind == FileKind::File)
                .and_then(|image_file| image_file.content.as_deref())
                .map(|bytes| (path.as_str(), bytes))
                .ok_or((
                    path.as_str(),
                    "it is not among the files read from the image".to_string(),
                ))
        })
        .collect()
}

/// The gzip streams of `bytes`, decompressed (at most the index cap).
fn gunzip(url: &str, bytes: &[u8]) -> Result<Vec<u8>, FetchError> {
    read_capped(url, flate2::bufread::MultiGzDecoder::new(bytes))
}

/// What `decoder` gives of `url`, refused past the index cap.
fn read_capped(url: &str, decoder: impl Read) -> Result<Vec<u8>, FetchError> {
    let mut bytes = Vec::new();
    decoder
        .take(INDEX_CAP + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| FetchError::Decompress {
            url: url.to_string(),
            error,
        })?;
    if bytes.len() as u64 > INDEX_CAP {
        return Err(FetchError::Decompress {
            url: url.to_string(),
            error: std::io::Error::other("it decompresses to more than 512 MiB"),
        });
    }
    Ok(bytes)
}
