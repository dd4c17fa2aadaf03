//! salve's scanner plugin for CycloneDX vulnerability reports: Trivy's
//! (`trivy image --format cyclonedx --scanners vuln`) and Grype's (`grype IMAGE -o cyclonedx-json`).

mod convert;
mod model;

use salve_plugin_sdk::{Scanner, ScannerInfo, UpdateManifest, sniff};

/// The CycloneDX scanner plugin.
pub struct CycloneDx;

impl Scanner for CycloneDx {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            name: "cyclonedx".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "CycloneDX 1.4-1.7 JSON with vulnerabilities (Trivy's and Grype's): deb, \
                      rpm, apk and Python packages"
                .into(),
        }
    }

    fn sniff(head: &[u8]) -> u8 {
        if !sniff::is_json_object(head) || sniff::count_json_keys(head, &["bomFormat"]) == 0 {
            return 0;
        }
        let named = head
            .windows(b"\"CycloneDX\"".len())
            .any(|w| w == b"\"CycloneDX\"");
        match (
            named,
            sniff::count_json_keys(head, &["specVersion", "vulnerabilities", "components"]),
        ) {
            (true, 2..) => 95,
            (true, _) => 85,
            (false, _) => 30,
        }
    }

    fn parse(report: &[u8]) -> Result<UpdateManifest, String> {
        convert::parse_report(report)
    }
}

salve_plugin_sdk::export_scanner!(CycloneDx);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_cyclonedx_documents_only() {
        let head = br#"{"$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
            "bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": "urn:uuid:x",
            "metadata": {"#;
        assert_eq!(CycloneDx::sniff(head), 85);
        assert_eq!(
            CycloneDx::sniff(br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]"#),
            95
        );
        assert_eq!(
            CycloneDx::sniff(br#"{"SchemaVersion": 2, "Results": []}"#),
            0
        );
        assert_eq!(CycloneDx::sniff(br#"{"spdxVersion": "SPDX-2.3"}"#), 0);
    }
}
