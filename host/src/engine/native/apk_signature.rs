//! apk index signatures as apk-tools 2 checks them: an `APKINDEX.tar.gz` starts with a gzip
//! stream holding a tar of `.SIGN.<type>.<key name>` files, each an RSA (PKCS #1 v1.5)
//! signature of the bytes after that stream, with SHA-1 (`RSA`), SHA-256 (`RSA256`) or SHA-512
//! (`RSA512`). As apk-tools does, the first signature whose key the image trusts (a file of that
//! name among its keys) decides; DSA signatures are not read.

use super::apk::gzip_members;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use std::io::Read;

/// The most a signature stream may hold, decompressed.
const SIGNATURE_CAP: u64 = 1 << 20;

/// Why an apk index was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ApkSignatureError {
    /// The file does not start with a signature stream.
    #[error("{url} is not a signed apk index: {reason}")]
    NotSigned {
        /// The file.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A trusted key could not be read.
    #[error("the apk key {path} could not be read: {error}")]
    Key {
        /// The key's path in the image.
        path: String,
        /// What the parser said.
        error: String,
    },
    /// No signature is by a trusted key, or the one that is does not verify.
    #[error(
        "{url} is not signed by a key the image trusts for it ({keys}); it was changed, or \
         comes from another repository"
    )]
    Untrusted {
        /// The file.
        url: String,
        /// What was tried.
        keys: String,
    },
}

/// The bytes of a signed apk index after its signature stream, when a signature by one of
/// `keys` (path, PEM bytes) verifies.
pub fn verified_index<'a>(
    url: &str,
    index: &'a [u8],
    keys: &[(&str, &[u8])],
) -> Result<&'a [u8], ApkSignatureError> {
    let not_signed = |reason: String| ApkSignatureError::NotSigned {
        url: url.to_string(),
        reason,
    };
    let members = gzip_members(index, index.len() as u64).map_err(not_signed)?;
    let Some(first) = members.first() else {
        return Err(not_signed("it is empty".into()));
    };
    let signed = &index[first.end as usize..];
    let mut archive = tar::Archive::new(
        flate2::bufread::GzDecoder::new(&index[..first.end as usize]).take(SIGNATURE_CAP),
    );
    let entries = archive
        .entries()
        .map_err(|error| not_signed(error.to_string()))?;
    let mut tried = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|error| not_signed(error.to_string()))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(rest) = name.strip_prefix(".SIGN.") else {
            return Err(not_signed(format!(
                "its first stream holds {name:?}, not only signatures"
            )));
        };
        let Some((kind, key_name)) = rest.split_once('.') else {
            continue;
        };
        tried.push(format!("{kind} by {key_name}"));
        let Some((path, pem)) = keys
            .iter()
            .find(|(path, _)| path.rsplit('/').next() == Some(key_name))
        else {
            continue;
        };
        let scheme_and_digest = match kind {
            "RSA" => (Pkcs1v15Sign::new::<Sha1>(), Sha1::digest(signed).to_vec()),
            "RSA256" => (
                Pkcs1v15Sign::new::<Sha256>(),
                Sha256::digest(signed).to_vec(),
            ),
            "RSA512" => (
                Pkcs1v15Sign::new::<Sha512>(),
                Sha512::digest(signed).to_vec(),
            ),
            _ => continue,
        };
        let key = public_key(path, pem)?;
        let mut signature = Vec::new();
        entry
            .read_to_end(&mut signature)
            .map_err(|error| not_signed(error.to_string()))?;
        let (scheme, digest) = scheme_and_digest;
        // The first signature by a trusted key decides, as in apk-tools.
        return match key.verify(scheme, &digest, &signature) {
            Ok(()) => Ok(signed),
            Err(_) => Err(ApkSignatureError::Untrusted {
                url: url.to_string(),
                keys: format!("the {kind} signature by {path} does not verify"),
            }),
        };
    }
    if tried.is_empty() {
        return Err(not_signed("its first stream holds no signature".into()));
    }
    let trusted: Vec<&str> = keys.iter().map(|(path, _)| *path).collect();
    Err(ApkSignatureError::Untrusted {
        url: url.to_string(),
        keys: format!(
            "signed {}; trusted: {}",
            tried.join(", "),
            if trusted.is_empty() {
                "no keys".to_string()
            } else {
                trusted.join(", ")
            }
        ),
    })
}

/// An RSA public key from a PEM file (`PUBLIC KEY`, as apk keys are, or `RSA PUBLIC KEY`).
fn public_key(path: &str, pem: &[u8]) -> Result<RsaPublicKey, ApkSignatureError> {
    let text = String::from_utf8_lossy(pem);
    RsaPublicKey::from_public_key_pem(text.trim())
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(text.trim()))
        .map_err(|error| ApkSignatureError::Key {
            path: path.to_string(),
            error: error.to_string(),
        })
}
