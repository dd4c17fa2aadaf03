//! Turning a parsed Grype report into salve's update manifest.

use crate::model::{Match, Report, Target};
use salve_plugin_sdk::{
    Finding, OsInfo, PackageClass, Platform, Skipped, UpdateManifest, fixed_version, json,
    os_release,
};

/// Parses a Grype JSON report into an update manifest.
pub fn parse_report(bytes: &[u8]) -> Result<UpdateManifest, String> {
    if salve_plugin_sdk::sniff::is_json_array(bytes) {
        return Err(
            "not a Grype JSON report: it is a JSON array; produce one with \
                    `grype IMAGE -o json`"
                .into(),
        );
    }
    let report: Report<'_> = json::parse(bytes, "Grype")?;
    let Some(matches) = report.matches else {
        return Err(
            "not a Grype JSON report: it has no \"matches\"; produce one with \
                    `grype IMAGE -o json`"
                .into(),
        );
    };
    let mut manifest = UpdateManifest {
        os: report.distro.as_ref().and_then(|distro| {
            Some(OsInfo {
                id: os_release::id_from_scanner_name(distro.name.as_deref()?),
                version_id: distro.version.as_deref().unwrap_or_default().to_string(),
                codename: None,
            })
        }),
        platform: report
            .source
            .as_ref()
            .and_then(|source| match source.target.as_ref()? {
                Target::Image(image) => Some(Platform {
                    os: image.os.as_deref().unwrap_or("linux").to_string(),
                    architecture: image.architecture.as_deref()?.to_string(),
                    variant: None,
                }),
                Target::Other(_) => None,
            }),
        findings: Vec::new(),
        skipped: Vec::new(),
    };
    for found in &matches {
        add_match(found, &mut manifest);
    }
    Ok(manifest)
}

