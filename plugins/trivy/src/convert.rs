//! Turning a parsed Trivy report into salve's update manifest.

use crate::model::{Report, TrivyResult, Vulnerability};
use salve_plugin_sdk::{
    Finding, OsInfo, PackageClass, Platform, Skipped, UpdateManifest, fixed_version, json,
    os_release,
};

/// Trivy's package types for OS packages, used when a result carries no `Class`.
const OS_PACKAGE_TYPES: &[&str] = &[
    "alma",
    "alpine",
    "amazon",
    "azurelinux",
    "cbl-mariner",
    "centos",
    "chainguard",
    "debian",
    "fedora",
    "oracle",
    "photon",
    "redhat",
    "rocky",
    "suse linux enterprise server",
    "suse linux enterprise micro",
    "opensuse.leap",
    "opensuse.tumbleweed",
    "ubuntu",
    "wolfi",
];

/// Parses a Trivy JSON report into an update manifest.
pub fn parse_report(bytes: &[u8]) -> Result<UpdateManifest, String> {
    reject_old_formats(bytes)?;
    let report: Report<'_> = json::parse(bytes, "Trivy")?;
    match report.schema_version {
        Some(2) => {}
        Some(1) => return Err(schema_one_error()),
        Some(other) => {
            return Err(format!(
                "Trivy report has SchemaVersion {other}; this plugin reads schema 2 \
                 (Trivy 0.20 and later)"
            ));
        }
        None => {
            return Err("not a Trivy JSON report: it has no \"SchemaVersion\"; \
                        produce one with `trivy image --format json`"
                .into());
        }
    }

    let mut manifest = UpdateManifest {
        os: report.metadata.os.as_ref().and_then(|os| {
            let (version_id, codename) = split_os_name(os.name.as_deref().unwrap_or_default());
            Some(OsInfo {
                id: os_release::id_from_scanner_name(os.family.as_deref()?),
                version_id,
                codename,
            })
        }),
        platform: report.metadata.image_config.as_ref().and_then(|config| {
            Some(Platform {
                os: config.os.as_deref().unwrap_or("linux").to_string(),
                architecture: config.architecture.as_deref()?.to_string(),
                variant: config.variant.as_deref().map(str::to_string),
            })
        }),
        findings: Vec::new(),
        skipped: Vec::new(),
    };
    for result in report.results.iter().flatten() {
        add_result(result, &mut manifest);
    }
    Ok(manifest)
}

/// How salve treats the findings of one result.
enum ResultKind {
    /// OS packages.
    Os,
    /// Python packages, patched as libraries.
    Python,
    /// Anything else: reported as skipped, with this reason.
    Unsupported(String),
}

/// Classifies a result by its `Class` (or, in old reports without one, its `Type`).
fn classify(result: &TrivyResult<'_>) -> ResultKind {
    let package_type = result.r#type.as_deref().unwrap_or("");
    match result.class.as_deref() {
        Some("os-pkgs") => ResultKind::Os,
        Some("lang-pkgs") if package_type == "python-pkg" => ResultKind::Python,
        Some("lang-pkgs") => ResultKind::Unsupported(format!(
            "language packages of type {package_type:?} are not patched by salve \
             (only OS packages and python-pkg)"
        )),
        None if OS_PACKAGE_TYPES.contains(&package_type) => ResultKind::Os,
        None if package_type == "python-pkg" => ResultKind::Python,
        class => ResultKind::Unsupported(format!(
            "Trivy result of class {:?} and type {package_type:?} is not a package salve patches",
            class.unwrap_or("")
        )),
    }
}

