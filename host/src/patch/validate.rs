//! Step 6 of a patch: after the steps, every requested package must be installed at a version at
//! least its fixed version, by the ecosystem plugin's own ordering; and for update-all, the list
//! of what changed.

use crate::plugin::Ecosystem;
use crate::plugin::types::InstalledPackage;
use serde::Serialize;
use std::cmp::Ordering;

/// One package that did not reach its fixed version, or that salve could not even try to patch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shortfall {
    /// The package.
    pub package: String,
    /// The version installed after the steps (`None`: not installed at all).
    pub installed: Option<String>,
    /// The version required.
    pub required: String,
    /// Why salve left the package alone, when it could not place it before planning (not where
    /// the report says it is, no ecosystem plugin for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_patched: Option<String>,
}

impl Shortfall {
    /// A finding salve could not place, with the reason.
    pub fn not_patched(package: &str, required: &str, why: String) -> Shortfall {
        Shortfall {
            package: package.to_string(),
            installed: None,
            required: required.to_string(),
            not_patched: Some(why),
        }
    }

    /// copa's wording for packages below their fixed version, so that scripts matching it keep
    /// working; salve's own for packages it could not place.
    pub fn message(&self) -> String {
        if let Some(why) = &self.not_patched {
            return format!(
                "package {} (required {}) was not patched: {why}",
                self.package, self.required
            );
        }
        match &self.installed {
            Some(version) => format!(
                "downloaded package {} version {version} lower than required {} for update",
                self.package, self.required
            ),
            None => format!(
                "package {} is not installed after the update (required {})",
                self.package, self.required
            ),
        }
    }
}

/// One package whose version changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The package.
    pub package: String,
    /// Where it lives, for libraries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The version before (`None`: newly installed).
    pub from: Option<String>,
    /// The version after.
    pub to: String,
}

/// The installed entry for `package` (at `location`, for libraries).
pub fn find<'a>(
    installed: &'a [InstalledPackage],
    package: &str,
    location: Option<&str>,
) -> Option<&'a InstalledPackage> {
    installed.iter().find(|candidate| {
        candidate.name == package
            && (location.is_none() || candidate.location.as_deref() == location)
    })
}

/// Checks one requested update against what is installed now.
pub fn check(
    ecosystem: &Ecosystem<'_>,
    installed: &[InstalledPackage],
    package: &str,
    location: Option<&str>,
    required: &str,
) -> anyhow::Result<Option<Shortfall>> {
    let shortfall = |installed: Option<String>| Shortfall {
        package: package.to_string(),
        installed,
        required: required.to_string(),
        not_patched: None,
    };
    let Some(found) = find(installed, package, location) else {
        return Ok(Some(shortfall(None)));
    };
    Ok(
        match ecosystem.compare_versions(&found.version, required)? {
            Ordering::Less => Some(shortfall(Some(found.version.clone()))),
            _ => None,
        },
    )
}

/// What changed between two package lists, in the order of `after`.
pub fn changes(before: &[InstalledPackage], after: &[InstalledPackage]) -> Vec<Change> {
    after
        .iter()
        .filter_map(|package| {
            let old = find(before, &package.name, package.location.as_deref());
            match old {
                Some(old) if old.version == package.version => None,
                _ => Some(Change {
                    package: package.name.clone(),
                    location: package.location.clone(),
                    from: old.map(|old| old.version.clone()),
                    to: package.version.clone(),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, version: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: version.into(),
            architecture: None,
            location: None,
        }
    }

    #[test]
    fn changes_list_upgrades_and_new_packages_only() {
        let before = [package("a", "1"), package("b", "1")];
        let after = [package("a", "2"), package("b", "1"), package("c", "1")];
        let changes = changes(&before, &after);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].from.as_deref(), Some("1"));
        assert_eq!(changes[0].to, "2");
        assert_eq!(changes[1].from, None);
    }

    #[test]
    fn shortfalls_use_copas_wording() {
        let shortfall = Shortfall {
            package: "libssl3".into(),
            installed: Some("3.0.11-1~deb12u2".into()),
            required: "3.0.13-1~deb12u1".into(),
            not_patched: None,
        };
        assert_eq!(
            shortfall.message(),
            "downloaded package libssl3 version 3.0.11-1~deb12u2 lower than required 3.0.13-1~deb12u1 for update"
        );
        let unplaced = Shortfall::not_patched("requests", "2.32.0", "not here".into());
        assert_eq!(
            unplaced.message(),
            "package requests (required 2.32.0) was not patched: not here"
        );
    }
}
