//! salve's ecosystem plugin for Alpine images: apk versions, detection, plans, the apk database,
//! purls, and native installation (signed indexes, apk's resolution, the database written as
//! apk-tools writes it). apk-tools runs only inside the image, so the local engine refuses an
//! Alpine image without apk; the native engine patches it.

mod database;
pub mod native;
pub use salve_plugin_sdk::versions::apk as version;

use database::INSTALLED;
use salve_plugin_sdk::purl::encode;
use salve_plugin_sdk::{
    Ecosystem, EcosystemInfo, FileKind, ImageFile, InstallRequest, InstallStep, InstalledPackage,
    NativeError, NativeRequest, OsInfo, PackageClass, PlanRequest, Platform, Resolution, Step,
    Target, UpdatePlan, files,
};
use std::cmp::Ordering;

/// apk's command in an image.
const APK: &str = "/sbin/apk";

/// Alpine branches past their end of support (each branch gets two years).
const END_OF_LIFE: &[&str] = &[
    "3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12",
    "3.13", "3.14", "3.15", "3.16", "3.17", "3.18", "3.19", "3.20", "3.21",
];

/// The apk ecosystem plugin.
pub struct Apk;

impl Ecosystem for Apk {
    fn describe() -> EcosystemInfo {
        EcosystemInfo {
            name: "apk".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Alpine Linux images with apk".into(),
            purl_type: "apk".into(),
            class: PackageClass::Os,
            os_ids: vec!["alpine".into()],
        }
    }

    fn probe_paths() -> Vec<String> {
        vec![INSTALLED.into(), APK.into()]
    }

    fn detect(os: OsInfo, files: Vec<ImageFile>) -> Option<Target> {
        if os.id != "alpine" {
            return None;
        }
        let present = |path: &str| {
            files
                .iter()
                .any(|file| file.path == path && file.kind != FileKind::Missing)
        };
        if !present(INSTALLED) {
            return None;
        }
        Some(Target {
            manager: "apk".into(),
            distroless: !present(APK),
            held: Vec::new(),
            runtime: None,
            warnings: end_of_life_warning(&os).into_iter().collect(),
        })
    }

    fn compare_versions(a: &str, b: &str) -> Result<Ordering, String> {
        version::compare_text(a, b)
    }

    fn tooling_image(
        _os: OsInfo,
        _platform: Platform,
        _target: Target,
        _update_all: bool,
    ) -> Option<String> {
        None
    }

    fn plan(request: PlanRequest) -> Result<UpdatePlan, String> {
        if request.target.distroless {
            return Err(
                "this Alpine image has an apk database but no apk: salve patches Alpine \
                        images with the image's own apk, since no tooling image can run apk-tools \
                        into another root with the image's keys and repositories; rebuild the \
                        image from a base that keeps apk, or patch its build"
                    .into(),
            );
        }
        let mut argv: Vec<String> = ["apk", "upgrade", "--no-cache"].map(String::from).into();
        for update in &request.updates {
            if !is_package_name(&update.package) {
                return Err(format!(
                    "{:?} is not an Alpine package name",
                    update.package
                ));
            }
            version::validate(&update.fixed_version)
                .map_err(|error| format!("package {}: {error}", update.package))?;
            if !argv.contains(&update.package) {
                argv.push(update.package.clone());
            }
        }
        Ok(UpdatePlan {
            steps: vec![Step {
                argv,
                env: Vec::new(),
                network: true,
                on_failure: Some(format!(
                    "the Alpine {} repositories could not be read; if the branch is end of \
                     life, upgrade the base image",
                    request.os.version_id
                )),
            }],
            exclude_paths: vec!["/var/cache/apk".into()],
            database_paths: vec![INSTALLED.into()],
            warnings: Vec::new(),
        })
    }

    fn installed(files: Vec<ImageFile>) -> Result<Vec<InstalledPackage>, String> {
        files::parse_texts(
            &files,
            |path| path == INSTALLED,
            |text| {
                Ok(database::parse(text)?
                    .into_iter()
                    .map(|package| InstalledPackage {
                        name: package.name,
                        version: package.version,
                        architecture: package.architecture,
                        location: None,
                    })
                    .collect())
            },
        )
    }

