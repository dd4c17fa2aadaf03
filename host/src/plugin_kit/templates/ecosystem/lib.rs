//! {{name}}: a salve ecosystem plugin for a toy distribution. Its images say `ID=toy` in
//! `/etc/os-release`, list their packages in `/var/lib/toypkg/installed` (`NAME VERSION` lines)
//! and install packages with `toypkg install NAME=VERSION...` (`image/usr/bin/toypkg`).
//! Replace each part with your distribution's: where the package database is, how versions
//! compare, the commands that update packages.

use salve_plugin_sdk::{
    EcosystemInfo, FileKind, ImageFile, InstalledPackage, OsInfo, PackageClass, PlanRequest,
    Platform, Step, Target, UpdatePlan, purl,
};
use std::cmp::Ordering;

/// The package database.
const DATABASE: &str = "/var/lib/toypkg/installed";

/// The package manager.
const MANAGER: &str = "/usr/bin/toypkg";

/// The plugin: a type implementing the SDK's `Ecosystem` trait, exported below.
pub struct Plugin;

impl salve_plugin_sdk::Ecosystem for Plugin {
    fn describe() -> EcosystemInfo {
        EcosystemInfo {
            // salve names plugins by file: this plugin must be stored as {{name}}.wasm.
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "the toy distribution's toypkg packages".into(),
            purl_type: "generic".into(),
            class: PackageClass::Os,
            os_ids: vec!["toy".into()],
        }
    }

    /// The paths salve reads from the image and passes to `detect`.
    fn probe_paths() -> Vec<String> {
        vec![DATABASE.into(), MANAGER.into()]
    }

    fn detect(_os: OsInfo, files: Vec<ImageFile>) -> Option<Target> {
        let present = |path: &str| {
            files
                .iter()
                .any(|file| file.path == path && file.kind != FileKind::Missing)
        };
        if !present(DATABASE) {
            return None;
        }
        Some(Target {
            manager: "toypkg".into(),
            // A database without the program: the plan would have to run in a tooling image.
            distroless: !present(MANAGER),
            held: Vec::new(),
            runtime: None,
            warnings: Vec::new(),
        })
    }

    /// Versions are dot-separated numbers, compared number by number (`1.10` > `1.9`).
    fn compare_versions(a: &str, b: &str) -> Result<Ordering, String> {
        let numbers = |version: &str| -> Result<Vec<u64>, String> {
            version
                .split('.')
                .map(|part| {
                    part.parse()
                        .map_err(|_| format!("{version:?} is not a toy version"))
                })
                .collect()
        };
        Ok(numbers(a)?.cmp(&numbers(b)?))
    }

    /// The toy distribution has no tooling image: an image without toypkg cannot be patched.
    fn tooling_image(
        _os: OsInfo,
        _platform: Platform,
        _target: Target,
        _update_all: bool,
    ) -> Option<String> {
        None
    }

    fn plan(request: PlanRequest) -> Result<UpdatePlan, String> {
        if request.updates.is_empty() {
            return Err(
                "toypkg has no repository to upgrade everything from: name the packages \
                        (give salve a report)"
                    .into(),
            );
        }
        let mut argv = vec!["toypkg".to_string(), "install".to_string()];
        for update in &request.updates {
            argv.push(format!("{}={}", update.package, update.fixed_version));
        }
        Ok(UpdatePlan {
            steps: vec![Step {
                argv,
                env: Vec::new(),
                network: false,
                on_failure: Some("toypkg could not install the versions asked for".into()),
            }],
            exclude_paths: Vec::new(),
            database_paths: vec![DATABASE.into()],
            warnings: Vec::new(),
        })
    }

    /// Reads the package database (salve passes the `database_paths` files back after a plan).
    fn installed(files: Vec<ImageFile>) -> Result<Vec<InstalledPackage>, String> {
        let database = files
            .iter()
            .find(|file| file.path == DATABASE)
            .and_then(|file| file.content.as_deref())
            .ok_or_else(|| format!("{DATABASE} is missing"))?;
        let text = std::str::from_utf8(database).map_err(|error| format!("{DATABASE}: {error}"))?;
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(
                |(index, line)| match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                    [name, version] => Ok(InstalledPackage {
                        name: name.to_string(),
                        version: version.to_string(),
                        architecture: None,
                        location: None,
                    }),
                    _ => Err(format!(
                        "{DATABASE} line {}: expected NAME VERSION",
                        index + 1
                    )),
                },
            )
            .collect()
    }

    fn purl(package: InstalledPackage, os: OsInfo, _platform: Platform) -> String {
        format!(
            "pkg:generic/{}@{}?distro={}-{}",
            purl::encode(&package.name),
            purl::encode(&package.version),
            purl::encode(&os.id),
            purl::encode(&os.version_id)
        )
    }
}

salve_plugin_sdk::export_ecosystem!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::Ecosystem;
    use salve_plugin_sdk::testing::{file, missing, os, plan_request, target, update};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// The sample image's files, from `image/`.
    fn image_file(path: &str) -> ImageFile {
        let local = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("image")
            .join(&path[1..]);
        file(path, std::fs::read(local).unwrap())
    }

    #[test]
    fn recognises_the_sample_image() {
        let files = vec![image_file(DATABASE), image_file(MANAGER)];
        let found = Plugin::detect(os("toy", "1"), files).unwrap();
        assert_eq!(found.manager, "toypkg");
        assert!(!found.distroless);
        assert!(
            Plugin::detect(os("toy", "1"), vec![missing(DATABASE), missing(MANAGER)]).is_none()
        );
    }

    #[test]
    fn compares_versions_number_by_number() {
        assert_eq!(
            Plugin::compare_versions("1.10", "1.9"),
            Ok(Ordering::Greater)
        );
        assert_eq!(Plugin::compare_versions("2.3", "2.3"), Ok(Ordering::Equal));
        assert!(Plugin::compare_versions("1.0-beta", "1.0").is_err());
    }

    /// A copy of `image/` in a fresh folder, for the real toypkg to change.
    fn image_copy(test: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("{{name}}-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("image");
        let status = Command::new("cp")
            .arg("-R")
            .arg(&image)
            .arg(&root)
            .status()
            .unwrap();
        assert!(status.success());
        root
    }

    #[test]
    fn the_plan_runs_with_the_real_package_manager() {
        let request = plan_request(
            os("toy", "1"),
            target("toypkg"),
            vec![update("hello", "1.1")],
        );
        let plan = Plugin::plan(request).unwrap();
        assert_eq!(plan.steps[0].argv, ["toypkg", "install", "hello=1.1"]);

        // Run the step as salve would, with the image's toypkg first on PATH.
        let root = image_copy("plan");
        let path = format!(
            "{}:{}",
            root.join("usr/bin").display(),
            std::env::var("PATH").unwrap()
        );
        let output = Command::new(&plan.steps[0].argv[0])
            .args(&plan.steps[0].argv[1..])
            .env("PATH", path)
            .env("TOYPKG_ROOT", &root)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );

        // Read the database back as salve does after the plan.
        let database = std::fs::read(root.join(&plan.database_paths[0][1..])).unwrap();
        let packages = Plugin::installed(vec![file(DATABASE, database)]).unwrap();
        let hello = packages
            .iter()
            .find(|package| package.name == "hello")
            .unwrap();
        assert_eq!(hello.version, "1.1");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn updating_everything_is_refused_with_the_reason() {
        let error =
            Plugin::plan(plan_request(os("toy", "1"), target("toypkg"), Vec::new())).unwrap_err();
        assert!(error.contains("name the packages"), "{error}");
    }
}
