//! Recognising a dpkg image from the files the host read at the probe paths.

use crate::{chisel, eol, status};
use salve_plugin_sdk::{FileKind, ImageFile, InstalledPackage, OsInfo, Target, files};

/// The dpkg database of a regular image.
pub const STATUS: &str = "/var/lib/dpkg/status";

/// The folder of per-package databases in distroless images.
pub const STATUS_D: &str = "/var/lib/dpkg/status.d";

/// apt's command, whose presence means the image can patch itself.
pub const APT_GET: &str = "/usr/bin/apt-get";

/// The manager of a Chiseled image: Chisel, whose manifest salve rewrites natively.
pub const CHISEL: &str = "chisel";

/// The OS ids this plugin handles.
pub const OS_IDS: &[&str] = &["debian", "ubuntu"];

/// What the plugin reads to recognise an image.
pub fn probe_paths() -> Vec<String> {
    vec![
        STATUS.into(),
        format!("{STATUS_D}/*"),
        APT_GET.into(),
        "/usr/bin/dpkg".into(),
        chisel::MANIFEST.into(),
    ]
}

/// How to patch the image, or `None` when it is not a Debian or Ubuntu image with a dpkg
/// database.
pub fn detect(os: &OsInfo, files: &[ImageFile]) -> Result<Option<Target>, String> {
    if !OS_IDS.contains(&os.id.as_str()) {
        return Ok(None);
    }
    let present = |path: &str| {
        files
            .iter()
            .any(|file| file.path == path && file.kind != FileKind::Missing)
    };
    let databases = databases(files);
    let has_status = databases.iter().any(|file| file.path == STATUS);
    if databases.is_empty() {
        return chiseled(os, files);
    }
    let mut held = Vec::new();
    for file in &databases {
        let text = String::from_utf8_lossy(file.content.as_deref().unwrap_or_default());
        let packages = status::parse(&text).map_err(|error| format!("{}: {error}", file.path))?;
        held.extend(packages.into_iter().filter(|p| p.held).map(|p| p.name));
    }
    let manager = if has_status && present(APT_GET) {
        "apt"
    } else {
        "dpkg"
    };
    let mut warnings: Vec<String> = eol::warning(os).into_iter().collect();
    if !held.is_empty() {
        warnings.push(format!(
            "held packages are left as they are: {} (`apt-mark unhold` them in the image to allow \
             updates)",
            held.join(", ")
        ));
    }
    Ok(Some(Target {
        manager: manager.into(),
        distroless: manager == "dpkg",
        held,
        runtime: None,
        warnings,
    }))
}

/// A Chiseled image (Chisel's manifest, no dpkg database), or `None` without a manifest.
fn chiseled(os: &OsInfo, files: &[ImageFile]) -> Result<Option<Target>, String> {
    let Some(manifest) = files
        .iter()
        .find(|file| file.path == chisel::MANIFEST && file.kind == FileKind::File)
    else {
        return Ok(None);
    };
    let mut warnings: Vec<String> = eol::warning(os).into_iter().collect();
    // A manifest that cannot be read is still a Chiseled image: reading its packages fails next,
    // with the reason, rather than the image being taken for another kind.
    if let Err(error) = chisel::Manifest::read(manifest.content.as_deref().unwrap_or_default()) {
        warnings.push(error);
    }
    Ok(Some(Target {
        manager: CHISEL.into(),
        distroless: true,
        held: Vec::new(),
        runtime: None,
        warnings,
    }))
}

/// The packages the image holds: its dpkg database's, or, when it has no dpkg database (a
/// Chiseled image, as [`detect`] decides), Chisel's manifest's.
pub fn installed(files: &[ImageFile]) -> Result<Vec<InstalledPackage>, String> {
    if databases(files).is_empty() {
        return chisel::installed(files);
    }
    files::parse_texts(files, is_database, |text| {
        Ok(status::parse(text)?
            .into_iter()
            .map(|package| InstalledPackage {
                name: package.name,
                version: package.version,
                architecture: package.architecture,
                location: None,
            })
            .collect())
    })
}

/// The dpkg database files among those read.
fn databases(files: &[ImageFile]) -> Vec<&ImageFile> {
    files
        .iter()
        .filter(|file| is_database(&file.path) && file.kind == FileKind::File)
        .collect()
}

