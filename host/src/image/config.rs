//! Editing an image configuration: adding a layer's diff id and history entry, and labels.
//! Fields salve does not touch are kept as they were.

use serde_json::{Map, Value, json};
use thiserror::Error;

/// Why a configuration could not be edited.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// It is not JSON.
    #[error("the image configuration is not JSON: {0}")]
    NotJson(serde_json::Error),
    /// A part salve edits has another shape than the image spec gives it.
    #[error("the image configuration's {0}")]
    Shape(&'static str),
}

/// Adds a layer on top: its diff id to `rootfs.diff_ids`, an entry to `history`, and the given
/// labels (and the creation time) to the configuration.
pub fn add_layer(
    config: &[u8],
    diff_id: &str,
    created: &str,
    created_by: &str,
    labels: &[(&str, &str)],
) -> Result<Vec<u8>, ConfigError> {
    let mut config: Value = serde_json::from_slice(config).map_err(ConfigError::NotJson)?;
    let object = config
        .as_object_mut()
        .ok_or(ConfigError::Shape("top level is not a JSON object"))?;
    let rootfs = object
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    rootfs
        .get_mut("diff_ids")
        .and_then(Value::as_array_mut)
        .ok_or(ConfigError::Shape("rootfs has no diff_ids list"))?
        .push(Value::String(diff_id.to_string()));
    let history = object.entry("history").or_insert_with(|| json!([]));
    history
        .as_array_mut()
        .ok_or(ConfigError::Shape("history is not a list"))?
        .push(json!({"created": created, "created_by": created_by, "comment": "salve"}));
    object.insert("created".into(), Value::String(created.to_string()));
    let inner = object.entry("config").or_insert_with(|| json!({}));
    let inner = inner
        .as_object_mut()
        .ok_or(ConfigError::Shape("config is not an object"))?;
    let label_map = inner
        .entry("Labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if label_map.is_null() {
        *label_map = Value::Object(Map::new());
    }
    let label_map = label_map
        .as_object_mut()
        .ok_or(ConfigError::Shape("labels are not an object"))?;
    for (key, value) in labels {
        label_map.insert(key.to_string(), Value::String(value.to_string()));
    }
    Ok(serde_json::to_vec(&config).expect("JSON serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_the_layer_history_and_labels_and_keeps_the_rest() {
        let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Labels":null},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"base"}],"x-other":1}"#;
        let out = add_layer(
            config,
            "sha256:bb",
            "2026-11-27T10:00:00Z",
            "salve patch",
            &[("sh.salve.patch.layer", "sha256:bb")],
        )
        .unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["rootfs"]["diff_ids"], json!(["sha256:aa", "sha256:bb"]));
        assert_eq!(out["history"][1]["created_by"], "salve patch");
        assert_eq!(out["config"]["Labels"]["sh.salve.patch.layer"], "sha256:bb");
        assert_eq!(out["config"]["Env"][0], "PATH=/bin");
        assert_eq!(out["x-other"], 1);
        assert_eq!(out["created"], "2026-11-27T10:00:00Z");
        assert!(add_layer(b"[]", "sha256:bb", "t", "x", &[]).is_err());
    }
}
