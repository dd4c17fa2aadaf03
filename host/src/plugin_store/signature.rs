//! Detached signatures of plugin artifacts, in cosign's format for key-pair signing: a manifest
//! tagged `sha256-<hex>.sig` in the artifact's repository, whose layer
//! (`application/vnd.dev.cosign.simplesigning.v1+json`) is a payload naming the signed manifest's
//! digest, and whose layer annotation `dev.cosignproject.cosign/signature` is the base64 of an
//! ECDSA P-256 / SHA-256 signature of the payload's bytes. A signature made by `cosign sign --key`
//! with a P-256 key verifies here, and one made here verifies with `cosign verify --key`.

use super::StoreError;
use crate::image::OciLayout;
use crate::image::digest::sha256;
use crate::image::manifest::{Descriptor, Manifest, OCI_MANIFEST};
use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use serde_json::{Map, Value, json};
use std::path::Path;

/// The media type of a signature's payload layer.
pub const PAYLOAD_LAYER: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// The layer annotation holding the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// The config media type of a signature manifest.
const SIGNATURE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The largest payload salve reads.
pub const MAX_PAYLOAD_BYTES: u64 = 64 << 10;

/// The tag a manifest's signatures are stored under: `sha256-<hex>.sig`.
pub fn signature_tag(manifest_digest: &str) -> String {
    format!("{}.sig", manifest_digest.replacen(':', "-", 1))
}

/// A private key that signs plugins.
pub struct PluginSigner {
    /// The key.
    key: SigningKey,
}

/// A public key plugins are checked against.
pub struct PluginVerifier {
    /// The key.
    key: VerifyingKey,
    /// `sha256:` of its SubjectPublicKeyInfo DER, recorded in lock files.
    fingerprint: String,
}

/// Why a key file cannot be used.
fn key_error(path: &Path, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Key {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl PluginSigner {
    /// Reads an unencrypted P-256 private key in PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what
    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes) or SEC1
    /// (`BEGIN EC PRIVATE KEY`).
    pub fn read(path: &Path) -> Result<PluginSigner, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|error| key_error(path, error))?;
        let key = SigningKey::from_pkcs8_pem(&text)
            .or_else(|_| p256::SecretKey::from_sec1_pem(&text).map(SigningKey::from))
            .map_err(|_| {
                key_error(
                    path,
                    "not an unencrypted P-256 private key in PEM (PKCS#8 or SEC1); cosign's \
                     encrypted key files are not read: export the key with openssl",
                )
            })?;
        Ok(PluginSigner { key })
    }

    /// The base64 signature of `payload`.
    fn sign(&self, payload: &[u8]) -> String {
        let signature: DerSignature = self.key.sign(payload);
        base64::engine::general_purpose::STANDARD.encode(signature.as_bytes())
    }
}

impl PluginVerifier {
    /// Reads a P-256 public key in PEM (`BEGIN PUBLIC KEY`, what `cosign generate-key-pair` and
    /// `openssl pkey -pubout` write).
    pub fn read(path: &Path) -> Result<PluginVerifier, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|error| key_error(path, error))?;
        let key = VerifyingKey::from_public_key_pem(&text)
            .map_err(|_| key_error(path, "not a P-256 public key in PEM (BEGIN PUBLIC KEY)"))?;
        let der = key
            .to_public_key_der()
            .map_err(|error| key_error(path, error))?;
        Ok(PluginVerifier {
            fingerprint: sha256(der.as_bytes()),
            key,
        })
    }

    /// `sha256:` of the key's SubjectPublicKeyInfo DER.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// True when `signature` (base64 of a DER signature) signs `payload`.
    fn verifies(&self, payload: &[u8], signature: &str) -> bool {
        let Ok(der) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
            return false;
        };
        let Ok(signature) = DerSignature::from_bytes(&der) else {
            return false;
        };
        self.key.verify(payload, &signature).is_ok()
    }
}

/// The payload that signs `manifest_digest` in `repository` (`registry/repository`).
fn payload(repository: &str, manifest_digest: &str) -> Vec<u8> {
    json!({
        "critical": {
            "identity": { "docker-reference": repository },
            "image": { "docker-manifest-digest": manifest_digest },
            "type": "cosign container image signature",
        },
        "optional": null,
    })
    .to_string()
    .into_bytes()
}

