//! OSV ecosystems: which kind of package each names, how its versions are ordered, and the OS
//! release a distribution's ecosystem names (`Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04:LTS`).

use salve_plugin_sdk::versions::{apk, deb, pep440, rpm};
use salve_plugin_sdk::{OsInfo, PackageClass, os_release};
use std::cmp::Ordering;

/// The version rules of the packages an ecosystem holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// Debian packages (dpkg's ordering).
    Deb,
    /// RPM packages (rpm's ordering).
    Rpm,
    /// Alpine packages (apk-tools' ordering).
    Apk,
    /// Python packages (PEP 440).
    Python,
}

impl Rules {
    /// Compares two versions by these rules.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, String> {
        match self {
            Rules::Deb => deb::compare_text(a, b),
            Rules::Rpm => rpm::compare_text(a, b),
            Rules::Apk => apk::compare_text(a, b),
            Rules::Python => pep440::compare_text(a, b),
        }
    }

    /// Checks that the rules can read a version.
    pub fn check(self, version: &str) -> Result<(), String> {
        self.compare(version, version).map(|_| ())
    }

    /// OS packages or a language's libraries.
    pub fn class(self) -> PackageClass {
        match self {
            Rules::Python => PackageClass::Library,
            Rules::Deb | Rules::Rpm | Rules::Apk => PackageClass::Os,
        }
    }
}

/// An ecosystem salve patches: its family name as OSV writes it (`Debian`, `PyPI`), its rules,
/// and for distributions the OS release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ecosystem {
    /// The family, the part before the first `:`.
    pub family: String,
    /// How its versions compare.
    pub rules: Rules,
    /// The OS release it names, for distributions with a release in the name.
    pub os: Option<OsInfo>,
}

/// Distribution families OSV names, with their version rules and os-release id.
const DISTRIBUTIONS: [(&str, Rules, &str); 14] = [
    ("Debian", Rules::Deb, "debian"),
    ("Ubuntu", Rules::Deb, "ubuntu"),
    ("Alpine", Rules::Apk, "alpine"),
    ("Chainguard", Rules::Apk, "chainguard"),
    ("Wolfi", Rules::Apk, "wolfi"),
    ("AlmaLinux", Rules::Rpm, "almalinux"),
    ("Rocky Linux", Rules::Rpm, "rocky"),
    ("Red Hat", Rules::Rpm, "rhel"),
    ("openSUSE", Rules::Rpm, "opensuse"),
    ("SUSE", Rules::Rpm, "sles"),
    ("Mageia", Rules::Rpm, "mageia"),
    ("Photon OS", Rules::Rpm, "photon"),
    ("Azure Linux", Rules::Rpm, "azurelinux"),
    ("openEuler", Rules::Rpm, "openEuler"),
];

/// Reads an OSV ecosystem; `None` for ecosystems salve does not patch (npm, Go, Maven, ...).
pub fn read(ecosystem: &str) -> Option<Ecosystem> {
    let mut parts = ecosystem.split(':');
    let family = parts.next().unwrap_or("").trim();
    if family.eq_ignore_ascii_case("PyPI") {
        return Some(Ecosystem {
            family: "PyPI".into(),
            rules: Rules::Python,
            os: None,
        });
    }
    let (name, rules, id) = DISTRIBUTIONS
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(family))?;
    let rest: Vec<&str> = parts.map(str::trim).collect();
    Some(Ecosystem {
        family: (*name).to_string(),
        rules: *rules,
        os: release(id, &rest),
    })
}

/// The OS release in the parts after the family: the first that is a version (`12`, `v3.19`,
/// `22.04`); openSUSE's `Leap 15.5` and `Tumbleweed` name their own os-release ids.
fn release(id: &str, rest: &[&str]) -> Option<OsInfo> {
    let os = |id: &str, version: &str| OsInfo {
        id: os_release::id_from_scanner_name(id),
        version_id: version.to_string(),
        codename: None,
    };
    if id == "opensuse" {
        let edition = rest.first()?;
        if let Some(version) = edition.strip_prefix("Leap ") {
            return Some(os("opensuse-leap", version.trim()));
        }
        return (*edition == "Tumbleweed").then(|| os("opensuse-tumbleweed", ""));
    }
    let version = rest.iter().find_map(|part| {
        let part = part.strip_prefix('v').unwrap_or(part);
        (part.starts_with(|c: char| c.is_ascii_digit())
            && part.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .then_some(part)
    })?;
    Some(os(id, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os_of(ecosystem: &str) -> Option<(String, String)> {
        read(ecosystem)?.os.map(|os| (os.id, os.version_id))
    }

    #[test]
    fn distributions_name_their_release() {
        let pair = |id: &str, version: &str| Some((id.to_string(), version.to_string()));
        assert_eq!(os_of("Debian:12"), pair("debian", "12"));
        assert_eq!(os_of("Alpine:v3.19"), pair("alpine", "3.19"));
        assert_eq!(os_of("Ubuntu:22.04:LTS"), pair("ubuntu", "22.04"));
        assert_eq!(os_of("Ubuntu:Pro:18.04:LTS"), pair("ubuntu", "18.04"));
        assert_eq!(os_of("Rocky Linux:9"), pair("rocky", "9"));
        assert_eq!(os_of("openSUSE:Leap 15.5"), pair("opensuse-leap", "15.5"));
        assert_eq!(
            os_of("Red Hat:enterprise_linux:9::appstream"),
            pair("rhel", "9")
        );
        assert_eq!(os_of("Debian"), None);
        assert_eq!(os_of("Wolfi"), None);
        assert_eq!(read("PyPI").unwrap().rules, Rules::Python);
        assert_eq!(read("Alpine:v3.19").unwrap().rules, Rules::Apk);
        assert_eq!(read("npm"), None);
        assert_eq!(read("Go"), None);
    }

    #[test]
    fn each_ecosystem_orders_versions_by_its_own_rules() {
        // dpkg: `u10` after `u4`; a plain text order would say otherwise.
        assert_eq!(
            Rules::Deb.compare("2.36-9+deb12u10", "2.36-9+deb12u4"),
            Ok(Ordering::Greater)
        );
        assert_eq!(Rules::Python.compare("1.0rc1", "1.0"), Ok(Ordering::Less));
        assert_eq!(
            Rules::Apk.compare("1.36.1-r5", "1.36.1-r15"),
            Ok(Ordering::Less)
        );
        assert_eq!(
            Rules::Rpm.compare("1:1.0-1", "2.0-1"),
            Ok(Ordering::Greater)
        );
        assert!(Rules::Deb.compare("not a version", "1").is_err());
    }
}
