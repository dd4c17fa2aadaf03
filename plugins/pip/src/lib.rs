//! salve's ecosystem plugin for Python packages (experimental, as in copa): PEP 440 versions,
//! environments found by their `*.dist-info/METADATA` files, plans with the image's pip or a
//! `python:<X.Y>-slim` tooling image, and `pkg:pypi` purls.

mod environment;
mod metadata;
pub mod native;
mod plan;
pub use salve_plugin_sdk::versions::pep440 as version;

use environment::{METADATA_GLOBS, python_version, site_packages};
use salve_plugin_sdk::purl::encode;
use salve_plugin_sdk::{
    Ecosystem, EcosystemInfo, FileKind, ImageFile, InstallRequest, InstallStep, InstalledPackage,
    NativeError, NativeRequest, OsInfo, PackageClass, PlanRequest, Platform, Resolution, Target,
    UpdatePlan,
};
use std::cmp::Ordering;

/// The pip ecosystem plugin.
pub struct Pip;

impl Ecosystem for Pip {
    fn describe() -> EcosystemInfo {
        EcosystemInfo {
            name: "pip".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary:
                "Python packages in site-packages folders and virtual environments (experimental)"
                    .into(),
            purl_type: "pypi".into(),
            class: PackageClass::Library,
            os_ids: Vec::new(),
        }
    }

    fn probe_paths() -> Vec<String> {
        METADATA_GLOBS.iter().map(|glob| glob.to_string()).collect()
    }

    fn detect(_os: OsInfo, files: Vec<ImageFile>) -> Option<Target> {
        let metadata: Vec<&str> = files
            .iter()
            .filter(|file| file.kind == FileKind::File)
            .map(|file| file.path.as_str())
            .filter(|path| site_packages(path).is_some())
            .collect();
        if metadata.is_empty() {
            return None;
        }
        let has_pip = metadata.iter().any(|path| {
            path.rsplit('/')
                .nth(1)
                .is_some_and(|dist_info| dist_info.starts_with("pip-"))
        });
        let runtime = metadata
            .iter()
            .find_map(|path| python_version(site_packages(path)?))
            .map(str::to_string);
        Some(Target {
            manager: "pip".into(),
            distroless: !has_pip,
            held: Vec::new(),
            runtime,
            warnings: Vec::new(),
        })
    }

    fn compare_versions(a: &str, b: &str) -> Result<Ordering, String> {
        version::compare_text(a, b)
    }

    fn tooling_image(
        _os: OsInfo,
        _platform: Platform,
        target: Target,
        _update_all: bool,
    ) -> Option<String> {
        let version = target.runtime?.strip_prefix("python")?.to_string();
        Some(format!("docker.io/library/python:{version}-slim"))
    }

    fn plan(request: PlanRequest) -> Result<UpdatePlan, String> {
        plan::plan(&request)
    }

    fn installed(files: Vec<ImageFile>) -> Result<Vec<InstalledPackage>, String> {
        let mut installed = Vec::new();
        for file in &files {
            let Some(folder) = site_packages(&file.path) else {
                continue;
            };
            let Some(content) = &file.content else {
                continue;
            };
            let (name, version) = metadata::name_and_version(&String::from_utf8_lossy(content))
                .map_err(|error| format!("{} {error}", file.path))?;
            installed.push(InstalledPackage {
                name,
                version,
                architecture: None,
                location: Some(folder.to_string()),
            });
        }
        Ok(installed)
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

    fn purl(pkg: InstalledPackage, _os: OsInfo, _platform: Platform) -> String {
        format!(
            "pkg:pypi/{}@{}",
            encode(&metadata::normalise(&pkg.name)),
            encode(&pkg.version)
        )
    }
}

salve_plugin_sdk::export_ecosystem!(Pip);

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{self, file};

    fn metadata(path: &str, name: &str, version: &str) -> ImageFile {
        file(
            path,
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
        )
    }

    fn os() -> OsInfo {
        testing::os("debian", "12")
    }

    fn platform() -> Platform {
        testing::platform("amd64")
    }

    const REQUESTS: &str =
        "/usr/local/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA";
    const PIP: &str = "/usr/local/lib/python3.11/site-packages/pip-23.0.1.dist-info/METADATA";

    #[test]
    fn detects_environments_with_and_without_pip() {
        let with_pip = Pip::detect(
            os(),
            vec![
                metadata(REQUESTS, "requests", "2.25.0"),
                metadata(PIP, "pip", "23.0.1"),
            ],
        )
        .unwrap();
        assert!(!with_pip.distroless);
        assert_eq!(with_pip.runtime.as_deref(), Some("python3.11"));
        let without = Pip::detect(os(), vec![metadata(REQUESTS, "requests", "2.25.0")]).unwrap();
        assert!(without.distroless);
        assert_eq!(
            Pip::tooling_image(os(), platform(), without, false).unwrap(),
            "docker.io/library/python:3.11-slim"
        );
        assert!(Pip::detect(os(), Vec::new()).is_none());
    }

    #[test]
    fn reads_metadata_and_builds_purls() {
        let installed =
            Pip::installed(vec![metadata(REQUESTS, "Typing_Extensions", "4.8.0")]).unwrap();
        assert_eq!(
            installed[0].location.as_deref(),
            Some("/usr/local/lib/python3.11/site-packages")
        );
        assert_eq!(
            Pip::purl(installed[0].clone(), os(), platform()),
            "pkg:pypi/typing-extensions@4.8.0"
        );
    }
}