/// Adds the findings (or skipped entries) of one result to the manifest.
fn add_result(result: &TrivyResult<'_>, manifest: &mut UpdateManifest) {
    let kind = classify(result);
    let package_type = result.r#type.as_deref().unwrap_or("").to_string();
    for vulnerability in result.vulnerabilities.iter().flatten() {
        let package = vulnerability.pkg_name.as_deref().unwrap_or("").to_string();
        let vulnerability_id = vulnerability
            .vulnerability_id
            .as_deref()
            .unwrap_or("")
            .to_string();
        let skip = |reason: String| Skipped {
            package: package.clone(),
            vulnerability_id: vulnerability_id.clone(),
            reason,
        };
        let class = match &kind {
            ResultKind::Os => PackageClass::Os,
            ResultKind::Python => PackageClass::Library,
            ResultKind::Unsupported(reason) => {
                manifest.skipped.push(skip(reason.clone()));
                continue;
            }
        };
        if package.is_empty() {
            manifest.skipped.push(skip(
                "the finding names no package (PkgName is empty)".into(),
            ));
            continue;
        }
        let installed = vulnerability.installed_version.as_deref().unwrap_or("");
        let Some(fixed_version) = fixed_version(vulnerability, installed) else {
            manifest.skipped.push(skip(unfixed_reason(vulnerability)));
            continue;
        };
        manifest.findings.push(Finding {
            package,
            installed_version: installed.to_string(),
            fixed_version,
            vulnerability_id,
            class,
            package_type: package_type.clone(),
            path: match class {
                PackageClass::Library => vulnerability.pkg_path.as_deref().map(str::to_string),
                PackageClass::Os => None,
            },
        });
    }
}

/// The one fixed version to ask for, or `None` when Trivy lists none.
fn fixed_version(vulnerability: &Vulnerability<'_>, installed: &str) -> Option<String> {
    let listed = vulnerability.fixed_version.as_deref().unwrap_or("").trim();
    if listed.is_empty() {
        return None;
    }
    let candidates: Vec<&str> = listed
        .split(',')
        .map(str::trim)
        .filter(|candidate| !candidate.is_empty())
        .collect();
    fixed_version::choose(installed, &candidates).map(str::to_string)
}

/// Why a vulnerability without a fixed version is skipped, from its `Status`.
fn unfixed_reason(vulnerability: &Vulnerability<'_>) -> String {
    match vulnerability.status.as_deref() {
        Some("will_not_fix") => "no fixed version: the distribution will not fix it".into(),
        Some("fix_deferred") => "no fixed version: the distribution deferred the fix".into(),
        Some("end_of_life") => "no fixed version: the release is end of life".into(),
        Some("under_investigation") => "no fixed version: under investigation".into(),
        Some(status) if !status.is_empty() => format!("no fixed version (status {status})"),
        _ => "no fixed version".into(),
    }
}

/// Splits Trivy's OS name into version and codename: `"2 (Karoo)"` (Amazon Linux) is version `2`,
/// codename `karoo`; `"12.5"` is just a version.
fn split_os_name(name: &str) -> (String, Option<String>) {
    let name = name.trim();
    match name.split_once(char::is_whitespace) {
        Some((version, rest)) => {
            let codename = rest
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim();
            let codename = (!codename.is_empty()).then(|| codename.to_ascii_lowercase());
            (version.to_string(), codename)
        }
        None => (name.to_string(), None),
    }
}

/// Rejects reports of Trivy's schema 1 (a top-level array) before parsing them fully.
fn reject_old_formats(bytes: &[u8]) -> Result<(), String> {
    if salve_plugin_sdk::sniff::is_json_array(bytes) {
        return Err(schema_one_error());
    }
    Ok(())
}

