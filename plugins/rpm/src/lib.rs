//! salve's ecosystem plugin for RPM images: rpm versions, tdnf/dnf/yum/microdnf images, images
//! with an rpm database and no manager, distroless Azure Linux / CBL-Mariner manifests, plans,
//! package lists and purls.

mod berkeley;
mod database;
mod detect;
mod eol;
mod header;
mod manifest;
mod plan;
mod purl;
mod sqlite;
mod tooling;
pub use salve_plugin_sdk::versions::rpm as version;

use salve_plugin_sdk::{
    Ecosystem, EcosystemInfo, ImageFile, InstalledPackage, OsInfo, PackageClass, PlanRequest,
    Platform, Target, UpdatePlan, files,
};
use std::cmp::Ordering;

/// The rpm ecosystem plugin.
pub struct Rpm;

impl Ecosystem for Rpm {
    fn describe() -> EcosystemInfo {
        EcosystemInfo {
            name: "rpm".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "RPM distributions: tdnf, dnf, yum, microdnf, rpm-only and distroless images"
                .into(),
            purl_type: "rpm".into(),
            class: PackageClass::Os,
            os_ids: detect::OS_IDS.iter().map(|id| id.to_string()).collect(),
        }
    }

    fn probe_paths() -> Vec<String> {
        detect::probe_paths()
    }

    fn detect(os: OsInfo, files: Vec<ImageFile>) -> Option<Target> {
        detect::detect(&os, &files)
    }

    fn compare_versions(a: &str, b: &str) -> Result<Ordering, String> {
        version::compare_text(a, b)
    }

    fn tooling_image(
        os: OsInfo,
        _platform: Platform,
        _target: Target,
        _update_all: bool,
    ) -> Option<String> {
        tooling::image(&os)
    }

    fn plan(request: PlanRequest) -> Result<UpdatePlan, String> {
        plan::plan(&request)
    }

    fn installed(files: Vec<ImageFile>) -> Result<Vec<InstalledPackage>, String> {
        let has = |path: &str| {
            files
                .iter()
                .any(|file| file.path == path && file.content.is_some())
        };
        // What the plan's own query wrote, else the rpm database itself, else the distroless
        // manifest: one list, never two added together.
        if has(plan::RESULTS) {
            return files::parse_texts(&files, |path| path == plan::RESULTS, manifest::parse);
        }
        if let Some(packages) = database::installed(&files)? {
            return Ok(packages);
        }
        files::parse_texts(&files, |path| path == detect::MANIFEST_2, manifest::parse)
    }

    fn purl(pkg: InstalledPackage, os: OsInfo, platform: Platform) -> String {
        purl::purl(&pkg, &os, &platform)
    }
}

salve_plugin_sdk::export_ecosystem!(Rpm);
