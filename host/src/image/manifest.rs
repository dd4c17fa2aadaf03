//! The OCI (and Docker v2) image documents salve reads and writes: descriptors, manifests and
//! indexes. Fields salve does not know are kept as they were, so a document written back differs
//! only where salve changed it; media types are kept as found.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker v2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker v2 manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The annotation that names a manifest in an OCI layout's index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A reference to content: its media type, digest and size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The content's media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// The content's size in bytes.
    pub size: u64,
    /// The platform, for entries of an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Map<String, Value>>,
    /// Fields salve does not interpret.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A platform in an index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v7`, `v8`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Fields salve does not interpret.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An image manifest (OCI or Docker v2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type, when it states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image configuration.
    pub config: Descriptor,
    /// The layers, bottom first.
    pub layers: Vec<Descriptor>,
    /// Fields salve does not interpret (annotations, subject, ...).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An image index (OCI) or manifest list (Docker v2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The index's media type, when it states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests it lists.
    pub manifests: Vec<Descriptor>,
    /// Fields salve does not interpret.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Descriptor {
    /// A descriptor with no platform, annotations or other fields.
    pub fn new(media_type: &str, digest: &str, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            platform: None,
            annotations: None,
            other: Map::new(),
        }
    }

    /// The value of a string annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key)?.as_str()
    }
}

/// Why [`Index::choose`] found no image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unchosen {
    /// No image has the tag asked for.
    NoSuchTag {
        /// The tags there are.
        known: Vec<String>,
    },
    /// No tag was asked for and there is not exactly one image.
    NotOne {
        /// How many images there are.
        count: usize,
        /// Their tags.
        known: Vec<String>,
    },
}

impl Index {
    /// The image tagged `tag` (by `org.opencontainers.image.ref.name`), or with no tag asked
    /// for, the only image.
    pub fn choose(&self, tag: Option<&str>) -> Result<&Descriptor, Unchosen> {
        let known = || {
            self.manifests
                .iter()
                .filter_map(|descriptor| descriptor.annotation(REF_NAME))
                .map(str::to_string)
                .collect()
        };
        match (tag, self.manifests.as_slice()) {
            (Some(tag), manifests) => manifests
                .iter()
                .find(|descriptor| descriptor.annotation(REF_NAME) == Some(tag))
                .ok_or_else(|| Unchosen::NoSuchTag { known: known() }),
            (None, [only]) => Ok(only),
            (None, manifests) => Err(Unchosen::NotOne {
                count: manifests.len(),
                known: known(),
            }),
        }
    }
}

impl std::fmt::Display for Platform {
    /// `os/architecture[/variant]`, as `--platform` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::plugin::platform::write_platform(
            f,
            &self.os,
            &self.architecture,
            self.variant.as_deref(),
        )
    }
}

/// True for the media types of indexes and manifest lists.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// True for the media types of an image manifest (OCI or Docker v2).
pub fn is_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_chosen_by_tag_or_as_the_only_one() {
        let tagged = |tag: &str| {
            let mut descriptor = Descriptor::new(OCI_MANIFEST, &format!("sha256:{tag}"), 1);
            descriptor.annotations = Some(Map::from_iter([(
                REF_NAME.to_string(),
                Value::String(tag.into()),
            )]));
            descriptor
        };
        let index = |manifests: Vec<Descriptor>| Index {
            schema_version: 2,
            media_type: None,
            manifests,
            other: Map::new(),
        };
        let one = index(vec![tagged("a")]);
        assert_eq!(one.choose(None).unwrap().digest, "sha256:a");
        let two = index(vec![tagged("a"), tagged("b")]);
        assert_eq!(two.choose(Some("b")).unwrap().digest, "sha256:b");
        assert_eq!(
            two.choose(Some("c")),
            Err(Unchosen::NoSuchTag {
                known: vec!["a".into(), "b".into()]
            })
        );
        assert_eq!(
            two.choose(None),
            Err(Unchosen::NotOne {
                count: 2,
                known: vec!["a".into(), "b".into()]
            })
        );
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let text = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":1},
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:bb","size":2,
            "urls":["https://example.invalid/x"]}],
            "annotations":{"org.opencontainers.image.created":"2026-01-01T00:00:00Z"},
            "subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cc","size":3}}"#;
        let manifest: Manifest = serde_json::from_str(text).unwrap();
        assert_eq!(
            manifest.layers[0].other["urls"][0],
            "https://example.invalid/x"
        );
        let again: Value = serde_json::to_value(&manifest).unwrap();
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(again, original);
    }
}
