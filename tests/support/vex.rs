//! Checking OpenVEX documents against the OpenVEX 0.2.0 schema's rules.

use serde_json::Value;

/// Checks a VEX document against the OpenVEX 0.2.0 schema's rules (required fields, field
/// types, the status values, at least one statement, no unknown fields) and returns its
/// statements.
pub fn check_openvex(document: &Value) -> Vec<Value> {
    let object = document.as_object().unwrap();
    for key in object.keys() {
        assert!(
            [
                "@context",
                "@id",
                "author",
                "role",
                "timestamp",
                "last_updated",
                "version",
                "tooling",
                "statements"
            ]
            .contains(&key.as_str()),
            "unknown field {key}"
        );
    }
    assert_eq!(document["@context"], "https://openvex.dev/ns/v0.2.0");
    assert!(document["@id"].as_str().unwrap().starts_with("https://"));
    assert!(document["author"].is_string());
    assert!(document["version"].as_u64().unwrap() >= 1);
    let timestamp = |value: &Value| {
        let text = value.as_str().unwrap();
        assert!(
            text.len() == 20 && text.ends_with('Z') && &text[10..11] == "T",
            "{text}"
        );
    };
    timestamp(&document["timestamp"]);
    let statements = document["statements"].as_array().unwrap().clone();
    assert!(!statements.is_empty());
    for statement in &statements {
        for key in statement.as_object().unwrap().keys() {
            assert!(
                [
                    "vulnerability",
                    "timestamp",
                    "products",
                    "status",
                    "@id",
                    "version",
                    "last_updated",
                    "supplier",
                    "status_notes",
                    "justification",
                    "impact_statement",
                    "action_statement",
                    "action_statement_timestamp"
                ]
                .contains(&key.as_str()),
                "{key}"
            );
        }
        assert!(statement["vulnerability"]["name"].is_string());
        assert!(
            ["not_affected", "affected", "fixed", "under_investigation"]
                .contains(&statement["status"].as_str().unwrap())
        );
        timestamp(&statement["timestamp"]);
        for product in statement["products"].as_array().unwrap() {
            assert!(product["@id"].as_str().unwrap().starts_with("pkg:oci/"));
            for sub in product["subcomponents"].as_array().unwrap() {
                assert!(sub["@id"].as_str().unwrap().starts_with("pkg:"));
            }
        }
    }
    statements
}
