//! Screening what a scanner plugin returned before anything acts on it (the report's input safety;
//! whether a patch worked is `patch::validate`'s).
//!
//! Package names and versions end up as arguments of package-manager commands, paths name files
//! in the image, and every string is printed to a terminal. A report is data from outside (and
//! the plugin that read it may be a third party's), so every finding is checked here, in the
//! host, before any of it is used:
//! - package names: a letter or digit, then letters, digits and `._+-` (no leading `-`, so never
//!   an option), at most 256 bytes;
//! - versions: a letter or digit, then letters, digits and `._+~:^-`, at most 256 bytes;
//! - paths: no `..` segment, no control characters;
//! - everything else (ids, types, reasons, OS and platform): no control characters, so nothing
//!   can rewrite the terminal.

use crate::plugin::types::{Finding, UpdateManifest};

/// The longest package name or version accepted.
const MAX_TOKEN: usize = 256;

/// The longest path or free text accepted.
const MAX_TEXT: usize = 4096;

/// How many problems an error lists before it stops counting them one by one.
const MAX_LISTED: usize = 20;

/// Why one value of a manifest is not safe to act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Flaw {
    /// A value that must be there is empty.
    #[error("is empty")]
    Empty,
    /// Longer than salve accepts.
    #[error("is {length} bytes long (at most {limit})")]
    TooLong {
        /// Its length in bytes.
        length: usize,
        /// The most accepted.
        limit: usize,
    },
    /// A word that does not start with a letter or digit (so it could be read as an option).
    #[error("{0:?} must start with a letter or digit")]
    BadStart(String),
    /// A word with a character outside its alphabet.
    #[error("{value:?} contains {character:?}, which is not allowed")]
    BadCharacter {
        /// The value.
        value: String,
        /// The first character not allowed.
        character: char,
    },
    /// Text with a control character, which could rewrite the terminal.
    #[error("{value:?} contains the control character {character:?}")]
    Control {
        /// The value.
        value: String,
        /// The first control character.
        character: char,
    },
    /// A path that climbs out of where it points.
    #[error("{0:?} has a `..` segment")]
    ParentSegment(String),
}

/// Checks a manifest; the error lists each problem with the finding it is in.
pub fn manifest(manifest: &UpdateManifest) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if let Some(os) = &manifest.os {
        check(
            &mut problems,
            "the report's OS id",
            token(&os.id, "._-", true),
        );
        check(
            &mut problems,
            "the report's OS version",
            token(&os.version_id, "._-~+", false),
        );
        if let Some(codename) = &os.codename {
            check(
                &mut problems,
                "the report's OS codename",
                token(codename, "._-", true),
            );
        }
    }
    if let Some(platform) = &manifest.platform {
        check(
            &mut problems,
            "the report's platform OS",
            token(&platform.os, "_-", true),
        );
        check(
            &mut problems,
            "the report's architecture",
            token(&platform.architecture, "_-", true),
        );
        if let Some(variant) = &platform.variant {
            check(
                &mut problems,
                "the report's platform variant",
                token(variant, "_-", true),
            );
        }
    }
    for (index, finding) in manifest.findings.iter().enumerate() {
        let at = || describe(index, finding);
        check_at(
            &mut problems,
            &at,
            "package name",
            package_name(&finding.package),
        );
        check_at(
            &mut problems,
            &at,
            "fixed version",
            version(&finding.fixed_version, true),
        );
        check_at(
            &mut problems,
            &at,
            "installed version",
            version(&finding.installed_version, false),
        );
        check_at(
            &mut problems,
            &at,
            "vulnerability id",
            text(&finding.vulnerability_id, true),
        );
        check_at(
            &mut problems,
            &at,
            "package type",
            text(&finding.package_type, false),
        );
        if let Some(path) = &finding.path {
            check_at(&mut problems, &at, "path", image_path(path));
        }
    }
    for (index, skipped) in manifest.skipped.iter().enumerate() {
        let at = || format!("skipped entry {} ({:?})", index + 1, skipped.package);
        check_at(
            &mut problems,
            &at,
            "package name",
            text(&skipped.package, false),
        );
        check_at(
            &mut problems,
            &at,
            "vulnerability id",
            text(&skipped.vulnerability_id, false),
        );
        check_at(&mut problems, &at, "reason", text(&skipped.reason, false));
    }
    if problems.is_empty() {
        return Ok(());
    }
    if problems.len() > MAX_LISTED {
        let more = problems.len() - MAX_LISTED;
        problems.truncate(MAX_LISTED);
        problems.push(format!("... and {more} more"));
    }
    Err(problems)
}

/// Names a finding in an error: its position, package and vulnerability, quoted and escaped.
fn describe(index: usize, finding: &Finding) -> String {
    format!(
        "finding {} (package {:?}, {:?})",
        index + 1,
        finding.package,
        finding.vulnerability_id
    )
}