/// Adds one match as a finding, or as a skipped entry with the reason.
fn add_match(found: &Match<'_>, manifest: &mut UpdateManifest) {
    let artifact = &found.artifact;
    let package = artifact.name.as_deref().unwrap_or("").to_string();
    let vulnerability_id = found.vulnerability.id.as_deref().unwrap_or("").to_string();
    let package_type = artifact.r#type.as_deref().unwrap_or("").to_string();
    let mut skip = |reason: String| {
        manifest.skipped.push(Skipped {
            package: package.clone(),
            vulnerability_id: vulnerability_id.clone(),
            reason,
        })
    };

    let class = match package_type.as_str() {
        "deb" | "rpm" | "apk" => PackageClass::Os,
        "python" => PackageClass::Library,
        other => {
            return skip(format!(
                "packages of type {other:?} are not patched by salve (only deb, rpm, apk and python)"
            ));
        }
    };
    if package.is_empty() {
        return skip("the match names no package (artifact.name is empty)".into());
    }
    let fix = found.vulnerability.fix.as_ref();
    let state = fix.and_then(|fix| fix.state.as_deref()).unwrap_or("");
    let candidates: Vec<&str> = fix
        .and_then(|fix| fix.versions.as_ref())
        .into_iter()
        .flatten()
        .map(|version| version.trim())
        .filter(|version| !version.is_empty())
        .collect();
    let installed = artifact.version.as_deref().unwrap_or("");
    let chosen = (state == "fixed")
        .then(|| fixed_version::choose(installed, &candidates))
        .flatten();
    let Some(fixed_version) = chosen else {
        return skip(match state {
            "wont-fix" => "no fixed version: the distribution will not fix it".into(),
            "not-fixed" => "no fixed version yet".into(),
            "fixed" => "Grype says fixed but lists no version".into(),
            "" | "unknown" => "no fixed version".into(),
            other => format!("no fixed version (state {other})"),
        });
    };
    let path = match class {
        PackageClass::Library => artifact
            .locations
            .iter()
            .flatten()
            .find_map(|location| location.path.as_deref())
            .map(str::to_string),
        PackageClass::Os => None,
    };
    manifest.findings.push(Finding {
        package,
        installed_version: installed.to_string(),
        fixed_version: fixed_version.to_string(),
        vulnerability_id,
        class,
        package_type,
        path,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UpdateManifest, String> {
        parse_report(text.as_bytes())
    }

    /// A match in Grype's shape.
    fn matched(name: &str, kind: &str, version: &str, state: &str, fixes: &[&str]) -> String {
        format!(
            r#"{{"vulnerability":{{"id":"CVE-{name}","fix":{{"versions":{fixes:?},"state":"{state}"}}}},
            "artifact":{{"name":"{name}","version":"{version}","type":"{kind}",
            "locations":[{{"path":"/usr/lib/python3/dist-packages/{name}-{version}.dist-info/METADATA"}}]}}}}"#
        )
    }

    fn report(matches: &[String]) -> String {
        format!(
            r#"{{"matches":[{}],"source":{{"type":"image","target":{{"architecture":"arm64","os":"linux"}}}},
            "distro":{{"name":"redhat","version":"8.7","idLike":["fedora"]}},"descriptor":{{"name":"grype"}}}}"#,
            matches.join(",")
        )
    }

    #[test]
    fn reads_distro_platform_and_fixed_matches() {
        let manifest = parse(&report(&[
            matched(
                "openssl-libs",
                "rpm",
                "1:1.1.1k-7.el8",
                "fixed",
                &["1:1.1.1k-9.el8"],
            ),
            matched("requests", "python", "2.25.0", "fixed", &["2.31.0"]),
        ]))
        .unwrap();
        let os = manifest.os.unwrap();
        assert_eq!((os.id.as_str(), os.version_id.as_str()), ("rhel", "8.7"));
        assert_eq!(manifest.platform.unwrap().architecture, "arm64");
        assert_eq!(manifest.findings.len(), 2);
        assert_eq!(manifest.findings[0].fixed_version, "1:1.1.1k-9.el8");
        assert_eq!(manifest.findings[0].class, PackageClass::Os);
        assert_eq!(manifest.findings[0].path, None);
        assert_eq!(manifest.findings[1].class, PackageClass::Library);
        assert!(
            manifest.findings[1]
                .path
                .as_deref()
                .unwrap()
                .ends_with("/METADATA")
        );
    }

    #[test]
    fn unfixed_and_unsupported_matches_are_skipped_with_reasons() {
        let manifest = parse(&report(&[
            matched("bash", "deb", "5.2-1", "wont-fix", &[]),
            matched("zlib", "deb", "1.2-1", "not-fixed", &[]),
            matched("lodash", "npm", "4.0.0", "fixed", &["4.17.21"]),
            matched("tar", "deb", "1.34", "fixed", &[]),
        ]))
        .unwrap();
        assert!(manifest.findings.is_empty());
        let reasons: Vec<&str> = manifest.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons[0].contains("will not fix"));
        assert!(reasons[1].contains("yet"));
        assert!(reasons[2].contains("\"npm\""));
        assert!(reasons[3].contains("lists no version"));
    }

    #[test]
    fn several_fix_versions_pick_the_installed_branch() {
        let manifest = parse(&report(&[matched(
            "django",
            "python",
            "3.2.1",
            "fixed",
            &["4.2.8", "3.2.23"],
        )]))
        .unwrap();
        assert_eq!(manifest.findings[0].fixed_version, "3.2.23");
    }

    #[test]
    fn directory_sources_have_no_platform() {
        let manifest =
            parse(r#"{"matches":[],"source":{"type":"directory","target":"/src"}}"#).unwrap();
        assert_eq!(manifest.platform, None);
        assert_eq!(manifest.os, None);
    }

    #[test]
    fn foreign_documents_are_clear_errors() {
        assert!(parse("[]").unwrap_err().contains("JSON array"));
        assert!(
            parse(r#"{"SchemaVersion":2}"#)
                .unwrap_err()
                .contains("no \"matches\"")
        );
        assert!(parse(r#"{"matches":[{"#).unwrap_err().contains("truncated"));
        assert!(
            parse(r#"{"matches":5}"#)
                .unwrap_err()
                .contains("Grype's shape")
        );
    }
}
