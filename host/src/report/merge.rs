//! Merging findings into one update per package, keeping every vulnerability it fixes.

use crate::plugin::types::{Finding, PackageClass};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::HashMap;

/// One package to update, with every vulnerability the update fixes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageUpdate {
    /// The package's name.
    pub package: String,
    /// OS package or library.
    pub class: PackageClass,
    /// The scanner's package type.
    pub package_type: String,
    /// Where a library lives in the image.
    pub path: Option<String>,
    /// The version installed, as the scanner saw it.
    pub installed_version: String,
    /// The version to reach: the highest fixed version among the package's findings.
    pub fixed_version: String,
    /// Each vulnerability, with the version that fixes it (for VEX).
    pub vulnerabilities: Vec<VulnerabilityFix>,
    /// The fixed versions the package's findings name besides the first finding's, each once,
    /// in the order seen (empty, and without an allocation, when they all agree).
    #[serde(skip)]
    pub other_fixed_versions: Vec<String>,
}

impl PackageUpdate {
    /// Sets the version to reach to the highest fixed version of the package's findings by
    /// `compare`: the package's ecosystem plugin's order (`1.0rc1` is below `1.0` for Python,
    /// above it in a generic order). When the findings agree nothing is compared.
    pub fn choose_fixed_version<E>(
        &mut self,
        mut compare: impl FnMut(&str, &str) -> Result<Ordering, E>,
    ) -> Result<(), E> {
        let Some(first) = self.vulnerabilities.first() else {
            return Ok(());
        };
        let mut highest = &first.fixed_version;
        for candidate in &self.other_fixed_versions {
            if compare(candidate, highest)? == Ordering::Greater {
                highest = candidate;
            }
        }
        self.fixed_version = highest.clone();
        Ok(())
    }
}

/// One vulnerability of a package and the version that fixes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VulnerabilityFix {
    /// `CVE-...`, `GHSA-...`.
    pub id: String,
    /// The lowest version that fixes it.
    pub fixed_version: String,
}

/// Groups findings by package (and path, for libraries), in the order each package first
/// appears; each update asks for the highest fixed version by `order`, until
/// [`PackageUpdate::choose_fixed_version`] chooses by the package's ecosystem.
pub fn by_package(
    findings: Vec<Finding>,
    order: &dyn Fn(&str, &str) -> Ordering,
) -> Vec<PackageUpdate> {
    let mut updates: Vec<PackageUpdate> = Vec::new();
    let mut index: HashMap<(PackageClass, String, Option<String>), usize> = HashMap::new();
    for finding in findings {
        let key = (finding.class, finding.package.clone(), finding.path.clone());
        let fix = VulnerabilityFix {
            id: finding.vulnerability_id,
            fixed_version: finding.fixed_version,
        };
        match index.get(&key) {
            Some(&at) => {
                let update = &mut updates[at];
                if order(&fix.fixed_version, &update.fixed_version) == Ordering::Greater {
                    update.fixed_version = fix.fixed_version.clone();
                }
                if fix.fixed_version != update.vulnerabilities[0].fixed_version
                    && !update.other_fixed_versions.contains(&fix.fixed_version)
                {
                    update.other_fixed_versions.push(fix.fixed_version.clone());
                }
                if !update
                    .vulnerabilities
                    .iter()
                    .any(|known| known.id == fix.id)
                {
                    update.vulnerabilities.push(fix);
                }
            }
            None => {
                index.insert(key, updates.len());
                updates.push(PackageUpdate {
                    package: finding.package,
                    class: finding.class,
                    package_type: finding.package_type,
                    path: finding.path,
                    installed_version: finding.installed_version,
                    fixed_version: fix.fixed_version.clone(),
                    other_fixed_versions: Vec::new(),
                    vulnerabilities: vec![fix],
                });
            }
        }
    }
    updates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::version_order::compare;

    fn finding(package: &str, fixed: &str, id: &str, path: Option<&str>) -> Finding {
        Finding {
            package: package.into(),
            installed_version: "1.0".into(),
            fixed_version: fixed.into(),
            vulnerability_id: id.into(),
            class: if path.is_some() {
                PackageClass::Library
            } else {
                PackageClass::Os
            },
            package_type: "debian".into(),
            path: path.map(str::to_string),
        }
    }

    #[test]
    fn one_update_per_package_at_the_highest_fixed_version() {
        let updates = by_package(
            vec![
                finding("openssl", "3.0.9", "CVE-1", None),
                finding("zlib", "1.3", "CVE-2", None),
                finding("openssl", "3.0.13", "CVE-3", None),
                finding("openssl", "3.0.10", "CVE-4", None),
                finding("openssl", "3.0.13", "CVE-3", None),
            ],
            &compare,
        );
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].package, "openssl");
        assert_eq!(updates[0].fixed_version, "3.0.13");
        let ids: Vec<&str> = updates[0]
            .vulnerabilities
            .iter()
            .map(|v| v.id.as_str())
            .collect();
        assert_eq!(ids, ["CVE-1", "CVE-3", "CVE-4"]);
        assert_eq!(updates[0].vulnerabilities[0].fixed_version, "3.0.9");
    }

    #[test]
    fn the_fixed_version_is_chosen_again_by_another_order() {
        let mut updates = by_package(
            vec![
                finding("urllib3", "2.0.0rc1", "CVE-1", None),
                finding("urllib3", "2.0.0", "CVE-2", None),
                finding("urllib3", "2.0.0rc1", "CVE-3", None),
            ],
            &compare,
        );
        let update = &mut updates[0];
        assert_eq!(update.fixed_version, "2.0.0rc1", "the generic order");
        assert_eq!(update.other_fixed_versions, ["2.0.0"]);
        // An order where a pre-release (`rc`) comes before its release, as PEP 440 has it.
        let pre_release_first = |a: &str, b: &str| -> Result<Ordering, String> {
            let key = |v: &str| (v.split("rc").next().unwrap().to_string(), !v.contains("rc"));
            Ok(key(a).cmp(&key(b)))
        };
        update.choose_fixed_version(pre_release_first).unwrap();
        assert_eq!(update.fixed_version, "2.0.0");
        let refused = update.choose_fixed_version(|a, _| Err(format!("{a} is not valid")));
        assert_eq!(refused, Err("2.0.0 is not valid".to_string()));
    }

    #[test]
    fn libraries_in_different_places_stay_apart() {
        let updates = by_package(
            vec![
                finding(
                    "requests",
                    "2.31.0",
                    "CVE-1",
                    Some("/usr/lib/python3/site-packages"),
                ),
                finding(
                    "requests",
                    "2.31.0",
                    "CVE-1",
                    Some("/opt/venv/lib/site-packages"),
                ),
            ],
            &compare,
        );
        assert_eq!(updates.len(), 2);
    }
}
