//! OpenPGP checks of repository files: an `InRelease` is a cleartext-signed message, good when
//! one of its signatures verifies against a key (or a bound subkey) of the keyrings the image
//! trusts for it. Keyrings are binary (`.gpg`) or armored (`.asc`) files; signatures over SHA-1
//! or MD5 are not accepted, as apt no longer accepts them.

use pgp::composed::{CleartextSignedMessage, PublicOrSecret, SignedPublicKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::Signature;

/// Why a signed file was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The file is not a cleartext-signed message.
    #[error("{url} is not an OpenPGP cleartext-signed file: {error}")]
    NotSigned {
        /// The file.
        url: String,
        /// What the parser said.
        error: String,
    },
    /// A keyring could not be read.
    #[error("the keyring {path} could not be read: {error}")]
    Keyring {
        /// The keyring's path in the image.
        path: String,
        /// What the parser said.
        error: String,
    },
    /// No signature verified against the trusted keys.
    #[error(
        "{url} is not signed by a key the image trusts for it ({keyrings}); it was changed, or \
         comes from another repository"
    )]
    Untrusted {
        /// The file.
        url: String,
        /// The keyrings tried.
        keyrings: String,
    },
}

/// The public keys of keyring files (binary or armored), each with its path.
pub fn read_keyrings(keyrings: &[(&str, &[u8])]) -> Result<Vec<SignedPublicKey>, SignatureError> {
    let mut keys = Vec::new();
    for (path, bytes) in keyrings {
        let fail = |error: pgp::errors::Error| SignatureError::Keyring {
            path: path.to_string(),
            error: error.to_string(),
        };
        let (parsed, _) = PublicOrSecret::from_reader_many(*bytes).map_err(fail)?;
        for key in parsed {
            keys.push(match key.map_err(fail)? {
                PublicOrSecret::Public(key) => key,
                PublicOrSecret::Secret(key) => key.to_public_key(),
            });
        }
    }
    Ok(keys)
}

/// The text `bytes` (an `InRelease`) signs, when a signature verifies against one of `keys`.
pub fn verified_text(
    url: &str,
    bytes: &[u8],
    keys: &[SignedPublicKey],
    keyring_names: &[String],
) -> Result<String, SignatureError> {
    let not_signed = |error: String| SignatureError::NotSigned {
        url: url.to_string(),
        error,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| not_signed("it is not UTF-8".into()))?;
    let (message, _) =
        CleartextSignedMessage::from_string(text).map_err(|error| not_signed(error.to_string()))?;
    let signed = message.signed_text();
    let good = message
        .signatures()
        .iter()
        .filter(|signature| strong(signature))
        .any(|signature| {
            keys.iter().any(|key| {
                signature
                    .verify(&key.primary_key, signed.as_bytes())
                    .is_ok()
                    || key.public_subkeys.iter().any(|subkey| {
                        subkey.verify_bindings(&key.primary_key).is_ok()
                            && signature.verify(&subkey.key, signed.as_bytes()).is_ok()
                    })
            })
        });
    if !good {
        return Err(SignatureError::Untrusted {
            url: url.to_string(),
            keyrings: keyring_names.join(", "),
        });
    }
    Ok(signed.replace("\r\n", "\n"))
}

/// Whether a signature's hash is one apt accepts.
fn strong(signature: &Signature) -> bool {
    !matches!(
        signature.hash_alg(),
        None | Some(HashAlgorithm::Sha1 | HashAlgorithm::Md5 | HashAlgorithm::Ripemd160)
    )
}
