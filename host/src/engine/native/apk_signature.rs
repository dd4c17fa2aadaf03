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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::native::apk::testing::{gzip, tar_of};
    use std::path::Path;
    use std::process::Command;

    /// Runs openssl, which must succeed.
    fn openssl(args: &[&str], dir: &Path) {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success(), "openssl {args:?}");
    }

    /// An index signed by `key` (a private key file in `dir`) with `digest` as abuild-sign
    /// does (`openssl dgst -sign`), its signature named for `name`.
    fn signed_index(dir: &Path, key: &str, digest: &str, kind: &str, name: &str) -> Vec<u8> {
        let index = gzip(&tar_of(&[("APKINDEX", b"P:demo\nV:1-r0\n\n")], false));
        std::fs::write(dir.join("index"), &index).unwrap();
        openssl(
            &["dgst", digest, "-sign", key, "-out", "signature", "index"],
            dir,
        );
        let signature = std::fs::read(dir.join("signature")).unwrap();
        let stream = gzip(&tar_of(
            &[(&format!(".SIGN.{kind}.{name}"), &signature)],
            true,
        ));
        [stream, index].concat()
    }

    #[test]
    fn signatures_by_trusted_keys_verify_with_each_digest_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        for key in ["trusted", "other"] {
            openssl(&["genrsa", "-out", key, "2048"], dir.path());
            openssl(
                &[
                    "rsa",
                    "-in",
                    key,
                    "-pubout",
                    "-out",
                    &format!("{key}.rsa.pub"),
                ],
                dir.path(),
            );
        }
        let public = std::fs::read(dir.path().join("trusted.rsa.pub")).unwrap();
        let keys = [("/etc/apk/keys/trusted.rsa.pub", public.as_slice())];
        for (digest, kind) in [
            ("-sha1", "RSA"),
            ("-sha256", "RSA256"),
            ("-sha512", "RSA512"),
        ] {
            let index = signed_index(dir.path(), "trusted", digest, kind, "trusted.rsa.pub");
            let rest = verified_index("u", &index, &keys).unwrap();
            assert_eq!(rest, &index[index.len() - rest.len()..]);
            // One byte of the index changed where gzip does not notice (its header's time).
            let mut changed = index.clone();
            let at = index.len() - rest.len() + 4;
            changed[at] ^= 1;
            assert!(matches!(
                verified_index("u", &changed, &keys),
                Err(ApkSignatureError::Untrusted { .. })
            ));
        }
        // Signed by another key under the trusted key's name: does not verify.
        let forged = signed_index(dir.path(), "other", "-sha1", "RSA", "trusted.rsa.pub");
        let error = verified_index("u", &forged, &keys).unwrap_err().to_string();
        assert!(error.contains("does not verify"), "{error}");
        // Signed by a key the image does not have: untrusted, naming what was tried.
        let unknown = signed_index(dir.path(), "other", "-sha1", "RSA", "other.rsa.pub");
        let error = verified_index("u", &unknown, &keys)
            .unwrap_err()
            .to_string();
        assert!(error.contains("RSA by other.rsa.pub"), "{error}");
        // Not signed at all.
        let plain = gzip(&tar_of(&[("APKINDEX", b"P:demo\nV:1-r0\n\n")], false));
        assert!(matches!(
            verified_index("u", &plain, &keys),
            Err(ApkSignatureError::NotSigned { .. })
        ));
        // A key file that is not a key.
        let bad_keys = [("/etc/apk/keys/trusted.rsa.pub", &b"not a key"[..])];
        let index = signed_index(dir.path(), "trusted", "-sha1", "RSA", "trusted.rsa.pub");
        assert!(matches!(
            verified_index("u", &index, &bad_keys),
            Err(ApkSignatureError::Key { .. })
        ));
    }
}
