//! Turning a CycloneDX document's vulnerabilities into salve's update manifest.
//!
//! Each `vulnerabilities[].affects[]` entry names a component by its `bom-ref`; the component's
//! package URL gives the ecosystem (`deb`, `rpm`, `apk`, `pypi`) and the package (without one,
//! Syft's `syft:package:type` property, which Grype writes, names the ecosystem). The installed
//! version is the entry's `affected` version (else the component's); fixed versions come from
//! the entry's `unaffected` versions and `vers:` ranges of the form `>=V` (Grype writes these),
//! and from the vulnerability's `recommendation`, `Upgrade NAME to version V[, V2]` (Trivy writes
//! this). The OS is the `operating-system` component (Trivy) or the packages' `distro`
//! qualifier; the platform is the packages' `arch` qualifier when they name one architecture.

use crate::model::{Affects, Bom, Component, Vulnerability};
use salve_plugin_sdk::purl::Purl;
use salve_plugin_sdk::{
    Finding, OsInfo, PackageClass, Platform, Skipped, UpdateManifest, fixed_version, json,
    os_release,
};
use std::collections::{BTreeMap, BTreeSet};

/// The CycloneDX versions with vulnerabilities that salve reads.
const SPEC_VERSIONS: std::ops::RangeInclusive<u32> = 4..=7;
/// Properties that name where a Python package lives: Trivy's, then Syft's (Grype's).
const PATH_PROPERTIES: [&str; 2] = ["aquasecurity:trivy:FilePath", "syft:location:0:path"];
/// Properties that name a package's type: Trivy's, then Syft's.
const TYPE_PROPERTIES: [&str; 2] = ["aquasecurity:trivy:PkgType", "syft:package:type"];

/// How to make a CycloneDX report with vulnerabilities.
const HOW: &str = "produce one with `trivy image --format cyclonedx --scanners vuln IMAGE` or \
                   `grype IMAGE -o cyclonedx-json`";

/// Parses a CycloneDX JSON document into an update manifest.
pub fn parse_report(bytes: &[u8]) -> Result<UpdateManifest, String> {
    if salve_plugin_sdk::sniff::is_json_array(bytes) {
        return Err(format!(
            "not a CycloneDX document: it is a JSON array; {HOW}"
        ));
    }
    let bom: Bom<'_> = json::parse(bytes, "CycloneDX")?;
    match bom.bom_format.as_deref() {
        Some("CycloneDX") => {}
        Some(other) => {
            return Err(format!(
                "not a CycloneDX document: bomFormat is {other:?}; {HOW}"
            ));
        }
        None => {
            return Err(format!(
                "not a CycloneDX document: it has no bomFormat; {HOW}"
            ));
        }
    }
    let spec = bom.spec_version.as_deref().unwrap_or("");
    let minor = spec
        .strip_prefix("1.")
        .and_then(|minor| minor.parse::<u32>().ok());
    if !minor.is_some_and(|minor| SPEC_VERSIONS.contains(&minor)) {
        return Err(format!(
            "CycloneDX specVersion {spec:?}: salve reads 1.4 to 1.7 (vulnerabilities came in 1.4)"
        ));
    }
    let Some(vulnerabilities) = bom.vulnerabilities.as_ref() else {
        return Err(format!(
            "this CycloneDX document has no \"vulnerabilities\" (an SBOM, not a scan); {HOW}"
        ));
    };
    let components = index(&bom);
    let mut manifest = UpdateManifest {
        os: None,
        platform: None,
        findings: Vec::new(),
        skipped: Vec::new(),
    };
    let mut purls: Vec<Purl> = Vec::new();
    for vulnerability in vulnerabilities {
        for affects in vulnerability.affects.iter().flatten() {
            if let Some(purl) = add_finding(vulnerability, affects, &components, &mut manifest) {
                purls.push(purl);
            }
        }
    }
    manifest.os = os_component(&components).or_else(|| os_from_distro(&purls));
    manifest.platform = platform_from_arch(&purls);
    Ok(manifest)
}

/// Every component by its `bom-ref`, nested ones included (the JSON reader's recursion limit
/// bounds the nesting).
fn index<'b, 'a>(bom: &'b Bom<'a>) -> BTreeMap<&'b str, &'b Component<'a>> {
    let mut found = BTreeMap::new();
    let mut stack: Vec<&Component<'_>> = bom.components.iter().flatten().collect();
    stack.extend(bom.metadata.iter().filter_map(|m| m.component.as_ref()));
    while let Some(component) = stack.pop() {
        if let Some(reference) = component.bom_ref.as_deref() {
            found.entry(reference).or_insert(component);
        }
        stack.extend(component.components.iter().flatten());
    }
    found
}