/// Writes the signature manifest for `manifest_digest` into `layout`, tagged `tag`.
pub fn write(
    layout: &OciLayout,
    tag: &str,
    repository: &str,
    manifest_digest: &str,
    signer: &PluginSigner,
) -> Result<Descriptor, StoreError> {
    let payload = payload(repository, manifest_digest);
    let mut layer = layout.put_blob(PAYLOAD_LAYER, &payload)?;
    let mut annotations = Map::new();
    annotations.insert(
        SIGNATURE_ANNOTATION.into(),
        Value::String(signer.sign(&payload)),
    );
    layer.annotations = Some(annotations);
    let config = json!({
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [layer.digest] },
    });
    let config = layout.put_blob(SIGNATURE_CONFIG, config.to_string().as_bytes())?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        config,
        layers: vec![layer],
        other: Map::new(),
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
    let descriptor = layout.put_blob(OCI_MANIFEST, &bytes)?;
    layout.tag(tag, &descriptor)?;
    Ok(descriptor)
}

/// The payload layers of a signature manifest, each with its signature annotation, of a size
/// salve reads.
pub fn signed_layers(manifest: &[u8]) -> Vec<(Descriptor, String)> {
    let Ok(manifest) = serde_json::from_slice::<Manifest>(manifest) else {
        return Vec::new();
    };
    manifest
        .layers
        .into_iter()
        .filter(|layer| layer.media_type == PAYLOAD_LAYER && layer.size <= MAX_PAYLOAD_BYTES)
        .filter_map(|layer| {
            let signature = layer.annotation(SIGNATURE_ANNOTATION)?.to_string();
            Some((layer, signature))
        })
        .collect()
}

/// True when `payload` is signed by `verifier` with `signature` and names `manifest_digest`.
pub fn accepts(
    verifier: &PluginVerifier,
    payload: &[u8],
    signature: &str,
    manifest_digest: &str,
) -> bool {
    if !verifier.verifies(payload, signature) {
        return false;
    }
    serde_json::from_slice::<Value>(payload).is_ok_and(|value| {
        value["critical"]["image"]["docker-manifest-digest"].as_str() == Some(manifest_digest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key pair made by openssl, as a user would make one.
    fn keys(dir: &Path, name: &str) -> (PluginSigner, PluginVerifier) {
        let private = dir.join(format!("{name}.pem"));
        let public = dir.join(format!("{name}.pub"));
        let run = |args: &[&str]| {
            let status = std::process::Command::new("openssl")
                .args(args)
                .status()
                .unwrap();
            assert!(status.success(), "openssl {args:?}");
        };
        let private_str = private.to_str().unwrap();
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            private_str,
        ]);
        run(&[
            "pkey",
            "-in",
            private_str,
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ]);
        (
            PluginSigner::read(&private).unwrap(),
            PluginVerifier::read(&public).unwrap(),
        )
    }

    #[test]
    fn a_signature_verifies_with_its_key_only_and_for_its_digest_only() {
        let dir = tempfile::tempdir().unwrap();
        let (signer, verifier) = keys(dir.path(), "a");
        let (_, other) = keys(dir.path(), "b");
        let layout = OciLayout::open_or_create(&dir.path().join("layout")).unwrap();
        let digest = format!("sha256:{}", "ab".repeat(32));
        let written = write(&layout, "sig", "127.0.0.1:5000/lines", &digest, &signer).unwrap();
        let manifest = layout.read_blob(&written.digest).unwrap();
        let [(layer, signature)] = signed_layers(&manifest).try_into().unwrap();
        let payload = layout.read_blob(&layer.digest).unwrap();
        assert!(accepts(&verifier, &payload, &signature, &digest));
        assert!(!accepts(&other, &payload, &signature, &digest));
        let another = format!("sha256:{}", "cd".repeat(32));
        assert!(!accepts(&verifier, &payload, &signature, &another));
        assert!(!accepts(&verifier, b"{}", &signature, &digest));
        assert_eq!(
            signature_tag(&digest),
            format!("sha256-{}.sig", "ab".repeat(32))
        );
        assert!(verifier.fingerprint().starts_with("sha256:"));
    }

    #[test]
    fn the_signature_is_plain_ecdsa_that_openssl_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let (signer, _) = keys(dir.path(), "a");
        let payload = payload("127.0.0.1:5000/lines", "sha256:00");
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signer.sign(&payload))
            .unwrap();
        std::fs::write(dir.path().join("payload"), &payload).unwrap();
        std::fs::write(dir.path().join("signature"), signature).unwrap();
        let output = std::process::Command::new("openssl")
            .current_dir(dir.path())
            .args([
                "dgst",
                "-sha256",
                "-verify",
                "a.pub",
                "-signature",
                "signature",
                "payload",
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "Verified OK"
        );
    }

    #[test]
    fn unusable_key_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n").unwrap();
        let error = PluginSigner::read(&path).err().unwrap().to_string();
        assert!(error.contains("export the key with openssl"), "{error}");
        let error = PluginVerifier::read(&path).err().unwrap().to_string();
        assert!(error.contains("not a P-256 public key"), "{error}");
    }
}
