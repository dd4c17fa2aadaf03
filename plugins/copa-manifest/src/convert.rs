//! Turning a copa update manifest into salve's.

use crate::model::{Manifest, Update};
use salve_plugin_sdk::{
    Finding, OsInfo, PackageClass, Platform, Skipped, UpdateManifest, json, os_release,
};

/// Parses any copa update manifest (or the example plugin's report) into an update manifest.
pub fn parse_report(bytes: &[u8]) -> Result<UpdateManifest, String> {
    let manifest: Manifest<'_> = json::parse(bytes, "a copa update manifest")?;
    match manifest.api_version.as_deref() {
        None | Some("v1alpha1") | Some("v1alpha2") => {}
        Some(other) => {
            return Err(format!(
                "copa update manifest apiVersion {other:?} is not supported; this plugin reads \
                 v1alpha1, v1alpha2 and manifests without apiVersion"
            ));
        }
    }
    if manifest.packages.is_some() {
        return Ok(from_example_report(&manifest));
    }
    let has_updates = manifest.updates.is_some()
        || manifest.osupdates.is_some()
        || manifest.langupdates.is_some();
    if manifest.metadata.is_none() && !has_updates {
        return Err(
            "not a copa update manifest: it has neither \"metadata\" nor \"updates\", \
                    \"osupdates\" or \"langupdates\""
                .into(),
        );
    }

    let metadata = manifest.metadata.as_ref();
    let os = metadata.and_then(|metadata| metadata.os.as_ref());
    let config = metadata.and_then(|metadata| metadata.config.as_ref());
    let mut out = UpdateManifest {
        os: os.and_then(|os| os_info(os.r#type.as_deref()?, os.version.as_deref().unwrap_or(""))),
        platform: config
            .and_then(|config| platform(config.arch.as_deref()?, config.variant.as_deref())),
        findings: Vec::new(),
        skipped: Vec::new(),
    };
    let os_type = os.and_then(|os| os.r#type.as_deref()).unwrap_or("");
    for update in manifest.updates.iter().chain(&manifest.osupdates).flatten() {
        add_update(update, PackageClass::Os, os_type, &mut out);
    }
    for update in manifest.langupdates.iter().flatten() {
        match update.r#type.as_deref() {
            Some("python-pkg") | Some("python") => {
                add_update(update, PackageClass::Library, "python-pkg", &mut out)
            }
            other => skip(
                update,
                format!(
                    "language packages of type {:?} are not patched by salve (only python-pkg)",
                    other.unwrap_or("")
                ),
                &mut out,
            ),
        }
    }
    for update in manifest.node_updates.iter().flatten() {
        skip(
            update,
            "Node.js packages are not patched by salve".into(),
            &mut out,
        );
    }
    Ok(out)
}

/// The example scanner plugin's report (`OSType`, `OSVersion`, `Arch`, `Packages`).
fn from_example_report(manifest: &Manifest<'_>) -> UpdateManifest {
    let os_type = manifest.os_type.as_deref().unwrap_or("");
    let mut out = UpdateManifest {
        os: os_info(os_type, manifest.os_version.as_deref().unwrap_or("")),
        platform: manifest
            .arch
            .as_deref()
            .and_then(|arch| platform(arch, None)),
        findings: Vec::new(),
        skipped: Vec::new(),
    };
    for package in manifest.packages.iter().flatten() {
        let update = Update {
            name: package.name.clone(),
            installed_version: package.installed_version.clone(),
            fixed_version: package.fixed_version.clone(),
            vulnerability_id: package.vulnerability_id.clone(),
            ..Update::default()
        };
        add_update(&update, PackageClass::Os, os_type, &mut out);
    }
    out
}

/// The OS of a manifest, unless its type is empty.
fn os_info(os_type: &str, version: &str) -> Option<OsInfo> {
    (!os_type.is_empty()).then(|| OsInfo {
        id: os_release::id_from_scanner_name(os_type),
        version_id: version.to_string(),
        codename: None,
    })
}

/// The platform of a manifest, unless its architecture is empty.
fn platform(arch: &str, variant: Option<&str>) -> Option<Platform> {
    (!arch.is_empty()).then(|| Platform {
        os: "linux".into(),
        architecture: arch.to_string(),
        variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
    })
}

/// Adds one update as a finding (or skipped, when it names no package or fixed version).
fn add_update(
    update: &Update<'_>,
    class: PackageClass,
    default_type: &str,
    out: &mut UpdateManifest,
) {
    let package = update.name.as_deref().unwrap_or("");
    let fixed = update.fixed_version.as_deref().unwrap_or("").trim();
    if package.is_empty() {
        return skip(update, "the update names no package".into(), out);
    }
    if fixed.is_empty() {
        return skip(update, "no fixed version".into(), out);
    }
    out.findings.push(Finding {
        package: package.to_string(),
        installed_version: update
            .installed_version
            .as_deref()
            .unwrap_or("")
            .to_string(),
        fixed_version: fixed.to_string(),
        vulnerability_id: update.vulnerability_id.as_deref().unwrap_or("").to_string(),
        class,
        package_type: update.r#type.as_deref().unwrap_or(default_type).to_string(),
        path: None,
    });
}

/// Adds one update as skipped, with the reason.
fn skip(update: &Update<'_>, reason: String, out: &mut UpdateManifest) {
    out.skipped.push(Skipped {
        package: update.name.as_deref().unwrap_or("").to_string(),
        vulnerability_id: update.vulnerability_id.as_deref().unwrap_or("").to_string(),
        reason,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UpdateManifest, String> {
        parse_report(text.as_bytes())
    }

    #[test]
    fn reads_v1alpha1_with_node_updates_skipped() {
        let manifest = parse(
            r#"{"apiVersion":"v1alpha1","metadata":{"os":{"type":"debian","version":"11.3"},
            "config":{"arch":"amd64"}},"updates":[{"name":"libssl1.1","installedVersion":"1.1.1n-0",
            "fixedVersion":"1.1.1n-0+deb11u3","vulnerabilityID":"CVE-2022-2068"}],
            "nodeUpdates":[{"name":"lodash","installedVersion":"4.0.0","fixedVersion":"4.17.21",
            "vulnerabilityID":"CVE-2021-23337"}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.os.unwrap().id, "debian");
        assert_eq!(manifest.platform.unwrap().architecture, "amd64");
        assert_eq!(manifest.findings.len(), 1);
        assert_eq!(manifest.findings[0].package_type, "debian");
        assert_eq!(manifest.skipped.len(), 1);
        assert!(manifest.skipped[0].reason.contains("Node.js"));
    }

    #[test]
    fn reads_v1alpha2_os_and_python_updates() {
        let manifest = parse(
            r#"{"apiVersion":"v1alpha2","metadata":{"os":{"type":"ubuntu","version":"22.04"},
            "config":{"arch":"arm","variant":"v7"}},
            "osupdates":[{"name":"curl","installedVersion":"1","fixedVersion":"2",
              "vulnerabilityID":"CVE-1","type":"ubuntu","class":"os-pkgs"}],
            "langupdates":[{"name":"requests","installedVersion":"2.25.0","fixedVersion":"2.31.0",
              "vulnerabilityID":"CVE-2","type":"python-pkg","class":"lang-pkgs"},
              {"name":"rails","installedVersion":"5","fixedVersion":"6","vulnerabilityID":"CVE-3",
              "type":"gemspec","class":"lang-pkgs"}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.platform.unwrap().variant.as_deref(), Some("v7"));
        assert_eq!(manifest.findings.len(), 2);
        assert_eq!(manifest.findings[1].class, PackageClass::Library);
        assert!(manifest.skipped[0].reason.contains("gemspec"));
    }

    #[test]
    fn reads_unversioned_manifests_and_the_example_plugin_report() {
        let manifest = parse(
            r#"{"metadata":{"os":{"type":"ubuntu","version":"20.04"},"config":{"arch":"amd64"}},
            "updates":[{"name":"curl","installedVersion":"7.68.0-1ubuntu2.18",
            "fixedVersion":"7.68.0-1ubuntu2.19","vulnerabilityID":"CVE-2023-28321"}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.findings[0].package, "curl");

        let manifest = parse(
            r#"{"OSType":"alpine","OSVersion":"3.7.3","Arch":"amd64","Packages":[{"Name":"musl",
            "InstalledVersion":"1.1.18-r3","FixedVersion":"1.1.18-r4","VulnerabilityID":"CVE-2019-14697"}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.os.unwrap().version_id, "3.7.3");
        assert_eq!(manifest.findings[0].fixed_version, "1.1.18-r4");
    }

    #[test]
    fn foreign_documents_are_clear_errors() {
        assert!(
            parse(r#"{"apiVersion":"v2"}"#)
                .unwrap_err()
                .contains("\"v2\"")
        );
        assert!(
            parse(r#"{"SchemaVersion":2}"#)
                .unwrap_err()
                .contains("not a copa update manifest")
        );
        assert!(parse("invalid").unwrap_err().contains("not valid JSON"));
        assert!(parse(r#"{"updates":{}}"#).unwrap_err().contains("shape"));
    }
}
