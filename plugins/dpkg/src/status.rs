//! dpkg's package database: `/var/lib/dpkg/status` and distroless `/var/lib/dpkg/status.d/*`.
//!
//! Both are control-file stanzas (`Field: value`, continuation lines starting with a space),
//! separated by blank lines. In `status`, only stanzas whose `Status` ends in `installed` are
//! installed packages; `status.d` files (one per package, written by distroless image builders)
//! usually carry no `Status` and are all installed. `*.md5sums` files beside them are not stanzas.

/// One installed package from the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Architecture`.
    pub architecture: Option<String>,
    /// True when `Status` starts with `hold`: apt will not upgrade it.
    pub held: bool,
}

/// The packages installed according to one database file's text.
pub fn parse(text: &str) -> Result<Vec<Package>, String> {
    let mut packages = Vec::new();
    for (index, stanza) in stanzas(text).enumerate() {
        let field = |name: &str| {
            stanza
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.trim())
        };
        if let Some(status) = field("Status")
            && !status.ends_with(" installed")
        {
            continue;
        }
        let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
            return Err(format!(
                "stanza {} of the dpkg database has no {}",
                index + 1,
                if field("Package").is_none() {
                    "Package"
                } else {
                    "Version"
                }
            ));
        };
        packages.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            architecture: field("Architecture").map(str::to_string),
            held: field("Status").is_some_and(|status| status.starts_with("hold ")),
        });
    }
    Ok(packages)
}

/// The stanzas of a control file: for each, its fields (continuation lines dropped, since no
/// field salve reads spans lines).
fn stanzas(text: &str) -> impl Iterator<Item = Vec<(&str, &str)>> {
    text.split("\n\n")
        .flat_map(|block| block.split("\r\n\r\n"))
        .map(|block| {
            block
                .lines()
                .filter(|line| !line.starts_with([' ', '\t']) && !line.starts_with('#'))
                .filter_map(|line| line.split_once(':'))
                .collect::<Vec<_>>()
        })
        .filter(|fields| !fields.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "\
Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation.
 .
 It provides the libssl and libcrypto shared libraries.

Package: old-thing
Status: deinstall ok config-files
Version: 1.0

Package: bash
Status: hold ok installed
Architecture: amd64
Version: 5.2.15-2+b2
";

    #[test]
    fn reads_installed_packages_and_holds() {
        let packages = parse(STATUS).unwrap();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0].name, "libssl3");
        assert_eq!(packages[0].version, "3.0.11-1~deb12u2");
        assert_eq!(packages[0].architecture.as_deref(), Some("amd64"));
        assert!(!packages[0].held);
        assert!(packages[1].held);
    }

    #[test]
    fn status_d_entries_without_status_are_installed() {
        let packages =
            parse("Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n").unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0].name, "tzdata");
    }

    #[test]
    fn a_stanza_without_a_version_is_an_error() {
        let error = parse("Package: a\nVersion: 1\n\nPackage: b\nStatus: install ok installed\n")
            .unwrap_err();
        assert!(
            error.contains("stanza 2") && error.contains("Version"),
            "{error}"
        );
    }
}
