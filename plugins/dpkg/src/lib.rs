//! salve's ecosystem plugin for Debian and Ubuntu images: dpkg versions, apt and distroless
//! (`status.d`) images, Chiseled images (Chisel's manifest, patched natively), plans, package
//! databases and purls.

mod chisel;
mod detect;
mod eol;
mod native;
mod plan;
mod purl;
mod status;
mod tooling;
pub use salve_plugin_sdk::versions::deb as version;

use salve_plugin_sdk::{
    Ecosystem, EcosystemInfo, ImageFile, InstallRequest, InstallStep, InstalledPackage,
    NativeError, NativeRequest, OsInfo, PackageClass, PlanRequest, Platform, Resolution, Target,
    UpdatePlan,
};
use std::cmp::Ordering;

/// The dpkg ecosystem plugin.
pub struct Dpkg;

impl Ecosystem for Dpkg {
    fn describe() -> EcosystemInfo {
        EcosystemInfo {
            name: "dpkg".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary:
                "Debian and Ubuntu: apt images, distroless status.d images and Chiseled images"
                    .into(),
            purl_type: "deb".into(),
            class: PackageClass::Os,
            os_ids: detect::OS_IDS.iter().map(|id| id.to_string()).collect(),
        }
    }

    fn probe_paths() -> Vec<String> {
        detect::probe_paths()
    }

    fn detect(os: OsInfo, files: Vec<ImageFile>) -> Option<Target> {
        match detect::detect(&os, &files) {
            Ok(target) => target,
            Err(error) => Some(Target {
                manager: "dpkg".into(),
                distroless: false,
                held: Vec::new(),
                runtime: None,
                warnings: vec![format!("the dpkg database could not be read: {error}")],
            }),
        }
    }

    fn compare_versions(a: &str, b: &str) -> Result<Ordering, String> {
        version::compare_text(a, b)
    }

    fn tooling_image(
        os: OsInfo,
        _platform: Platform,
        _target: Target,
        update_all: bool,
    ) -> Option<String> {
        tooling::image(&os, update_all)
    }

    fn plan(request: PlanRequest) -> Result<UpdatePlan, String> {
        plan::plan(&request)
    }

    fn installed(files: Vec<ImageFile>) -> Result<Vec<InstalledPackage>, String> {
        detect::installed(&files)
    }

    fn purl(pkg: InstalledPackage, os: OsInfo, platform: Platform) -> String {
        purl::purl(&pkg, &os, &platform)
    }

    fn native_paths() -> Vec<String> {
        native::paths()
    }

    fn native_resolve(request: NativeRequest) -> Result<Resolution, NativeError> {
        native::resolve(&request)
    }

    fn native_install(request: InstallRequest) -> Result<InstallStep, NativeError> {
        native::install(&request)
    }
}

salve_plugin_sdk::export_ecosystem!(Dpkg);