/// The error for reports from Trivy before 0.20.
fn schema_one_error() -> String {
    "this Trivy report uses the old schema 1 (a top-level array, Trivy before 0.20); \
     upgrade Trivy to 0.20 or later and run `trivy image --format json` again"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UpdateManifest, String> {
        parse_report(text.as_bytes())
    }

    #[test]
    fn reads_os_platform_and_os_findings() {
        let manifest = parse(
            r#"{"SchemaVersion":2,"Metadata":{"OS":{"Family":"debian","Name":"12.5"},
            "ImageConfig":{"architecture":"arm","variant":"v7"}},
            "Results":[{"Class":"os-pkgs","Type":"debian","Vulnerabilities":[
              {"VulnerabilityID":"CVE-1","PkgName":"libssl3","InstalledVersion":"3.0.11-1~deb12u2",
               "FixedVersion":"3.0.13-1~deb12u1","Status":"fixed"}]}]}"#,
        )
        .unwrap();
        let os = manifest.os.unwrap();
        assert_eq!((os.id.as_str(), os.version_id.as_str()), ("debian", "12.5"));
        let platform = manifest.platform.unwrap();
        assert_eq!(platform.architecture, "arm");
        assert_eq!(platform.variant.as_deref(), Some("v7"));
        assert_eq!(manifest.findings.len(), 1);
        let finding = &manifest.findings[0];
        assert_eq!(finding.package, "libssl3");
        assert_eq!(finding.fixed_version, "3.0.13-1~deb12u1");
        assert_eq!(finding.class, PackageClass::Os);
        assert_eq!(finding.path, None);
    }

    #[test]
    fn python_packages_are_libraries_and_other_languages_are_skipped() {
        let manifest = parse(
            r#"{"SchemaVersion":2,"Results":[
              {"Class":"lang-pkgs","Type":"python-pkg","Vulnerabilities":[
                {"VulnerabilityID":"CVE-2","PkgName":"requests","InstalledVersion":"2.25.0",
                 "FixedVersion":"2.31.0","PkgPath":"usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA"}]},
              {"Class":"lang-pkgs","Type":"node-pkg","Vulnerabilities":[
                {"VulnerabilityID":"CVE-3","PkgName":"lodash","InstalledVersion":"4.0.0","FixedVersion":"4.17.21"}]}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.os, None);
        assert_eq!(manifest.findings.len(), 1);
        assert_eq!(manifest.findings[0].class, PackageClass::Library);
        assert!(
            manifest.findings[0]
                .path
                .as_deref()
                .unwrap()
                .ends_with("METADATA")
        );
        assert_eq!(manifest.skipped.len(), 1);
        assert!(manifest.skipped[0].reason.contains("node-pkg"));
    }

    #[test]
    fn unfixed_vulnerabilities_are_skipped_with_their_status() {
        let manifest = parse(
            r#"{"SchemaVersion":2,"Results":[{"Class":"os-pkgs","Type":"debian","Vulnerabilities":[
              {"VulnerabilityID":"CVE-4","PkgName":"tar","InstalledVersion":"1.34","Status":"will_not_fix"},
              {"VulnerabilityID":"CVE-5","PkgName":"tar","InstalledVersion":"1.34","FixedVersion":""}]}]}"#,
        )
        .unwrap();
        assert!(manifest.findings.is_empty());
        assert!(manifest.skipped[0].reason.contains("will not fix"));
        assert_eq!(manifest.skipped[1].reason, "no fixed version");
    }

    #[test]
    fn os_names_with_a_codename_are_split() {
        assert_eq!(
            split_os_name("2 (Karoo)"),
            ("2".into(), Some("karoo".into()))
        );
        assert_eq!(split_os_name("12.5"), ("12.5".into(), None));
        assert_eq!(split_os_name(""), ("".into(), None));
    }

    #[test]
    fn results_without_class_fall_back_on_type() {
        let manifest = parse(
            r#"{"SchemaVersion":2,"Results":[{"Type":"alpine","Vulnerabilities":[
              {"VulnerabilityID":"CVE-6","PkgName":"musl","InstalledVersion":"1.2.2-r0","FixedVersion":"1.2.2-r1"}]}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.findings[0].class, PackageClass::Os);
    }

    #[test]
    fn old_and_foreign_documents_are_clear_errors() {
        assert!(parse("[]").unwrap_err().contains("schema 1"));
        assert!(
            parse(r#"{"SchemaVersion":1}"#)
                .unwrap_err()
                .contains("schema 1")
        );
        assert!(
            parse(r#"{"SchemaVersion":3}"#)
                .unwrap_err()
                .contains("SchemaVersion 3")
        );
        assert!(
            parse(r#"{"matches":[]}"#)
                .unwrap_err()
                .contains("no \"SchemaVersion\"")
        );
        assert!(
            parse(r#"{"SchemaVersion":2,"Results":["#)
                .unwrap_err()
                .contains("truncated")
        );
        assert!(
            parse(r#"{"SchemaVersion":2,"Results":7}"#)
                .unwrap_err()
                .contains("shape")
        );
        let deep = "[".repeat(10_000);
        assert!(parse(&format!("{{\"SchemaVersion\":2,\"X\":{deep}")).is_err());
    }
}