/// True for `status` and for entries of `status.d` (not their `.md5sums` companions).
pub fn is_database(path: &str) -> bool {
    path == STATUS
        || path
            .strip_prefix(STATUS_D)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| {
                !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums")
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{file, missing, os};

    fn debian(version: &str) -> OsInfo {
        os("debian", version)
    }

    const STATUS_TEXT: &str = "Package: bash\nStatus: hold ok installed\nVersion: 5.2\n\n\
Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1\n";

    #[test]
    fn an_image_with_apt_patches_itself_and_holds_are_reported() {
        let files = vec![file(STATUS, STATUS_TEXT), file(APT_GET, "")];
        let target = detect(&debian("12"), &files).unwrap().unwrap();
        assert_eq!(target.manager, "apt");
        assert!(!target.distroless);
        assert_eq!(target.held, ["bash"]);
        assert!(target.warnings[0].contains("apt-mark unhold"));
    }

    #[test]
    fn status_d_without_apt_is_distroless() {
        let files = vec![
            missing(STATUS),
            missing(APT_GET),
            file(
                "/var/lib/dpkg/status.d/libssl3",
                "Package: libssl3\nVersion: 3.0.11-1\n",
            ),
            file(
                "/var/lib/dpkg/status.d/libssl3.md5sums",
                "d41d8cd9  usr/lib/x\n",
            ),
        ];
        let target = detect(&debian("12"), &files).unwrap().unwrap();
        assert_eq!(target.manager, "dpkg");
        assert!(target.distroless);
        assert!(target.held.is_empty());
    }

    #[test]
    fn a_chisel_manifest_without_a_dpkg_database_is_a_chiseled_image() {
        let manifest = ruzstd::encoding::compress_to_vec(
            "{\"jsonwall\":\"1.0\",\"schema\":\"1.0\",\"count\":2}\n\
             {\"kind\":\"package\",\"name\":\"zlib1g\",\"version\":\"1:1.3\",\"arch\":\"amd64\"}\n"
                .as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let files = vec![
            missing(STATUS),
            missing(APT_GET),
            salve_plugin_sdk::ImageFile {
                content: Some(manifest),
                ..file(chisel::MANIFEST, "")
            },
        ];
        let target = detect(&os("ubuntu", "24.04"), &files).unwrap().unwrap();
        assert_eq!(target.manager, CHISEL);
        assert!(target.distroless);
        let names = |files: &[ImageFile]| -> Vec<String> {
            installed(files)
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect()
        };
        assert_eq!(names(&files), ["zlib1g"], "the manifest's packages");
        // A dpkg database beside the manifest is what the image is patched by: the manifest's
        // packages are not listed a second time (nor is a broken manifest read).
        let with_database = vec![
            file(
                STATUS,
                "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.3\n",
            ),
            file(chisel::MANIFEST, "not zstd"),
        ];
        assert_eq!(names(&with_database), ["zlib1g"]);
        let broken = vec![file(chisel::MANIFEST, "not zstd")];
        let target = detect(&os("ubuntu", "24.04"), &broken).unwrap().unwrap();
        assert_eq!(target.manager, CHISEL);
        assert!(
            target.warnings[0].contains("not zstd-compressed"),
            "{:?}",
            target.warnings
        );
    }

    #[test]
    fn other_images_are_not_ours() {
        let alpine = OsInfo {
            id: "alpine".into(),
            version_id: "3.19".into(),
            codename: None,
        };
        assert_eq!(detect(&alpine, &[file(STATUS, STATUS_TEXT)]).unwrap(), None);
        assert_eq!(detect(&debian("12"), &[missing(STATUS)]).unwrap(), None);
    }

    #[test]
    fn end_of_life_releases_carry_a_warning() {
        let target = detect(&debian("10"), &[file(STATUS, "Package: a\nVersion: 1\n")])
            .unwrap()
            .unwrap();
        assert!(target.warnings[0].contains("buster"));
    }

    #[test]
    fn database_paths_are_recognised() {
        assert!(is_database("/var/lib/dpkg/status"));
        assert!(is_database("/var/lib/dpkg/status.d/tzdata"));
        assert!(!is_database("/var/lib/dpkg/status.d/tzdata.md5sums"));
        assert!(!is_database("/var/lib/dpkg/status.d"));
        assert!(!is_database("/var/lib/dpkg/status-old"));
    }
}
