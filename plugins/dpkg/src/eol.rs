//! Debian and Ubuntu releases that no longer get security updates, and what users do about it.

use salve_plugin_sdk::OsInfo;

/// Debian releases past the end of their (LTS) security support, by major version.
const DEBIAN_EOL: &[(&str, &str)] = &[
    ("7", "wheezy"),
    ("8", "jessie"),
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
];

/// Ubuntu releases past their standard support: every non-LTS release before 26.10, and the LTS
/// releases up to 20.04 (which live on only in Ubuntu Pro's ESM).
const UBUNTU_EOL: &[&str] = &[
    "14.04", "14.10", "15.04", "15.10", "16.04", "16.10", "17.04", "17.10", "18.04", "18.10",
    "19.04", "19.10", "20.04", "20.10", "21.04", "21.10", "22.10", "23.04", "23.10", "24.10",
    "25.04", "25.10",
];

/// A warning with advice when the release is end of life, `None` otherwise.
pub fn warning(os: &OsInfo) -> Option<String> {
    match os.id.as_str() {
        "debian" => {
            let major = os.version_id.split('.').next().unwrap_or_default();
            let codename = DEBIAN_EOL
                .iter()
                .find(|(version, codename)| {
                    *version == major || os.codename.as_deref() == Some(codename)
                })
                .map(|(_, codename)| *codename)?;
            Some(format!(
                "Debian {major} ({codename}) is end of life: its packages have moved to \
                 archive.debian.org and get no security updates. Upgrade the base image to a \
                 supported Debian release, or point the image's sources.list at \
                 archive.debian.org to install the last packages published for {codename}."
            ))
        }
        "ubuntu" if UBUNTU_EOL.contains(&os.version_id.as_str()) => Some(format!(
            "Ubuntu {} is past its standard support: its packages get no public security \
             updates (non-LTS releases move to old-releases.ubuntu.com; old LTS releases get \
             them only through Ubuntu Pro). Upgrade the base image to a supported Ubuntu release.",
            os.version_id
        )),
        _ => None,
    }
}

/// The advice for a plan whose repositories answered 404 or have no Release file.
pub fn missing_repository_advice(os: &OsInfo) -> String {
    format!(
        "the package repositories for {} {} could not be read (404 or no Release file); if the \
         release is end of life its packages have moved to an archive: upgrade the base image, or \
         point the image's sources at the archive",
        os.id, os.version_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(id: &str, version: &str, codename: Option<&str>) -> OsInfo {
        OsInfo {
            id: id.into(),
            version_id: version.into(),
            codename: codename.map(str::to_string),
        }
    }

    #[test]
    fn old_releases_warn_and_supported_ones_do_not() {
        assert!(
            warning(&os("debian", "10", None))
                .unwrap()
                .contains("buster")
        );
        assert!(
            warning(&os("debian", "11.9", None))
                .unwrap()
                .contains("archive.debian.org")
        );
        assert!(warning(&os("debian", "", Some("stretch"))).is_some());
        assert!(warning(&os("debian", "12", Some("bookworm"))).is_none());
        assert!(warning(&os("debian", "13", None)).is_none());
        assert!(
            warning(&os("ubuntu", "20.04", None))
                .unwrap()
                .contains("Ubuntu Pro")
        );
        assert!(warning(&os("ubuntu", "23.10", None)).is_some());
        assert!(warning(&os("ubuntu", "22.04", None)).is_none());
        assert!(warning(&os("ubuntu", "24.04", None)).is_none());
    }
}
