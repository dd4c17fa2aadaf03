//! {{name}}: a salve scanner plugin. It reads plain-text reports with one finding a line,
//! `package installed-version fixed-version vulnerability-id` (`-` as the fixed version when there
//! is none), `#` comments, and `# os: ID VERSION` naming the image's OS. Change `sniff` and
//! `parse` to read your scanner's format; `sample-report.txt` is what the tests read.

use salve_plugin_sdk::{
    Finding, OsInfo, PackageClass, Scanner, ScannerInfo, Skipped, UpdateManifest,
};

/// The plugin: a type implementing the SDK's `Scanner` trait, exported below.
pub struct Plugin;

impl Scanner for Plugin {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            // salve names plugins by file: this plugin must be stored as {{name}}.wasm.
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "plain-text reports: package installed fixed vulnerability".into(),
        }
    }

    /// How sure the plugin is that `head` (the report's first 64 KiB) is its format, 0 (not
    /// mine) to 100 (certainly mine). salve reads the report with the surest plugin; when two
    /// share the highest score it stops and asks for `--scanner NAME`. The built-in plugins
    /// answer 95 for reports surely theirs and 70 to 75 for likely ones: a loose guess like
    /// this one's stays below them.
    fn sniff(head: &[u8]) -> u8 {
        let Ok(text) = std::str::from_utf8(head) else {
            return 0;
        };
        let first = text
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with('#'));
        match first {
            Some(line) if line.split_whitespace().count() == 4 => 40,
            _ => 0,
        }
    }

    fn parse(report: &[u8]) -> Result<UpdateManifest, String> {
        let text = std::str::from_utf8(report).map_err(|error| format!("not UTF-8: {error}"))?;
        let mut manifest = UpdateManifest {
            os: None,
            platform: None,
            findings: Vec::new(),
            skipped: Vec::new(),
        };
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(os) = comment.trim().strip_prefix("os:") {
                    manifest.os = parse_os(os)
                        .map(Some)
                        .map_err(|error| format!("line {}: {error}", index + 1))?;
                }
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [] => {}
                [package, _installed, "-", id] => manifest.skipped.push(Skipped {
                    package: package.to_string(),
                    vulnerability_id: id.to_string(),
                    reason: "no fixed version".into(),
                }),
                [package, installed, fixed, id] => manifest.findings.push(Finding {
                    package: package.to_string(),
                    installed_version: installed.to_string(),
                    fixed_version: fixed.to_string(),
                    vulnerability_id: id.to_string(),
                    class: PackageClass::Os,
                    package_type: "deb".into(),
                    path: None,
                }),
                _ => {
                    return Err(format!(
                        "line {}: expected 4 fields (package installed fixed id), found {}",
                        index + 1,
                        fields.len()
                    ));
                }
            }
        }
        Ok(manifest)
    }
}

/// `ID VERSION` from an `# os:` comment.
fn parse_os(text: &str) -> Result<OsInfo, String> {
    match text.split_whitespace().collect::<Vec<_>>().as_slice() {
        [id, version] => Ok(OsInfo {
            id: id.to_lowercase(),
            version_id: version.to_string(),
            codename: None,
        }),
        _ => Err(format!("expected `# os: ID VERSION`, found `# os:{text}`")),
    }
}

salve_plugin_sdk::export_scanner!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = include_bytes!("../sample-report.txt");

    #[test]
    fn recognises_its_format_and_nothing_else() {
        assert_eq!(Plugin::sniff(SAMPLE), 40);
        assert_eq!(Plugin::sniff(br#"{"SchemaVersion": 2}"#), 0);
    }

    #[test]
    fn reads_the_sample_report() {
        let manifest = Plugin::parse(SAMPLE).unwrap();
        assert_eq!(
            manifest.os.as_ref().map(|os| os.id.as_str()),
            Some("debian")
        );
        assert_eq!(manifest.findings.len(), 2);
        assert_eq!(manifest.findings[0].package, "openssl");
        assert_eq!(manifest.findings[0].fixed_version, "3.0.15-1~deb12u1");
        assert_eq!(manifest.skipped.len(), 1);
        assert_eq!(manifest.skipped[0].reason, "no fixed version");
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_it() {
        let error = Plugin::parse(b"openssl 3.0.11\n").unwrap_err();
        assert!(error.starts_with("line 1: expected 4 fields"), "{error}");
    }
}
