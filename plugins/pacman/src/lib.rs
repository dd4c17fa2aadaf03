//! salve's ecosystem plugin for Arch Linux images (and Arch-based ones: Arch Linux ARM, Manjaro,
//! EndeavourOS, Artix): pacman's version order, detection from the local database, plans run by
//! the image's own pacman, the local database's `desc` files, and package URLs.
//!
//! A report's updates are installed with `pacman -Sy --needed`: pacman installs the repository's
//! current version of each, with the dependencies that version requires (Arch packages name the
//! library versions they link against, so pacman refuses an update that would break another
//! package); the host then checks each installed version against the fixed one. Without a
//! report, `pacman -Syu` upgrades everything, as Arch recommends.

mod config;
mod database;

use config::{Ignored, PACMAN_CONF};
use database::{DB_VERSION, DESCRIPTIONS, LOCAL};
use salve_plugin_sdk::purl::encode;
use salve_plugin_sdk::versions::alpm;
use salve_plugin_sdk::{
    Ecosystem, EcosystemInfo, FileKind, ImageFile, InstalledPackage, OsInfo, PackageClass,
    PlanRequest, Platform, Step, Target, UpdatePlan, files,
};
use std::cmp::Ordering;

/// pacman in an image.
const PACMAN: &str = "/usr/bin/pacman";
/// The os-release ids of Arch Linux and the distributions that keep its pacman and repositories'
/// layout.
const OS_IDS: [&str; 5] = ["arch", "archarm", "manjaro", "endeavouros", "artix"];
/// What pacman leaves behind that the patched image does not need: downloaded packages and the
/// repositories' package lists.
const CACHES: [&str; 2] = ["/var/cache/pacman/pkg", "/var/lib/pacman/sync"];

/// The pacman ecosystem plugin.
pub struct Pacman;

impl Ecosystem for Pacman {
    fn describe() -> EcosystemInfo {
        EcosystemInfo {
            name: "pacman".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Arch Linux images (and Arch-based ones) with pacman".into(),
            purl_type: "alpm".into(),
            class: PackageClass::Os,
            os_ids: OS_IDS.map(String::from).into(),
        }
    }

    fn probe_paths() -> Vec<String> {
        [DB_VERSION, LOCAL, DESCRIPTIONS, PACMAN, PACMAN_CONF]
            .map(String::from)
            .into()
    }