/// Records a problem with a field of the manifest itself.
fn check(problems: &mut Vec<String>, what: &str, result: Result<(), Flaw>) {
    if let Err(problem) = result {
        problems.push(format!("{what}: {problem}"));
    }
}

/// Records a problem with a field of a finding or skipped entry.
fn check_at(
    problems: &mut Vec<String>,
    at: &dyn Fn() -> String,
    field: &str,
    result: Result<(), Flaw>,
) {
    if let Err(problem) = result {
        problems.push(format!("{}: {field} {problem}", at()));
    }
}

/// A package name as package managers take it on their command line.
pub fn package_name(name: &str) -> Result<(), Flaw> {
    token(name, "._+-", true)
}

/// A version as package managers take it on their command line.
pub fn version(version: &str, required: bool) -> Result<(), Flaw> {
    token(version, "._+~:^-", required)
}

/// A word of letters, digits and `extra`, starting with a letter or digit.
fn token(value: &str, extra: &str, required: bool) -> Result<(), Flaw> {
    if value.is_empty() {
        return if required { Err(Flaw::Empty) } else { Ok(()) };
    }
    if value.len() > MAX_TOKEN {
        return Err(Flaw::TooLong {
            length: value.len(),
            limit: MAX_TOKEN,
        });
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Flaw::BadStart(value.to_string()));
    }
    match value
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !extra.contains(*c))
    {
        Some(character) => Err(Flaw::BadCharacter {
            value: value.to_string(),
            character,
        }),
        None => Ok(()),
    }
}

/// A path inside the image.
fn image_path(path: &str) -> Result<(), Flaw> {
    text(path, true)?;
    if path.split('/').any(|segment| segment == "..") {
        return Err(Flaw::ParentSegment(path.to_string()));
    }
    Ok(())
}

/// Printable text without control characters.
fn text(value: &str, required: bool) -> Result<(), Flaw> {
    if required && value.is_empty() {
        return Err(Flaw::Empty);
    }
    if value.len() > MAX_TEXT {
        return Err(Flaw::TooLong {
            length: value.len(),
            limit: MAX_TEXT,
        });
    }
    match value.chars().find(|c| c.is_control()) {
        Some(character) => Err(Flaw::Control {
            value: value.to_string(),
            character,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::types::{PackageClass, Skipped};

    fn finding(package: &str, fixed: &str) -> Finding {
        Finding {
            package: package.into(),
            installed_version: "1.0-1".into(),
            fixed_version: fixed.into(),
            vulnerability_id: "CVE-2024-0001".into(),
            class: PackageClass::Os,
            package_type: "debian".into(),
            path: None,
        }
    }

    fn with(findings: Vec<Finding>) -> UpdateManifest {
        UpdateManifest {
            os: None,
            platform: None,
            findings,
            skipped: Vec::new(),
        }
    }

    #[test]
    fn real_names_and_versions_pass() {
        let manifest = with(vec![
            finding("libssl3", "3.0.13-1~deb12u1"),
            finding("libstdc++6", "12.2.0-14+deb12u1"),
            finding("openssl-libs", "1:1.1.1k-9.el8_7"),
            finding("typing_extensions", "4.8.0"),
            finding("glibc", "2.34^20220124-1"),
        ]);
        assert_eq!(manifest_result(&manifest), Ok(()));
    }

    fn manifest_result(manifest: &UpdateManifest) -> Result<(), Vec<String>> {
        super::manifest(manifest)
    }

    #[test]
    fn shell_metacharacters_and_options_are_refused_with_the_finding_named() {
        let problems = manifest_result(&with(vec![
            finding("curl; rm -rf /", "1"),
            finding("--force-yes", "1"),
            finding("bash", "$(reboot)"),
            finding("zlib", ""),
        ]))
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("finding 1 (package \"curl; rm -rf /\""));
        assert!(problems[0].contains("';'"));
        assert!(problems[1].contains("must start with a letter or digit"));
        assert!(problems[2].contains("fixed version"));
        assert!(problems[3].contains("is empty"));
    }

    #[test]
    fn control_characters_and_parent_paths_are_refused() {
        let mut escape = finding("vim", "9.0");
        escape.vulnerability_id = "CVE-1\u{1b}[2J".into();
        let mut climbing = finding("requests", "2.31.0");
        climbing.path = Some("usr/lib/../../etc/passwd".into());
        let mut manifest = with(vec![escape, climbing]);
        manifest.skipped.push(Skipped {
            package: "x".into(),
            vulnerability_id: "y".into(),
            reason: "bell\u{7}".into(),
        });
        let problems = manifest_result(&manifest).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("control character"));
        assert!(problems[1].contains("`..` segment"));
        assert!(problems[2].starts_with("skipped entry 1"));
    }

    #[test]
    fn long_lists_of_problems_are_cut_short() {
        let findings = (0..50).map(|_| finding("a b", "1")).collect();
        let problems = manifest_result(&with(findings)).unwrap_err();
        assert_eq!(problems.len(), MAX_LISTED + 1);
        assert_eq!(problems.last().unwrap(), "... and 30 more");
    }
}
