//! salve's scanner plugin for Copacetic's update manifests, so the scanner plugins and pipelines
//! that copa users already have keep working.
//!
//! Formats read:
//! - `apiVersion: v1alpha1`: `metadata` and `updates` (and `nodeUpdates`, reported as skipped);
//! - `apiVersion: v1alpha2` and the unversioned manifest: `metadata`, `osupdates` and
//!   `langupdates` (Python packages become library findings, other languages are skipped);
//! - the unversioned manifest of older copa with `updates` instead of `osupdates`;
//! - the report of copa's example scanner plugin (`OSType`, `OSVersion`, `Arch`, `Packages`).

mod convert;
mod model;

use salve_plugin_sdk::{Scanner, ScannerInfo, UpdateManifest, sniff};

/// The copa update-manifest plugin.
pub struct CopaManifest;

impl Scanner for CopaManifest {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            name: "copa-manifest".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Copacetic update manifests (v1alpha1, v1alpha2, unversioned)".into(),
        }
    }

    fn sniff(head: &[u8]) -> u8 {
        if !sniff::is_json_object(head) {
            return 0;
        }
        let versioned = sniff::count_json_keys(head, &["apiVersion"]) == 1;
        let manifest =
            sniff::count_json_keys(head, &["metadata", "updates", "osupdates", "langupdates"]);
        let example_plugin =
            sniff::count_json_keys(head, &["OSType", "OSVersion", "Arch", "Packages"]);
        match (versioned, manifest, example_plugin) {
            (true, 2.., _) => 95,
            (false, 2.., _) => 75,
            (_, _, 3..) => 75,
            _ => 0,
        }
    }

    fn parse(report: &[u8]) -> Result<UpdateManifest, String> {
        convert::parse_report(report)
    }
}

salve_plugin_sdk::export_scanner!(CopaManifest);
