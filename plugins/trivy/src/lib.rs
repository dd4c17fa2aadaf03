//! salve's scanner plugin for Trivy's JSON reports (`trivy image --format json`, schema 2).

mod convert;
mod model;

use salve_plugin_sdk::{Scanner, ScannerInfo, UpdateManifest, sniff};

/// The Trivy scanner plugin.
pub struct Trivy;

impl Scanner for Trivy {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            name: "trivy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Trivy JSON reports (schema 2): OS packages and Python packages".into(),
        }
    }

    fn sniff(head: &[u8]) -> u8 {
        if !sniff::is_json_object(head) {
            return 0;
        }
        match sniff::count_json_keys(head, &["SchemaVersion", "ArtifactName", "Results"]) {
            3 => 95,
            2 => 70,
            _ => 0,
        }
    }

    fn parse(report: &[u8]) -> Result<UpdateManifest, String> {
        convert::parse_report(report)
    }
}

salve_plugin_sdk::export_scanner!(Trivy);
