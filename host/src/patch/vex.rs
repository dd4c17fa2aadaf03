//! Step 8's OpenVEX 0.2.0 document: one statement per vulnerability the patch fixed, status
//! `fixed`, the patched image as the product (`pkg:oci/NAME@DIGEST?repository_url=…`) and the
//! updated packages' purls (built by the ecosystem plugins) as its subcomponents.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The OpenVEX context of version 0.2.0.
pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

/// The author when neither `SALVE_VEX_AUTHOR` nor copa's `COPA_VEX_AUTHOR` is set.
const DEFAULT_AUTHOR: &str = "salve";

/// The document's author, from the environment.
pub fn author() -> String {
    ["SALVE_VEX_AUTHOR", "COPA_VEX_AUTHOR"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| DEFAULT_AUTHOR.to_string())
}

/// The purl of the patched image: `repository` is `registry/path/name` (or just a name for
/// images without a registry), `digest` its manifest's or index's digest.
pub fn image_purl(repository: &str, digest: &str) -> String {
    let name = repository
        .rsplit('/')
        .next()
        .unwrap_or(repository)
        .to_ascii_lowercase();
    let version = digest.replace(':', "%3A");
    if repository.contains('/') {
        format!("pkg:oci/{name}@{version}?repository_url={repository}")
    } else {
        format!("pkg:oci/{name}@{version}")
    }
}

/// The document: `fixed` maps each vulnerability id to the purls of the packages whose update
/// fixed it (in any patched platform).
pub fn document(
    product: &str,
    fixed: &BTreeMap<String, Vec<String>>,
    author: &str,
    timestamp: &str,
) -> Value {
    let statements: Vec<Value> = fixed
        .iter()
        .map(|(vulnerability, purls)| {
            let mut purls = purls.clone();
            purls.sort();
            purls.dedup();
            json!({
                "vulnerability": {"@id": vulnerability, "name": vulnerability},
                "timestamp": timestamp,
                "products": [{
                    "@id": product,
                    "subcomponents": purls.iter().map(|purl| json!({"@id": purl})).collect::<Vec<_>>(),
                }],
                "status": "fixed",
            })
        })
        .collect();
    // The id names the content: the same statements about the same image give the same id.
    let mut hasher = Sha256::new();
    hasher.update(product.as_bytes());
    hasher.update(serde_json::to_vec(&fixed).expect("JSON serialises"));
    let id = format!(
        "https://openvex.dev/docs/public/vex-{}",
        hex::encode(hasher.finalize())
    );
    json!({
        "@context": CONTEXT,
        "@id": id,
        "author": author,
        "timestamp": timestamp,
        "version": 1,
        "tooling": format!("salve {}", env!("CARGO_PKG_VERSION")),
        "statements": statements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_per_vulnerability_with_its_packages() {
        let mut fixed = BTreeMap::new();
        fixed.insert(
            "CVE-2024-0001".to_string(),
            vec![
                "pkg:deb/debian/libssl3@3.0.2?arch=amd64".to_string(),
                "pkg:deb/debian/openssl@3.0.2?arch=amd64".to_string(),
            ],
        );
        fixed.insert(
            "CVE-2024-0002".to_string(),
            vec!["pkg:deb/debian/zlib1g@1.3?arch=amd64".to_string()],
        );
        let product = image_purl("127.0.0.1:5000/team/app", "sha256:ab");
        assert_eq!(
            product,
            "pkg:oci/app@sha256%3Aab?repository_url=127.0.0.1:5000/team/app"
        );
        let doc = document(&product, &fixed, "me", "2026-11-27T10:00:00Z");
        assert_eq!(doc["@context"], CONTEXT);
        let statements = doc["statements"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0]["status"], "fixed");
        assert_eq!(
            statements[0]["products"][0]["subcomponents"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let again = document(&product, &fixed, "me", "2026-11-28T10:00:00Z");
        assert_eq!(
            doc["@id"], again["@id"],
            "the id depends on the content, not the time"
        );
    }
}