    fn native_paths() -> Vec<String> {
        native::paths()
    }

    fn native_resolve(request: NativeRequest) -> Result<Resolution, NativeError> {
        native::resolve(&request)
    }

    fn native_install(request: InstallRequest) -> Result<InstallStep, NativeError> {
        native::install::install(&request)
    }

    fn purl(pkg: InstalledPackage, os: OsInfo, platform: Platform) -> String {
        format!(
            "pkg:apk/alpine/{}@{}?arch={}&distro={}",
            encode(&pkg.name),
            encode(&pkg.version),
            encode(
                pkg.architecture
                    .as_deref()
                    .unwrap_or(&platform.architecture)
            ),
            encode(&os.version_id)
        )
    }
}

/// Alpine package names: letters, digits and `._+-`, starting with a letter or digit.
fn is_package_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
}

/// A warning with advice when the Alpine branch is end of life.
fn end_of_life_warning(os: &OsInfo) -> Option<String> {
    let branch: Vec<&str> = os.version_id.split('.').take(2).collect();
    let branch = branch.join(".");
    END_OF_LIFE.contains(&branch.as_str()).then(|| {
        format!(
            "Alpine {branch} is end of life and gets no security updates. Upgrade the base image \
             to a supported Alpine branch."
        )
    })
}

salve_plugin_sdk::export_ecosystem!(Apk);

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{self, os, plan_request, target, update};

    fn alpine(version: &str) -> OsInfo {
        os("alpine", version)
    }

    fn file(path: &str) -> ImageFile {
        testing::file(path, "P:musl\nV:1.2.4-r2\nA:x86_64\n")
    }

    fn request(distroless: bool, updates: &[(&str, &str)]) -> PlanRequest {
        let target = Target {
            distroless,
            ..target("apk")
        };
        let updates = updates
            .iter()
            .map(|(package, fixed)| update(package, fixed))
            .collect();
        plan_request(alpine("3.22.1"), target, updates)
    }

    #[test]
    fn detects_alpine_with_and_without_apk() {
        let target = Apk::detect(alpine("3.22.1"), vec![file(INSTALLED), file(APK)]).unwrap();
        assert!(!target.distroless);
        assert!(target.warnings.is_empty());
        let target = Apk::detect(alpine("3.14.0"), vec![file(INSTALLED)]).unwrap();
        assert!(target.distroless);
        assert!(target.warnings[0].contains("Alpine 3.14 is end of life"));
        assert!(Apk::detect(alpine("3.22.1"), vec![file(APK)]).is_none());
    }

    #[test]
    fn plans_apk_upgrade_and_refuses_images_without_apk() {
        let plan = Apk::plan(request(
            false,
            &[
                ("musl", "1.2.4-r3"),
                ("musl", "1.2.4-r4"),
                ("busybox", "1.36.1-r16"),
            ],
        ))
        .unwrap();
        assert_eq!(
            plan.steps[0].argv,
            ["apk", "upgrade", "--no-cache", "musl", "busybox"]
        );
        assert_eq!(plan.database_paths, [INSTALLED]);
        let all = Apk::plan(request(false, &[])).unwrap();
        assert_eq!(all.steps[0].argv, ["apk", "upgrade", "--no-cache"]);
        let error = Apk::plan(request(true, &[])).unwrap_err();
        assert!(error.contains("no apk"), "{error}");
        let request = request(false, &[]);
        assert!(
            Apk::tooling_image(alpine("3.22.1"), request.platform, request.target, false).is_none()
        );
    }

    #[test]
    fn names_and_versions_are_checked() {
        assert!(Apk::plan(request(false, &[("musl;id", "1.0-r0")])).is_err());
        assert!(
            Apk::plan(request(false, &[("musl", "1.0-1")]))
                .unwrap_err()
                .contains("not a valid Alpine")
        );
    }

    #[test]
    fn reads_the_database_and_builds_purls() {
        let installed = Apk::installed(vec![file(INSTALLED)]).unwrap();
        assert_eq!(installed[0].name, "musl");
        let purl = Apk::purl(
            installed[0].clone(),
            alpine("3.22.1"),
            request(false, &[]).platform,
        );
        assert_eq!(
            purl,
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.22.1"
        );
    }
}