    fn detect(os: OsInfo, files: Vec<ImageFile>) -> Option<Target> {
        if !OS_IDS.contains(&os.id.as_str()) {
            return None;
        }
        let kind = |path: &str| {
            files
                .iter()
                .find(|file| file.path == path)
                .map_or(FileKind::Missing, |file| file.kind)
        };
        if kind(DB_VERSION) != FileKind::File && kind(LOCAL) != FileKind::Directory {
            return None;
        }
        let conf = files
            .iter()
            .find(|file| file.path == PACMAN_CONF)
            .and_then(|file| file.content.as_deref())
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let Ignored { packages, groups } = config::ignored(&conf);
        let warnings = if groups.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "{PACMAN_CONF} ignores the group(s) {}: salve cannot tell which packages they \
                 hold, so a report's updates of their members are installed (a full upgrade \
                 leaves them, as pacman does)",
                groups.join(", ")
            )]
        };
        Some(Target {
            manager: "pacman".into(),
            distroless: kind(PACMAN) == FileKind::Missing,
            held: packages,
            runtime: None,
            warnings,
        })
    }

    fn compare_versions(a: &str, b: &str) -> Result<Ordering, String> {
        alpm::compare_text(a, b)
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
                "this Arch image has a pacman database but no pacman: salve patches \
                        Arch images with the image's own pacman (its keyring and mirror list); \
                        rebuild the image from a base that keeps pacman, or patch its build"
                    .into(),
            );
        }
        let mut warnings = Vec::new();
        let argv: Vec<String> = if request.updates.is_empty() {
            ["pacman", "-Syu", "--noconfirm", "--noprogressbar"]
                .map(String::from)
                .into()
        } else {
            let mut argv: Vec<String> = ["pacman", "-Sy", "--needed", "--noconfirm"]
                .map(String::from)
                .into();
            argv.push("--noprogressbar".into());
            let requested = argv.len();
            for update in &request.updates {
                if !is_package_name(&update.package) {
                    return Err(format!("{:?} is not an Arch package name", update.package));
                }
                alpm::parse(&update.fixed_version)
                    .map_err(|error| format!("package {}: {error}", update.package))?;
                let held = request
                    .target
                    .held
                    .iter()
                    .find(|pattern| config::matches(pattern, &update.package));
                if let Some(pattern) = held {
                    warnings.push(format!(
                        "{} is ignored by {PACMAN_CONF} (IgnorePkg {pattern}), so it is not \
                         updated (wanted {})",
                        update.package, update.fixed_version
                    ));
                } else if !argv[requested..].contains(&update.package) {
                    argv.push(update.package.clone());
                }
            }
            if argv.len() == requested {
                return Ok(UpdatePlan {
                    steps: Vec::new(),
                    exclude_paths: Vec::new(),
                    database_paths: vec![DESCRIPTIONS.into()],
                    warnings,
                });
            }
            argv
        };
        Ok(UpdatePlan {
            steps: vec![Step {
                argv,
                env: Vec::new(),
                network: true,
                on_failure: Some(
                    "pacman's output above says why; where it could not read the repositories \
                     or check the packages' signatures, an old image's archlinux-keyring may not \
                     know today's packagers: rebuild from a newer base image"
                        .into(),
                ),
            }],
            exclude_paths: CACHES.map(String::from).into(),
            database_paths: vec![DESCRIPTIONS.into()],
            warnings,
        })
    }

    fn installed(files: Vec<ImageFile>) -> Result<Vec<InstalledPackage>, String> {
        files::parse_texts(&files, database::is_description, |text| {
            let package = database::parse_description(text)?;
            Ok(vec![InstalledPackage {
                name: package.name,
                version: package.version,
                architecture: package.architecture,
                location: None,
            }])
        })
    }

    fn purl(pkg: InstalledPackage, os: OsInfo, platform: Platform) -> String {
        let architecture = pkg
            .architecture
            .as_deref()
            .unwrap_or(&platform.architecture);
        let mut purl = format!(
            "pkg:alpm/{}/{}@{}?arch={}",
            encode(&os.id),
            encode(&pkg.name),
            encode(&pkg.version),
            encode(architecture)
        );
        if !os.version_id.is_empty() {
            purl.push_str(&format!("&distro={}", encode(&os.version_id)));
        }
        purl
    }
}

/// Arch package names: lowercase letters, digits and `@._+-`, not starting with `-` or `.`.
fn is_package_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"@._+-".contains(&c))
}

