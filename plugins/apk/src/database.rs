//! apk's package database, `/lib/apk/db/installed`: one stanza per package, `X:value` lines
//! (`P` name, `V` version, `A` architecture), stanzas separated by blank lines.

use salve_plugin_sdk::InstalledPackage;

/// The database's path in an image.
pub const INSTALLED: &str = "/lib/apk/db/installed";

/// The packages installed according to a database's text.
pub fn parse(text: &str) -> Result<Vec<InstalledPackage>, String> {
    let mut packages = Vec::new();
    for (index, stanza) in text.split("\n\n").enumerate() {
        let field = |key: char| {
            stanza.lines().find_map(|line| {
                let mut chars = line.chars();
                (chars.next() == Some(key) && chars.next() == Some(':')).then(|| line[2..].trim())
            })
        };
        if stanza.trim().is_empty() {
            continue;
        }
        let (Some(name), Some(version)) = (field('P'), field('V')) else {
            return Err(format!(
                "package {} of the apk database has no {}",
                index + 1,
                if field('P').is_none() {
                    "P: (name)"
                } else {
                    "V: (version)"
                }
            ));
        };
        packages.push(InstalledPackage {
            name: name.to_string(),
            version: version.to_string(),
            architecture: field('A').map(str::to_string),
            location: None,
        });
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_versions_and_arches() {
        let text = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nT:the musl c library\n\n\
C:Q1def=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nF:bin\nR:busybox\n\n";
        let packages = parse(text).unwrap();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0].name, "musl");
        assert_eq!(packages[0].version, "1.2.4-r2");
        assert_eq!(packages[1].architecture.as_deref(), Some("x86_64"));
    }

    #[test]
    fn a_package_without_a_version_is_an_error() {
        let error = parse("P:musl\nA:x86_64\n").unwrap_err();
        assert!(error.contains("V: (version)"), "{error}");
    }
}
