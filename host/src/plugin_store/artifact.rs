//! A plugin as an OCI artifact, in the CNCF Wasm OCI artifact layout: an image manifest whose
//! config has the media type `application/vnd.wasm.config.v0+json` and whose only layer is the
//! component, `application/wasm`.

use super::StoreError;
use crate::image::layout::{LayoutError, OciLayout};
use crate::image::manifest::{Descriptor, Manifest, OCI_MANIFEST};
use serde_json::{Map, Value, json};

/// The config media type of a Wasm artifact.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";

/// The media type of a Wasm artifact's layer.
pub const WASM_LAYER: &str = "application/wasm";

/// The largest component salve fetches from a registry.
pub const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// The largest artifact config salve fetches.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// What the artifact says about the plugin it carries (from the loaded plugin).
#[derive(Clone, Debug)]
pub struct ArtifactFacts {
    /// The plugin's name (the layer's file name is `NAME.wasm`).
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The plugin's one-line summary.
    pub summary: String,
    /// The interface it exports, `salve:plugin/scanner@0.4.0`.
    pub export: String,
    /// When the artifact was made, RFC 3339.
    pub created: String,
}

/// Writes the artifact for `component` into `layout` and tags its manifest `tag`.
pub fn write(
    layout: &OciLayout,
    tag: &str,
    component: &[u8],
    facts: &ArtifactFacts,
) -> Result<Descriptor, LayoutError> {
    let mut layer = layout.put_blob(WASM_LAYER, component)?;
    layer.annotations = Some(annotations(&[(
        "org.opencontainers.image.title",
        &format!("{}.wasm", facts.name),
    )]));
    let config = json!({
        "created": facts.created,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer.digest],
        "component": { "exports": [facts.export], "imports": [] },
    });
    let config = layout.put_blob(WASM_CONFIG, config.to_string().as_bytes())?;
    let mut other = Map::new();
    other.insert(
        "annotations".into(),
        Value::Object(annotations(&[
            ("org.opencontainers.image.title", &facts.name),
            ("org.opencontainers.image.version", &facts.version),
            ("org.opencontainers.image.description", &facts.summary),
            ("org.opencontainers.image.created", &facts.created),
        ])),
    );
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        config,
        layers: vec![layer],
        other,
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
    let descriptor = layout.put_blob(OCI_MANIFEST, &bytes)?;
    layout.tag(tag, &descriptor)?;
    Ok(descriptor)
}

/// A JSON object of string annotations.
fn annotations(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), Value::String(value.to_string())))
        .collect()
}

/// Checks that a manifest fetched for `reference` is a plugin artifact salve takes, before any
/// of its blobs is fetched: an OCI image manifest, the Wasm config, one `application/wasm` layer
/// of a size salve accepts. Returns the config's and the component's descriptors.
pub fn check_manifest(
    reference: &str,
    bytes: &[u8],
) -> Result<(Descriptor, Descriptor), StoreError> {
    let refuse = |reason: String| StoreError::NotAPlugin {
        reference: reference.to_string(),
        reason,
    };
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|error| {
        refuse(format!(
            "its manifest is not an OCI image manifest: {error}"
        ))
    })?;
    let media_type = manifest.media_type.as_deref().unwrap_or(OCI_MANIFEST);
    if media_type != OCI_MANIFEST {
        return Err(refuse(format!(
            "its manifest has media type {media_type:?}, not {OCI_MANIFEST:?}"
        )));
    }
    if manifest.config.media_type != WASM_CONFIG {
        return Err(refuse(format!(
            "its config has media type {:?}, not {WASM_CONFIG:?} (a container image, or another \
             kind of artifact?)",
            manifest.config.media_type
        )));
    }
    if manifest.config.size > MAX_CONFIG_BYTES {
        return Err(refuse(format!(
            "its config is {} bytes; salve takes at most {MAX_CONFIG_BYTES}",
            manifest.config.size
        )));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(refuse(format!(
            "it has {} layers; a plugin artifact has exactly one, the component",
            manifest.layers.len()
        )));
    };
    if layer.media_type != WASM_LAYER {
        return Err(refuse(format!(
            "its layer has media type {:?}, not {WASM_LAYER:?}",
            layer.media_type
        )));
    }
    if layer.size > MAX_COMPONENT_BYTES {
        return Err(refuse(format!(
            "its component is {} bytes; salve takes at most {MAX_COMPONENT_BYTES}",
            layer.size
        )));
    }
    Ok((manifest.config.clone(), layer.clone()))
}

/// Checks that the config names the layer it comes with (`layerDigests`), as the layout asks.
pub fn check_config(reference: &str, config: &[u8], layer: &Descriptor) -> Result<(), StoreError> {
    let value: Value = serde_json::from_slice(config).map_err(|error| StoreError::NotAPlugin {
        reference: reference.to_string(),
        reason: format!("its config is not JSON: {error}"),
    })?;
    let digests = value["layerDigests"].as_array();
    if digests.is_some_and(|digests| digests.iter().any(|d| d.as_str() != Some(&layer.digest))) {
        return Err(StoreError::NotAPlugin {
            reference: reference.to_string(),
            reason: format!(
                "its config's layerDigests do not name its layer {}",
                layer.digest
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::digest::sha256;

    fn facts() -> ArtifactFacts {
        ArtifactFacts {
            name: "lines".into(),
            version: "0.1.0".into(),
            summary: "plain-text reports".into(),
            export: "salve:plugin/scanner@0.4.0".into(),
            created: "2026-12-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_written_artifact_passes_its_own_checks() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::open_or_create(dir.path()).unwrap();
        let descriptor = write(&layout, "v1", b"\0asm component", &facts()).unwrap();
        let manifest = layout.read_blob(&descriptor.digest).unwrap();
        let (config, layer) = check_manifest("test", &manifest).unwrap();
        assert_eq!(layer.digest, sha256(b"\0asm component"));
        assert_eq!(
            layer.annotation("org.opencontainers.image.title"),
            Some("lines.wasm")
        );
        let config = layout.read_blob(&config.digest).unwrap();
        check_config("test", &config, &layer).unwrap();
        let config: Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(
            config["component"]["exports"][0],
            "salve:plugin/scanner@0.4.0"
        );
        assert_eq!(config["architecture"], "wasm");
    }

    #[test]
    fn container_images_and_other_artifacts_are_refused() {
        let manifest = |config: &str, layers: &str| {
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}",
                "config":{{"mediaType":"{config}","digest":"sha256:aa","size":2}},
                "layers":[{layers}]}}"#
            )
        };
        let wasm = format!(r#"{{"mediaType":"{WASM_LAYER}","digest":"sha256:bb","size":9}}"#);
        let tar = r#"{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:bb","size":9}"#;
        let image = manifest("application/vnd.oci.image.config.v1+json", &wasm);
        let error = check_manifest("r", image.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains("its config has media type"), "{error}");
        let tar_layer = manifest(WASM_CONFIG, tar);
        let error = check_manifest("r", tar_layer.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains("its layer has media type"), "{error}");
        let two = manifest(WASM_CONFIG, &format!("{wasm},{wasm}"));
        let error = check_manifest("r", two.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("it has 2 layers"), "{error}");
        let huge = manifest(
            WASM_CONFIG,
            &format!(
                r#"{{"mediaType":"{WASM_LAYER}","digest":"sha256:bb","size":{}}}"#,
                1u64 << 40
            ),
        );
        let error = check_manifest("r", huge.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains("salve takes at most"), "{error}");
        assert!(check_manifest("r", manifest(WASM_CONFIG, &wasm).as_bytes()).is_ok());
    }
}