salve_plugin_sdk::export_ecosystem!(Pacman);

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{self, os, plan_request, target, update};

    fn arch() -> OsInfo {
        os("arch", "")
    }

    fn image(pacman: bool, conf: &str) -> Vec<ImageFile> {
        let mut files = vec![
            testing::file(DB_VERSION, "9\n"),
            testing::file(PACMAN_CONF, conf),
        ];
        files.push(if pacman {
            testing::file(PACMAN, "\x7fELF")
        } else {
            testing::missing(PACMAN)
        });
        files
    }

    #[test]
    fn detects_arch_images_with_their_ignored_packages() {
        let conf = "[options]\nIgnorePkg = linux python-*\nIgnoreGroup = gnome\n";
        let found = Pacman::detect(arch(), image(true, conf)).unwrap();
        assert_eq!(found.manager, "pacman");
        assert!(!found.distroless);
        assert_eq!(found.held, ["linux", "python-*"]);
        assert!(found.warnings[0].contains("gnome"));
        assert!(Pacman::detect(arch(), image(false, "")).unwrap().distroless);
        assert!(Pacman::detect(os("debian", "12"), image(true, "")).is_none());
        assert!(Pacman::detect(arch(), vec![testing::missing(DB_VERSION)]).is_none());
    }

    #[test]
    fn a_report_installs_its_packages_and_leaves_ignored_ones() {
        let mut request = plan_request(
            arch(),
            target("pacman"),
            vec![
                update("openssl", "3.3.2-1"),
                update("python-requests", "2.32.3-1"),
                update("openssl", "3.3.2-1"),
            ],
        );
        request.target.held = vec!["python-*".into()];
        let plan = Pacman::plan(request).unwrap();
        assert_eq!(
            plan.steps[0].argv,
            [
                "pacman",
                "-Sy",
                "--needed",
                "--noconfirm",
                "--noprogressbar",
                "openssl"
            ]
        );
        assert!(plan.steps[0].network);
        assert!(plan.warnings[0].contains("python-requests is ignored"));
        assert_eq!(plan.database_paths, [DESCRIPTIONS]);
        assert_eq!(plan.exclude_paths, CACHES);
    }

    #[test]
    fn without_a_report_everything_is_upgraded() {
        let plan = Pacman::plan(plan_request(arch(), target("pacman"), Vec::new())).unwrap();
        assert_eq!(
            plan.steps[0].argv,
            ["pacman", "-Syu", "--noconfirm", "--noprogressbar"]
        );
    }

    #[test]
    fn only_held_packages_make_no_steps() {
        let mut request = plan_request(
            arch(),
            target("pacman"),
            vec![update("linux", "6.10.1.arch1-1")],
        );
        request.target.held = vec!["linux".into()];
        let plan = Pacman::plan(request).unwrap();
        assert!(plan.steps.is_empty());
        assert_eq!(plan.warnings.len(), 1);
    }

    #[test]
    fn bad_names_versions_and_a_missing_pacman_are_errors() {
        let bad_name = plan_request(arch(), target("pacman"), vec![update("--root=/", "1-1")]);
        assert!(
            Pacman::plan(bad_name)
                .unwrap_err()
                .contains("not an Arch package name")
        );
        let bad_version = plan_request(arch(), target("pacman"), vec![update("bash", "5.2 -1")]);
        assert!(Pacman::plan(bad_version).unwrap_err().contains("bash"));
        let distroless = plan_request(
            arch(),
            Target {
                distroless: true,
                ..target("pacman")
            },
            vec![update("bash", "5.2.037-1")],
        );
        assert!(Pacman::plan(distroless).unwrap_err().contains("no pacman"));
    }

    #[test]
    fn installed_packages_come_from_the_desc_files() {
        let files = vec![
            testing::file(
                "/var/lib/pacman/local/bash-5.2.026-2/desc",
                "%NAME%\nbash\n\n%VERSION%\n5.2.026-2\n\n%ARCH%\nx86_64\n",
            ),
            testing::file(
                "/var/lib/pacman/local/bash-5.2.026-2/files",
                "%FILES%\nusr/\n",
            ),
            testing::file(DB_VERSION, "9\n"),
        ];
        let installed = Pacman::installed(files).unwrap();
        assert_eq!(installed.len(), 1);
        assert_eq!(installed[0].version, "5.2.026-2");
        let purl = Pacman::purl(installed[0].clone(), arch(), testing::platform("amd64"));
        assert_eq!(purl, "pkg:alpm/arch/bash@5.2.026-2?arch=x86_64");
        let broken = vec![testing::file(
            "/var/lib/pacman/local/x-1-1/desc",
            "%NAME%\nx\n",
        )];
        let error = Pacman::installed(broken).unwrap_err();
        assert!(
            error.contains("/var/lib/pacman/local/x-1-1/desc"),
            "{error}"
        );
    }
}
