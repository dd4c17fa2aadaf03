//! salve's scanner plugin for Grype's JSON reports (`grype IMAGE -o json`).

mod convert;
mod model;

use salve_plugin_sdk::{Scanner, ScannerInfo, UpdateManifest, sniff};

/// The Grype scanner plugin.
pub struct Grype;

impl Scanner for Grype {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            name: "grype".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Grype JSON reports: deb, rpm, apk and Python packages".into(),
        }
    }

    fn sniff(head: &[u8]) -> u8 {
        if !sniff::is_json_object(head) || sniff::count_json_keys(head, &["matches"]) == 0 {
            return 0;
        }
        // `matches` comes first in Grype's output and can be megabytes long, so the top-level
        // keys after it are often beyond the head; the keys of a match are not.
        let inside = [
            "vulnerability",
            "artifact",
            "matchDetails",
            "relatedVulnerabilities",
        ];
        let outside = ["source", "distro", "descriptor"];
        match sniff::count_json_keys(head, &inside) + sniff::count_json_keys(head, &outside) {
            5.. => 95,
            3 | 4 => 85,
            _ => 40,
        }
    }

    fn parse(report: &[u8]) -> Result<UpdateManifest, String> {
        convert::parse_report(report)
    }
}

salve_plugin_sdk::export_scanner!(Grype);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_report_whose_head_holds_only_matches() {
        let head = br#"{
 "matches": [
  {
   "vulnerability": {"id": "CVE-2024-1", "fix": {"versions": [], "state": "not-fixed"}},
   "relatedVulnerabilities": [],
   "matchDetails": [],
   "artifact": {"name": "bash""#;
        assert_eq!(Grype::sniff(head), 85);
        assert_eq!(Grype::sniff(br#"{"SchemaVersion": 2, "Results": []}"#), 0);
        assert_eq!(Grype::sniff(b"[]"), 0);
    }
}
