//! Which image runs the plan for an RPM image without a package manager of its own.
//!
//! The rules users know from copa's FAQ, with versions compared as numbers (copa compared them as
//! strings, so `10.0` sorted before `3.0`):
//! - Azure Linux 3.0 and later: `mcr.microsoft.com/azurelinux/base/core:<major>.<minor>`;
//! - CBL-Mariner 1 and 2, CentOS, Oracle Linux, Rocky, Alma, Amazon Linux, RHEL, Fedora:
//!   `mcr.microsoft.com/cbl-mariner/base/core:2.0`, whose tdnf installs into `/target` with the
//!   target's own repository files;
//! - SUSE Linux Enterprise 15 (Server, Desktop, Micro 5): `registry.suse.com/bci/bci-base:15.<SP>`
//!   (SLE Micro 5.x is built from SLE 15 SP `x + 1`; its zypper installs into `/target` with the
//!   target's repositories, or its own when the target has none);
//! - openSUSE Leap `X.Y`: `registry.opensuse.org/opensuse/leap:X.Y`; Tumbleweed and MicroOS:
//!   `registry.opensuse.org/opensuse/tumbleweed:latest` (a rolling release has one current image).

use salve_plugin_sdk::OsInfo;

/// The tooling image for a target without a package manager.
pub fn image(os: &OsInfo) -> Option<String> {
    if matches!(os.id.as_str(), "opensuse-tumbleweed" | "opensuse-microos") {
        return Some("registry.opensuse.org/opensuse/tumbleweed:latest".into());
    }
    let mut parts = os.version_id.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next().unwrap_or("0").parse().ok()?;
    match os.id.as_str() {
        "azurelinux" if major >= 3 => Some(format!(
            "mcr.microsoft.com/azurelinux/base/core:{major}.{minor}"
        )),
        "azurelinux" | "mariner" | "centos" | "ol" | "rocky" | "almalinux" | "amzn" | "rhel"
        | "fedora" => Some("mcr.microsoft.com/cbl-mariner/base/core:2.0".into()),
        "sles" | "sled" if major == 15 => {
            Some(format!("registry.suse.com/bci/bci-base:15.{minor}"))
        }
        "sle-micro" if major == 5 => {
            Some(format!("registry.suse.com/bci/bci-base:15.{}", minor + 1))
        }
        "opensuse-leap" => Some(format!(
            "registry.opensuse.org/opensuse/leap:{major}.{minor}"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::os;

    #[test]
    fn azure_linux_3_and_later_use_their_own_core_image() {
        assert_eq!(
            image(&os("azurelinux", "3.0")).unwrap(),
            "mcr.microsoft.com/azurelinux/base/core:3.0"
        );
        assert_eq!(
            image(&os("azurelinux", "10.1")).unwrap(),
            "mcr.microsoft.com/azurelinux/base/core:10.1"
        );
        assert_eq!(
            image(&os("azurelinux", "3")).unwrap(),
            "mcr.microsoft.com/azurelinux/base/core:3.0"
        );
    }

    #[test]
    fn the_rest_use_mariner_2() {
        for (id, version) in [
            ("mariner", "2.0"),
            ("mariner", "1.0"),
            ("centos", "7"),
            ("ol", "8.9"),
            ("rocky", "9.3"),
            ("almalinux", "9.4"),
            ("amzn", "2023"),
        ] {
            assert_eq!(
                image(&os(id, version)).unwrap(),
                "mcr.microsoft.com/cbl-mariner/base/core:2.0",
                "{id} {version}"
            );
        }
    }

    #[test]
    fn suse_systems_use_suses_images() {
        for (id, version, image_name) in [
            ("sles", "15.6", "registry.suse.com/bci/bci-base:15.6"),
            ("sled", "15.5", "registry.suse.com/bci/bci-base:15.5"),
            ("sle-micro", "5.5", "registry.suse.com/bci/bci-base:15.6"),
            (
                "opensuse-leap",
                "15.6",
                "registry.opensuse.org/opensuse/leap:15.6",
            ),
            (
                "opensuse-leap",
                "16.0",
                "registry.opensuse.org/opensuse/leap:16.0",
            ),
            (
                "opensuse-tumbleweed",
                "20261101",
                "registry.opensuse.org/opensuse/tumbleweed:latest",
            ),
        ] {
            assert_eq!(
                image(&os(id, version)).unwrap(),
                image_name,
                "{id} {version}"
            );
        }
        assert_eq!(image(&os("sles", "12.5")), None, "no BCI image for SLES 12");
    }

    #[test]
    fn unknown_systems_and_versions_have_none() {
        assert_eq!(image(&os("debian", "12")), None);
        assert_eq!(image(&os("rocky", "")), None);
        assert_eq!(image(&os("rocky", "nine")), None);
    }
}