/// A component's property value.
fn property<'b>(component: &'b Component<'_>, names: &[&str]) -> Option<&'b str> {
    names.iter().find_map(|wanted| {
        component
            .properties
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(*wanted))
            .and_then(|p| p.value.as_deref())
    })
}

/// Adds one affected component as a finding, or as a skipped entry with the reason; returns the
/// package URL of an OS package found.
fn add_finding(
    vulnerability: &Vulnerability<'_>,
    affects: &Affects<'_>,
    components: &BTreeMap<&str, &Component<'_>>,
    manifest: &mut UpdateManifest,
) -> Option<Purl> {
    let vulnerability_id = vulnerability.id.as_deref().unwrap_or("").to_string();
    let reference = affects.reference.as_deref().unwrap_or("");
    let component = components.get(reference).copied();
    let purl = component
        .and_then(|c| c.purl.as_deref())
        .and_then(Purl::parse)
        .or_else(|| Purl::parse(reference));
    let package = component
        .and_then(|c| c.name.as_deref())
        .map(str::to_string)
        .or_else(|| purl.as_ref().map(|p| p.name.clone()))
        .unwrap_or_else(|| reference.to_string());
    let mut skip = |reason: String| {
        manifest.skipped.push(Skipped {
            package: package.clone(),
            vulnerability_id: vulnerability_id.clone(),
            reason,
        });
    };
    // Without a package URL, Syft's package type (in Grype's documents) still names the
    // ecosystem.
    let purl = purl.or_else(|| {
        let ty = match property(component?, &["syft:package:type"])? {
            "python" => "pypi",
            other => other,
        };
        Some(Purl {
            ty: ty.to_string(),
            namespace: None,
            name: package.clone(),
            version: None,
            qualifiers: Vec::new(),
        })
    });
    let Some(purl) = purl else {
        skip(if component.is_none() {
            format!("it affects {reference:?}, which is no component of the document")
        } else {
            "the affected component has no package URL or package type, so its ecosystem is \
             unknown"
                .into()
        });
        return None;
    };
    let class = match purl.ty.as_str() {
        "deb" | "rpm" | "apk" => PackageClass::Os,
        "pypi" => PackageClass::Library,
        other => {
            skip(format!(
                "packages of type {other:?} are not patched by salve (only deb, rpm, apk and pypi)"
            ));
            return None;
        }
    };
    let installed = installed_version(affects, component, &purl);
    let candidates = fixed_candidates(affects, vulnerability, &package);
    let candidates: Vec<&str> = candidates.iter().map(String::as_str).collect();
    let Some(fixed) = fixed_version::choose(&installed, &candidates) else {
        skip("no fixed version in the document".into());
        return None;
    };
    let path = match class {
        PackageClass::Library => component.and_then(|c| property(c, &PATH_PROPERTIES)),
        PackageClass::Os => None,
    };
    manifest.findings.push(Finding {
        package,
        installed_version: installed,
        fixed_version: fixed.to_string(),
        vulnerability_id,
        class,
        package_type: component
            .and_then(|c| property(c, &TYPE_PROPERTIES))
            .unwrap_or(&purl.ty)
            .to_string(),
        path: path.map(str::to_string),
    });
    (class == PackageClass::Os).then_some(purl)
}

/// The installed version: the entry's `affected` version, else the component's or the package
/// URL's (with an rpm `epoch` qualifier put in front, as rpm writes it).
fn installed_version(
    affects: &Affects<'_>,
    component: Option<&Component<'_>>,
    purl: &Purl,
) -> String {
    let affected = affects.versions.iter().flatten().find_map(|v| {
        (v.status.as_deref() == Some("affected"))
            .then_some(v.version.as_deref())
            .flatten()
    });
    if let Some(version) = affected {
        return version.to_string();
    }
    let version = component
        .and_then(|c| c.version.as_deref())
        .map(str::to_string)
        .or_else(|| purl.version.clone())
        .unwrap_or_default();
    match purl.qualifier("epoch") {
        Some(epoch) if purl.ty == "rpm" && epoch != "0" && !version.contains(':') => {
            format!("{epoch}:{version}")
        }
        _ => version,
    }
}

