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

    fn sniff(report: &[u8]) -> u8 {
        if !sniff::is_json_object(report) {
            return 0;
        }
        match sniff::count_json_keys(report, &["matches", "source", "distro", "descriptor"]) {
            4 => 95,
            3 => 80,
            2 if sniff::count_json_keys(report, &["matches"]) == 1 => 60,
            _ => 0,
        }
    }

    fn parse(report: &[u8]) -> Result<UpdateManifest, String> {
        convert::parse_report(report)
    }
}

salve_plugin_sdk::export_scanner!(Grype);
