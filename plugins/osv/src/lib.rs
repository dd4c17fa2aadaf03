//! salve's scanner plugin for OSV-Scanner's JSON output (`osv-scanner scan image --format json`
//! and `osv-scanner scan source --format json`, versions 1 and 2): OSV records with affected
//! ranges, read for the package's own ecosystem and release.

mod convert;
mod ecosystem;
mod model;
mod range;

use salve_plugin_sdk::{Scanner, ScannerInfo, UpdateManifest, sniff};

/// The OSV-Scanner plugin.
pub struct Osv;

impl Scanner for Osv {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            name: "osv".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "OSV-Scanner JSON output: Debian, Ubuntu, Alpine, RPM distributions' and \
                      Python packages, fixes from the OSV records' ranges"
                .into(),
        }
    }

    fn sniff(head: &[u8]) -> u8 {
        if !sniff::is_json_object(head) || sniff::count_json_keys(head, &["results"]) == 0 {
            return 0;
        }
        // `results` comes first and holds whole OSV records; the keys of its first package
        // are within the head.
        let inside = ["source", "packages", "package", "ecosystem", "affected"];
        match sniff::count_json_keys(head, &inside) {
            4.. => 95,
            2 | 3 => 80,
            _ => 20,
        }
    }

    fn parse(report: &[u8]) -> Result<UpdateManifest, String> {
        convert::parse_report(report)
    }
}

salve_plugin_sdk::export_scanner!(Osv);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_osv_scanner_output_only() {
        let head = br#"{"results": [{"source": {"path": "/var/lib/dpkg/status", "type": "os"},
            "packages": [{"package": {"name": "glibc", "ecosystem": "Debian:12"},
            "vulnerabilities": [{"id": "DSA-1", "affected": ["#;
        assert_eq!(Osv::sniff(head), 95);
        assert_eq!(
            Osv::sniff(br#"{"results": [], "experimental_config": {}}"#),
            20
        );
        assert_eq!(Osv::sniff(br#"{"SchemaVersion": 2, "Results": []}"#), 0);
        assert_eq!(Osv::sniff(br#"{"matches": []}"#), 0);
    }
}
