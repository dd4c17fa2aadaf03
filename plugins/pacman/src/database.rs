//! pacman's local database: one folder per installed package under `/var/lib/pacman/local`,
//! each with a `desc` file of `%FIELD%` sections (a line naming the field, its values on the
//! lines after, a blank line ending it).

use salve_plugin_sdk::versions::alpm;

/// The folder of the local database.
pub const LOCAL: &str = "/var/lib/pacman/local";
/// The file pacman writes in the local database with its format's version.
pub const DB_VERSION: &str = "/var/lib/pacman/local/ALPM_DB_VERSION";
/// Each package's description, as a pattern of image paths.
pub const DESCRIPTIONS: &str = "/var/lib/pacman/local/*/desc";

/// One installed package, from its `desc` file.
#[derive(Debug, PartialEq, Eq)]
pub struct Package {
    /// `%NAME%`.
    pub name: String,
    /// `%VERSION%`: `[epoch:]pkgver-pkgrel`.
    pub version: String,
    /// `%ARCH%`: `x86_64`, `aarch64`, `any`.
    pub architecture: Option<String>,
}

/// Whether an image path is a package's `desc` file in the local database.
pub fn is_description(path: &str) -> bool {
    path.strip_prefix(LOCAL)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_suffix("/desc"))
        .is_some_and(|folder| !folder.is_empty() && !folder.contains('/'))
}

/// Reads one `desc` file; a package without a name or a valid version is an error.
pub fn parse_description(text: &str) -> Result<Package, String> {
    let mut name = None;
    let mut version = None;
    let mut architecture = None;
    let mut field: Option<&str> = None;
    for line in text.lines() {
        if line.is_empty() {
            field = None;
            continue;
        }
        if line.len() > 2 && line.starts_with('%') && line.ends_with('%') && field.is_none() {
            field = Some(&line[1..line.len() - 1]);
            continue;
        }
        let slot = match field {
            Some("NAME") => &mut name,
            Some("VERSION") => &mut version,
            Some("ARCH") => &mut architecture,
            Some(_) => continue,
            None => return Err(format!("a value outside any %FIELD% section: {line:?}")),
        };
        if slot.is_some() {
            return Err(format!("%{}% has more than one value", field.unwrap_or("")));
        }
        *slot = Some(line.trim().to_string());
    }
    let name = name.ok_or("it has no %NAME%")?;
    let version = version.ok_or_else(|| format!("package {name} has no %VERSION%"))?;
    alpm::parse(&version).map_err(|error| format!("package {name}: {error}"))?;
    Ok(Package {
        name,
        version,
        architecture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASH: &str = "%NAME%\nbash\n\n%VERSION%\n5.2.026-2\n\n%BASE%\nbash\n\n\
        %DESC%\nThe GNU Bourne Again shell\n\n%ARCH%\nx86_64\n\n%LICENSE%\nGPL-3.0-or-later\n\n\
        %DEPENDS%\nreadline\nlibreadline.so=8-64\nglibc\nncurses\n\n";

    #[test]
    fn reads_name_version_and_architecture() {
        let bash = parse_description(BASH).unwrap();
        assert_eq!(
            bash,
            Package {
                name: "bash".into(),
                version: "5.2.026-2".into(),
                architecture: Some("x86_64".into()),
            }
        );
    }

    #[test]
    fn damaged_descriptions_are_errors() {
        assert!(parse_description("%VERSION%\n1-1\n").is_err());
        assert!(parse_description("%NAME%\nbash\n").is_err());
        assert!(parse_description("%NAME%\nbash\n\n%VERSION%\n1 0-1\n").is_err());
        assert!(parse_description("bash\n").is_err());
        assert!(parse_description("%NAME%\nbash\nzsh\n\n%VERSION%\n1-1\n").is_err());
    }

    #[test]
    fn only_a_packages_own_desc_file_is_a_description() {
        assert!(is_description("/var/lib/pacman/local/bash-5.2.026-2/desc"));
        assert!(!is_description("/var/lib/pacman/local/desc"));
        assert!(!is_description("/var/lib/pacman/local/a/b/desc"));
        assert!(!is_description(
            "/var/lib/pacman/local/bash-5.2.026-2/files"
        ));
    }
}
