//! Turning Docker v2 manifests (and manifest lists) into their OCI equivalents, for targets
//! that only hold OCI documents (`oci:` layouts and `oci-archive:` files, as skopeo and umoci
//! read them). Layer and config bytes stay as they are; only the documents naming them change.

use super::manifest::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, Descriptor, Index, Manifest, OCI_INDEX, OCI_MANIFEST,
};
use crate::image::layout::{LayoutError, OciLayout};

/// The OCI media type for a Docker one, or the type itself when it has no Docker meaning.
fn oci_media_type(media_type: &str) -> &str {
    match media_type {
        DOCKER_MANIFEST => OCI_MANIFEST,
        DOCKER_MANIFEST_LIST => OCI_INDEX,
        "application/vnd.docker.container.image.v1+json" => {
            "application/vnd.oci.image.config.v1+json"
        }
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        }
        "application/vnd.docker.image.rootfs.diff.tar" => "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        }
        other => other,
    }
}

/// The OCI form of the image `descriptor` names in `layout` (itself when it already is OCI);
/// new documents are stored in the layout.
pub fn to_oci(layout: &OciLayout, descriptor: &Descriptor) -> Result<Descriptor, LayoutError> {
    let invalid = |error: serde_json::Error| LayoutError::Invalid {
        message: format!("{} is not a readable manifest: {error}", descriptor.digest),
        dir: layout.dir().to_path_buf(),
    };
    let converted = match descriptor.media_type.as_str() {
        DOCKER_MANIFEST => {
            let mut manifest: Manifest =
                serde_json::from_slice(&layout.read_blob(&descriptor.digest)?).map_err(invalid)?;
            manifest.media_type = Some(OCI_MANIFEST.to_string());
            for blob in std::iter::once(&mut manifest.config).chain(&mut manifest.layers) {
                blob.media_type = oci_media_type(&blob.media_type).to_string();
            }
            let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
            layout.put_blob(OCI_MANIFEST, &bytes)?
        }
        DOCKER_MANIFEST_LIST | OCI_INDEX => {
            let mut index: Index =
                serde_json::from_slice(&layout.read_blob(&descriptor.digest)?).map_err(invalid)?;
            let mut changed = descriptor.media_type == DOCKER_MANIFEST_LIST;
            for entry in &mut index.manifests {
                let new = to_oci(layout, entry)?;
                changed |= new.digest != entry.digest;
                entry.media_type = new.media_type;
                entry.digest = new.digest;
                entry.size = new.size;
            }
            if !changed {
                return Ok(descriptor.clone());
            }
            index.media_type = Some(OCI_INDEX.to_string());
            let bytes = serde_json::to_vec(&index).expect("an index serialises");
            layout.put_blob(OCI_INDEX, &bytes)?
        }
        _ => return Ok(descriptor.clone()),
    };
    let mut result = descriptor.clone();
    result.media_type = converted.media_type;
    result.digest = converted.digest;
    result.size = converted.size;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_manifests_and_lists_become_oci_with_the_same_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::open_or_create(dir.path()).unwrap();
        let config = layout
            .put_blob("application/vnd.docker.container.image.v1+json", b"{}")
            .unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{}","size":2}},
            "layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{}","size":2}}]}}"#,
            config.digest, config.digest
        );
        let manifest = layout
            .put_blob(DOCKER_MANIFEST, manifest.as_bytes())
            .unwrap();
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":{},
            "platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            manifest.digest, manifest.size
        );
        let list = layout
            .put_blob(DOCKER_MANIFEST_LIST, list.as_bytes())
            .unwrap();
        let converted = to_oci(&layout, &list).unwrap();
        assert_eq!(converted.media_type, OCI_INDEX);
        let index: Index =
            serde_json::from_slice(&layout.read_blob(&converted.digest).unwrap()).unwrap();
        assert_eq!(index.manifests[0].media_type, OCI_MANIFEST);
        assert_eq!(
            index.manifests[0].platform.as_ref().unwrap().architecture,
            "amd64"
        );
        let inner: Manifest =
            serde_json::from_slice(&layout.read_blob(&index.manifests[0].digest).unwrap()).unwrap();
        assert_eq!(
            inner.layers[0].media_type,
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(inner.layers[0].digest, config.digest);
        assert_eq!(
            inner.config.media_type,
            "application/vnd.oci.image.config.v1+json"
        );
        // OCI documents are left alone.
        let again = to_oci(&layout, &converted).unwrap();
        assert_eq!(again.digest, converted.digest);
    }
}