/// The fixed versions the document gives for `package`: `unaffected` versions and `>=V`
/// ranges of the entry, and the recommendation's versions for this package.
fn fixed_candidates(
    affects: &Affects<'_>,
    vulnerability: &Vulnerability<'_>,
    package: &str,
) -> Vec<String> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    for version in affects.versions.iter().flatten() {
        if version.status.as_deref() != Some("unaffected") {
            continue;
        }
        if let Some(exact) = version.version.as_deref() {
            found.insert(exact.trim().to_string());
        }
        if let Some(lowest) = version.range.as_deref().and_then(lowest_of_range) {
            found.insert(lowest);
        }
    }
    let prefix = format!("Upgrade {package} to version ");
    for advice in vulnerability
        .recommendation
        .as_deref()
        .unwrap_or("")
        .split("; ")
    {
        if let Some(versions) = advice.trim().strip_prefix(&prefix) {
            found.extend(versions.split(", ").map(|v| v.trim().to_string()));
        }
    }
    found.retain(|version| !version.is_empty());
    found.into_iter().collect()
}

/// The `V` of a `vers:SCHEME/>=V` range (one constraint); `None` for any other range.
fn lowest_of_range(range: &str) -> Option<String> {
    let constraints = range.strip_prefix("vers:")?.split_once('/')?.1;
    let version = constraints.trim().strip_prefix(">=")?;
    (!version.contains('|') && !version.is_empty())
        .then(|| salve_plugin_sdk::purl::decode(version))
        .flatten()
}

/// The OS of an `operating-system` component (Trivy writes one: family and release).
fn os_component(components: &BTreeMap<&str, &Component<'_>>) -> Option<OsInfo> {
    components.values().find_map(|component| {
        (component.r#type.as_deref() == Some("operating-system")).then(|| OsInfo {
            id: os_release::id_from_scanner_name(component.name.as_deref().unwrap_or("")),
            version_id: component.version.as_deref().unwrap_or("").to_string(),
            codename: None,
        })
    })
}

