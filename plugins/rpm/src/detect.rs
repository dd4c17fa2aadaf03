//! Recognising an RPM image (Red Hat's family, Azure Linux, Amazon, Fedora, and SUSE's): its
//! package manager, its rpm database, or its distroless manifest.

use crate::eol;
use salve_plugin_sdk::{FileKind, ImageFile, OsInfo, Target};

/// The OS ids this plugin handles.
pub const OS_IDS: &[&str] = &[
    "azurelinux",
    "mariner",
    "rhel",
    "centos",
    "rocky",
    "almalinux",
    "ol",
    "amzn",
    "fedora",
    "sles",
    "sled",
    "sle-micro",
    "sl-micro",
    "opensuse-leap",
    "opensuse-leap-micro",
    "opensuse-tumbleweed",
    "opensuse-microos",
];

/// The OS ids of SUSE's distributions, patched with zypper.
pub const SUSE_IDS: &[&str] = &[
    "sles",
    "sled",
    "sle-micro",
    "sl-micro",
    "opensuse-leap",
    "opensuse-leap-micro",
    "opensuse-tumbleweed",
    "opensuse-microos",
];

/// Package managers, in the order salve prefers them.
pub const MANAGERS: &[(&str, &str)] = &[
    ("tdnf", "/usr/bin/tdnf"),
    ("dnf", "/usr/bin/dnf"),
    ("yum", "/usr/bin/yum"),
    ("microdnf", "/usr/bin/microdnf"),
    ("zypper", "/usr/bin/zypper"),
];

/// Where rpm keeps its sqlite database (rpm 4.16 and later), old and new layouts.
pub const SQLITE_DATABASES: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// Where rpm before 4.16 keeps its Berkeley DB package database.
pub const BERKELEY_DATABASE: &str = "/var/lib/rpm/Packages";

/// Where rpm keeps its database, old and new layouts and formats.
const RPM_DATABASES: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// The distroless package list (Azure Linux, CBL-Mariner).
pub const MANIFEST_2: &str = "/var/lib/rpmmanifest/container-manifest-2";

/// The manager name for an image with an rpm database but no manager: patched from a tooling
/// image with `--installroot`.
pub const CHROOT: &str = "rpm";

/// The manager name for a distroless image with only the manifests: packages are unpacked from a
/// tooling image and the manifests rewritten.
pub const MANIFEST_ONLY: &str = "rpmmanifest";

/// What the plugin reads to recognise an image.
pub fn probe_paths() -> Vec<String> {
    let mut paths: Vec<String> = MANAGERS.iter().map(|(_, path)| path.to_string()).collect();
    paths.extend(RPM_DATABASES.iter().map(|path| path.to_string()));
    paths.push(MANIFEST_2.into());
    paths
}

/// How to patch the image, or `None` when it is not an RPM image this plugin knows.
pub fn detect(os: &OsInfo, files: &[ImageFile]) -> Option<Target> {
    if !OS_IDS.contains(&os.id.as_str()) {
        return None;
    }
    let present = |path: &str| {
        files
            .iter()
            .any(|file| file.path == path && file.kind != FileKind::Missing)
    };
    let has_database = RPM_DATABASES.iter().any(|path| present(path));
    let manager = MANAGERS.iter().find(|(_, path)| present(path));
    let (manager, distroless) = match (manager, has_database, present(MANIFEST_2)) {
        (Some((name, _)), true, _) => (*name, false),
        (_, true, _) => (CHROOT, true),
        (_, false, true) => (MANIFEST_ONLY, true),
        _ => return None,
    };
    Some(Target {
        manager: manager.into(),
        distroless,
        held: Vec::new(),
        runtime: None,
        warnings: eol::warning(os).into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{file, os};

    fn present(path: &str) -> ImageFile {
        file(path, "")
    }

    #[test]
    fn picks_the_manager_the_image_has() {
        let files = [
            present("/usr/bin/dnf"),
            present("/usr/bin/microdnf"),
            present("/var/lib/rpm/rpmdb.sqlite"),
        ];
        let target = detect(&os("rocky", "9.3"), &files).unwrap();
        assert_eq!((target.manager.as_str(), target.distroless), ("dnf", false));
        let files = [
            present("/usr/bin/tdnf"),
            present("/var/lib/rpm/rpmdb.sqlite"),
        ];
        assert_eq!(
            detect(&os("azurelinux", "3.0"), &files).unwrap().manager,
            "tdnf"
        );
    }

    #[test]
    fn suse_images_are_patched_with_zypper() {
        let files = [
            present("/usr/bin/zypper"),
            present("/usr/lib/sysimage/rpm/rpmdb.sqlite"),
        ];
        for (id, version) in [
            ("sles", "15.6"),
            ("opensuse-leap", "15.6"),
            ("opensuse-tumbleweed", "20261101"),
        ] {
            let target = detect(&os(id, version), &files).unwrap();
            assert_eq!(
                (target.manager.as_str(), target.distroless),
                ("zypper", false)
            );
        }
        let micro = detect(
            &os("sle-micro", "5.5"),
            &[present("/usr/lib/sysimage/rpm/rpmdb.sqlite")],
        )
        .unwrap();
        assert_eq!((micro.manager.as_str(), micro.distroless), (CHROOT, true));
    }

    #[test]
    fn a_database_without_a_manager_is_chroot_mode_and_a_manifest_alone_is_distroless() {
        let target = detect(&os("rhel", "9.4"), &[present("/var/lib/rpm/rpmdb.sqlite")]).unwrap();
        assert_eq!((target.manager.as_str(), target.distroless), (CHROOT, true));
        let target = detect(&os("azurelinux", "3.0"), &[present(MANIFEST_2)]).unwrap();
        assert_eq!(
            (target.manager.as_str(), target.distroless),
            (MANIFEST_ONLY, true)
        );
    }

    #[test]
    fn other_images_are_not_ours() {
        assert!(detect(&os("debian", "12"), &[present("/var/lib/rpm/Packages")]).is_none());
        assert!(detect(&os("rocky", "9"), &[present("/usr/bin/dnf")]).is_none());
    }

    #[test]
    fn end_of_life_releases_warn() {
        let target = detect(
            &os("centos", "7"),
            &[present("/usr/bin/yum"), present("/var/lib/rpm/Packages")],
        )
        .unwrap();
        assert!(
            target.warnings[0].contains("vault.centos.org"),
            "{:?}",
            target.warnings
        );
    }
}