/// The OS the packages' `distro` qualifier names (`debian-12.1`, `alpine-3.19.1`), when they
/// agree.
fn os_from_distro(purls: &[Purl]) -> Option<OsInfo> {
    let named: BTreeSet<&str> = purls.iter().filter_map(|p| p.qualifier("distro")).collect();
    let [only] = named.into_iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let split = only
        .char_indices()
        .find(|(index, c)| *c == '-' && only[index + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(index, _)| index);
    let (name, version) = match split {
        Some(index) => (&only[..index], &only[index + 1..]),
        None => (only, ""),
    };
    Some(OsInfo {
        id: os_release::id_from_scanner_name(name),
        version_id: version.to_string(),
        codename: None,
    })
}

/// The platform the OS packages' `arch` qualifier names, when they name one architecture
/// (packages for every architecture, `all` and `noarch`, say nothing).
fn platform_from_arch(purls: &[Purl]) -> Option<Platform> {
    let named: BTreeSet<&str> = purls
        .iter()
        .filter_map(|p| p.qualifier("arch"))
        .filter(|arch| !matches!(*arch, "all" | "noarch" | "any"))
        .map(|arch| match arch {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "armhf" | "armv7" | "armv7hl" | "armv7l" => "arm",
            "i386" | "i686" | "x86" => "386",
            other => other,
        })
        .collect();
    let [only] = named.into_iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    Some(Platform {
        os: "linux".into(),
        architecture: only.to_string(),
        variant: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UpdateManifest, String> {
        parse_report(text.as_bytes())
    }

    /// A document in Trivy's shape: an OS component, packages with purls and Trivy's
    /// properties, the fix in the recommendation.
    const TRIVY: &str = r#"{
      "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
      "metadata": {"component": {"bom-ref": "pkg:oci/app@sha256%3Aab", "type": "container",
                                 "name": "app:1"}},
      "components": [
        {"bom-ref": "os-1", "type": "operating-system", "name": "debian", "version": "12.1"},
        {"bom-ref": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12.1",
         "type": "library", "name": "libc6", "version": "2.36-9",
         "purl": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12.1",
         "properties": [{"name": "aquasecurity:trivy:PkgType", "value": "debian"}]},
        {"bom-ref": "pkg:pypi/idna@2.10", "type": "library", "name": "idna", "version": "2.10",
         "purl": "pkg:pypi/idna@2.10",
         "properties": [{"name": "aquasecurity:trivy:FilePath",
                         "value": "usr/lib/python3/dist-packages/idna-2.10.dist-info/METADATA"},
                        {"name": "aquasecurity:trivy:PkgType", "value": "python-pkg"}]},
        {"bom-ref": "pkg:npm/lodash@4.0.0", "type": "library", "name": "lodash",
         "purl": "pkg:npm/lodash@4.0.0"}
      ],
      "vulnerabilities": [
        {"id": "CVE-2099-1", "recommendation": "Upgrade libc6 to version 2.36-9+deb12u3",
         "affects": [{"ref": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12.1",
                      "versions": [{"version": "2.36-9", "status": "affected"}]}]},
        {"id": "CVE-2099-2", "recommendation": "Upgrade idna to version 3.7, 2.10.1",
         "affects": [{"ref": "pkg:pypi/idna@2.10",
                      "versions": [{"version": "2.10", "status": "affected"}]}]},
        {"id": "CVE-2099-3", "recommendation": "Upgrade lodash to version 4.17.21",
         "affects": [{"ref": "pkg:npm/lodash@4.0.0"}]},
        {"id": "CVE-2099-4", "affects": [{"ref": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12.1"}]},
        {"id": "CVE-2099-5", "affects": [{"ref": "nowhere"}]}
      ]
    }"#;

    #[test]
    fn reads_trivys_shape() {
        let manifest = parse(TRIVY).unwrap();
        let os = manifest.os.unwrap();
        assert_eq!((os.id.as_str(), os.version_id.as_str()), ("debian", "12.1"));
        assert_eq!(manifest.platform.unwrap().architecture, "amd64");
        assert_eq!(manifest.findings.len(), 2);
        let libc = &manifest.findings[0];
        assert_eq!(
            (libc.package.as_str(), libc.installed_version.as_str()),
            ("libc6", "2.36-9")
        );
        assert_eq!(libc.fixed_version, "2.36-9+deb12u3");
        assert_eq!(
            (libc.class, libc.package_type.as_str()),
            (PackageClass::Os, "debian")
        );
        let idna = &manifest.findings[1];
        assert_eq!(idna.fixed_version, "2.10.1", "the installed branch's fix");
        assert_eq!(idna.class, PackageClass::Library);
        assert!(idna.path.as_deref().unwrap().ends_with("METADATA"));
        let reasons: Vec<(&str, &str)> = manifest
            .skipped
            .iter()
            .map(|s| (s.vulnerability_id.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3);
        assert!(reasons[0].1.contains("\"npm\""), "{reasons:?}");
        assert!(reasons[1].1.contains("no fixed version"), "{reasons:?}");
        assert!(reasons[2].1.contains("no component"), "{reasons:?}");
    }

    #[test]
    fn reads_grypes_shape() {
        // Grype: refs are purls with a package-id qualifier, fixes are `vers:` ranges, the OS
        // only in the purls' distro qualifier; an rpm epoch is a qualifier.
        let manifest = parse(
            r#"{"bomFormat": "CycloneDX", "specVersion": "1.7",
              "components": [
                {"bom-ref": "pkg:rpm/redhat/openssl-libs@1.1.1k-7.el8?arch=x86_64&epoch=1&distro=rhel-8.7&package-id=1f",
                 "type": "library", "name": "openssl-libs", "version": "1:1.1.1k-7.el8",
                 "purl": "pkg:rpm/redhat/openssl-libs@1.1.1k-7.el8?arch=x86_64&epoch=1&distro=rhel-8.7",
                 "properties": [{"name": "syft:package:type", "value": "rpm"}]}
              ],
              "vulnerabilities": [
                {"id": "CVE-2099-7", "affects": [{
                  "ref": "pkg:rpm/redhat/openssl-libs@1.1.1k-7.el8?arch=x86_64&epoch=1&distro=rhel-8.7&package-id=1f",
                  "versions": [{"range": "vers:rpm/>=1:1.1.1k-9.el8", "status": "unaffected"}]}]},
                {"id": "CVE-2099-8", "affects": [{
                  "ref": "pkg:apk/alpine/busybox@1.36.1-r2?arch=x86_64&distro=alpine-3.19.1&package-id=2a",
                  "versions": [{"version": "1.36.1-r2", "status": "affected"},
                               {"range": "vers:apk/>=1.36.1-r5", "status": "unaffected"}]}]}
              ]}"#,
        )
        .unwrap();
        assert_eq!(manifest.findings.len(), 2);
        let openssl = &manifest.findings[0];
        assert_eq!(openssl.installed_version, "1:1.1.1k-7.el8");
        assert_eq!(openssl.fixed_version, "1:1.1.1k-9.el8");
        assert_eq!(openssl.package_type, "rpm");
        // A ref that is no component but a purl still names the package.
        let busybox = &manifest.findings[1];
        assert_eq!(
            (busybox.package.as_str(), busybox.fixed_version.as_str()),
            ("busybox", "1.36.1-r5")
        );
        assert_eq!(manifest.os, None, "two distros named: none chosen");
        assert_eq!(manifest.platform.unwrap().architecture, "amd64");
    }

    #[test]
    fn a_component_without_a_purl_is_placed_by_its_syft_type() {
        let manifest = parse(
            r#"{"bomFormat": "CycloneDX", "specVersion": "1.7",
              "components": [
                {"bom-ref": "bbb0", "type": "library", "name": "package-1", "version": "1.1.1",
                 "properties": [{"name": "syft:package:type", "value": "rpm"}]},
                {"bom-ref": "ccc0", "type": "library", "name": "blob", "version": "1"}],
              "vulnerabilities": [
                {"id": "CVE-1", "affects": [{"ref": "bbb0", "versions": [
                  {"version": "1.1.1", "status": "affected"},
                  {"range": "vers:generic/>=1.2.1", "status": "unaffected"},
                  {"range": "vers:generic/>=2.1.3", "status": "unaffected"}]}]},
                {"id": "CVE-2", "affects": [{"ref": "ccc0"}]}]}"#,
        )
        .unwrap();
        let found = &manifest.findings[0];
        assert_eq!(
            (found.package.as_str(), found.fixed_version.as_str()),
            ("package-1", "1.2.1")
        );
        assert!(
            manifest.skipped[0]
                .reason
                .contains("no package URL or package type")
        );
    }

    #[test]
    fn an_rpm_epoch_qualifier_is_put_in_front_of_the_version() {
        let purl = Purl::parse("pkg:rpm/redhat/bash@5.1-6.el9?epoch=2").unwrap();
        let affects = Affects::default();
        assert_eq!(installed_version(&affects, None, &purl), "2:5.1-6.el9");
        let zero = Purl::parse("pkg:rpm/redhat/bash@5.1-6.el9?epoch=0").unwrap();
        assert_eq!(installed_version(&affects, None, &zero), "5.1-6.el9");
    }

    #[test]
    fn ranges_other_than_at_least_one_version_give_nothing() {
        assert_eq!(
            lowest_of_range("vers:deb/>=2.36-9+deb12u3").as_deref(),
            Some("2.36-9+deb12u3")
        );
        assert_eq!(lowest_of_range("vers:deb/<2.0"), None);
        assert_eq!(lowest_of_range("vers:deb/>=1.0|<2.0"), None);
        assert_eq!(lowest_of_range(">=1.0"), None);
    }

    #[test]
    fn foreign_documents_are_clear_errors() {
        assert!(parse("[]").unwrap_err().contains("JSON array"));
        assert!(
            parse(r#"{"bomFormat":"SPDX","specVersion":"1.6"}"#)
                .unwrap_err()
                .contains("bomFormat is \"SPDX\"")
        );
        assert!(
            parse(r#"{"bomFormat":"CycloneDX","specVersion":"1.3","vulnerabilities":[]}"#)
                .unwrap_err()
                .contains("1.4 to 1.7")
        );
        assert!(
            parse(r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#)
                .unwrap_err()
                .contains("no \"vulnerabilities\"")
        );
        assert!(
            parse(r#"{"bomFormat":"CycloneDX","specVersion":"1.5","vulnerabilities":[{"#)
                .unwrap_err()
                .contains("truncated")
        );
    }

    #[test]
    fn nested_components_are_found_and_deep_nesting_is_an_error() {
        let document = |levels: usize| {
            let mut nested = String::from(
                r#"{"bom-ref":"leaf","name":"zlib1g","purl":"pkg:deb/debian/zlib1g@1:1.2.13"}"#,
            );
            for level in 0..levels {
                nested = format!(r#"{{"bom-ref":"n{level}","components":[{nested}]}}"#);
            }
            format!(
                r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{nested}],
                "vulnerabilities":[{{"id":"CVE-1","affects":[{{"ref":"leaf","versions":[
                {{"version":"1:1.2.13.dfsg-1","status":"unaffected"}}]}}]}}]}}"#
            )
        };
        let manifest = parse(&document(20)).unwrap();
        assert_eq!(manifest.findings[0].installed_version, "1:1.2.13");
        assert_eq!(manifest.findings[0].fixed_version, "1:1.2.13.dfsg-1");
        assert!(parse(&document(100)).is_err());
    }
}
