//! Turning OSV-Scanner's output into salve's update manifest.
//!
//! Each package of each source comes with the OSV records of its vulnerabilities. A record's
//! `affected` entries each name a package in one ecosystem; only the entry for this package in
//! this package's own ecosystem and release counts (Debian's records are keyed by source package
//! and release, `Debian:12`; an entry for `Debian:11`, for another package, or for Ubuntu Pro
//! when the image is plain Ubuntu, says nothing of this package). Within that entry, the range
//! span holding the installed version gives the fixed version, compared by the ecosystem's own
//! version rules. The update names the installed package (`os_package_name`, the binary package,
//! for OS packages). The OS is the release the OS packages' ecosystem names.

use crate::ecosystem::{self, Ecosystem, Rules};
use crate::model::{Output, Package, Vulnerability};
use crate::range::{self, Placement};
use salve_plugin_sdk::{Finding, OsInfo, PackageClass, Skipped, UpdateManifest, json, pep503};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// How to make OSV-Scanner output that salve reads.
const HOW: &str = "produce one with `osv-scanner scan image --format json IMAGE`";

/// Parses OSV-Scanner's JSON output into an update manifest.
pub fn parse_report(bytes: &[u8]) -> Result<UpdateManifest, String> {
    if salve_plugin_sdk::sniff::is_json_array(bytes) {
        return Err(format!("not OSV-Scanner output: it is a JSON array; {HOW}"));
    }
    let output: Output<'_> = json::parse(bytes, "OSV-Scanner")?;
    let Some(results) = output.results else {
        return Err(format!(
            "not OSV-Scanner output: it has no \"results\" (a single OSV record, or another \
             tool's JSON?); {HOW}"
        ));
    };
    let mut manifest = UpdateManifest {
        os: None,
        platform: None,
        findings: Vec::new(),
        skipped: Vec::new(),
    };
    let mut releases: BTreeSet<(String, String)> = BTreeSet::new();
    for result in &results {
        let path = result
            .source
            .as_ref()
            .and_then(|source| source.path.as_deref())
            .and_then(library_location);
        for entry in result.packages.iter().flatten() {
            let Some(package) = entry.package.as_ref() else {
                continue;
            };
            let ecosystem = package.ecosystem.as_deref().and_then(ecosystem::read);
            if let Some(Ecosystem { os: Some(os), .. }) = &ecosystem {
                releases.insert((os.id.clone(), os.version_id.clone()));
            }
            let found = FoundPackage {
                package,
                ecosystem,
                path,
            };
            for vulnerability in entry.vulnerabilities.iter().flatten() {
                match found.finding(vulnerability) {
                    Ok(finding) => manifest.findings.push(finding),
                    Err(reason) => manifest.skipped.push(Skipped {
                        package: found.installed_name().to_string(),
                        vulnerability_id: vulnerability.id.as_deref().unwrap_or("").to_string(),
                        reason,
                    }),
                }
            }
        }
    }
    if let [(id, version_id)] = &releases.into_iter().collect::<Vec<_>>()[..] {
        manifest.os = Some(OsInfo {
            id: id.clone(),
            version_id: version_id.clone(),
            codename: None,
        });
    }
    Ok(manifest)
}

/// Where a Python package is installed, from its source's path: a `METADATA` file or a folder in
/// a `*.dist-info` or `*.egg-info` folder (OSV-Scanner's image scans give these); a lockfile says
/// nothing of where the package is installed. Relative to the image's root, as Trivy gives it.
fn library_location(path: &str) -> Option<&str> {
    let inside = path
        .split('/')
        .any(|part| part.ends_with(".dist-info") || part.ends_with(".egg-info"));
    inside.then(|| path.trim_start_matches('/'))
}

/// A package of the output, with its ecosystem read.
struct FoundPackage<'p, 'a> {
    /// The package as OSV-Scanner gives it.
    package: &'p Package<'a>,
    /// Its ecosystem, when salve patches that ecosystem.
    ecosystem: Option<Ecosystem>,
    /// Where it is installed, for Python packages.
    path: Option<&'p str>,
}

impl FoundPackage<'_, '_> {
    /// The name OSV records use (the source package, for OS packages).
    fn osv_name(&self) -> &str {
        self.package.name.as_deref().unwrap_or("").trim()
    }

    /// The installed package's name (the binary package, for OS packages).
    fn installed_name(&self) -> &str {
        self.package
            .os_package_name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| self.osv_name())
    }

    /// The finding a record makes of this package, or why it makes none.
    fn finding(&self, vulnerability: &Vulnerability<'_>) -> Result<Finding, String> {
        let ecosystem_name = self.package.ecosystem.as_deref().unwrap_or("").trim();
        let Some(ecosystem) = &self.ecosystem else {
            return Err(format!(
                "packages of the {ecosystem_name:?} ecosystem are not patched by salve (only \
                 Debian, Ubuntu, Alpine, RPM distributions and PyPI)"
            ));
        };
        let id = vulnerability.id.as_deref().unwrap_or("").trim();
        if id.is_empty() {
            return Err("the OSV record has no id".into());
        }
        if let Some(when) = vulnerability.withdrawn.as_deref() {
            return Err(format!("the OSV record was withdrawn ({when})"));
        }
        let installed = self.package.version.as_deref().unwrap_or("").trim();
        if installed.is_empty() {
            return Err("OSV-Scanner gives no installed version".into());
        }
        let fixed =
            self.fixed_version(vulnerability, ecosystem_name, ecosystem.rules, installed)?;
        let class = ecosystem.rules.class();
        Ok(Finding {
            package: self.installed_name().to_string(),
            installed_version: installed.to_string(),
            fixed_version: fixed,
            vulnerability_id: id.to_string(),
            class,
            package_type: ecosystem.family.clone(),
            path: match class {
                PackageClass::Library => self.path.map(str::to_string),
                PackageClass::Os => None,
            },
        })
    }

    /// Whether an `affected` entry's package is this one: the same name (Python names after
    /// PEP 503's normalisation), and for OS packages the source or the binary package's name.
    fn is_named(&self, name: &str, rules: Rules) -> bool {
        let name = name.trim();
        match rules {
            Rules::Python => pep503::normalise(name) == pep503::normalise(self.osv_name()),
            Rules::Deb | Rules::Rpm | Rules::Apk => {
                name == self.osv_name() || name == self.installed_name()
            }
        }
    }

    /// The fixed version the record gives for the installed version: from the ranges of the
    /// entries for this package in its own ecosystem, the span holding the installed version.
    fn fixed_version(
        &self,
        vulnerability: &Vulnerability<'_>,
        ecosystem_name: &str,
        rules: Rules,
        installed: &str,
    ) -> Result<String, String> {
        let name = self.osv_name();
        let mut covered: BTreeSet<&str> = BTreeSet::new();
        let mut fixes: Vec<String> = Vec::new();
        let mut affected = false;
        let mut entries = 0;
        for entry in vulnerability.affected.iter().flatten() {
            let Some(package) = entry.package.as_ref() else {
                continue;
            };
            let entry_ecosystem = package.ecosystem.as_deref().unwrap_or("").trim();
            if !self.is_named(package.name.as_deref().unwrap_or(""), rules) {
                continue;
            }
            if entry_ecosystem != ecosystem_name {
                covered.insert(entry_ecosystem);
                continue;
            }
            entries += 1;
            for range in entry.ranges.iter().flatten() {
                if !matches!(range.r#type.as_deref(), Some("ECOSYSTEM" | "SEMVER")) {
                    continue;
                }
                let events = range.events.as_deref().unwrap_or(&[]);
                let placement = range::place(installed, events, rules).map_err(|error| {
                    format!("the record's range for {name} in {ecosystem_name}: {error}")
                })?;
                if let Placement::Affected { fixed } = placement {
                    affected = true;
                    fixes.extend(fixed);
                }
            }
        }
        if entries == 0 {
            let elsewhere = if covered.is_empty() {
                String::new()
            } else {
                let list: Vec<&str> = covered.into_iter().collect();
                format!(" (it has entries for {name} in {})", list.join(", "))
            };
            return Err(format!(
                "the OSV record has no entry for {name} in {ecosystem_name}{elsewhere}"
            ));
        }
        if !affected {
            return Err(format!(
                "installed version {installed} is in none of the record's ranges for {name} in \
                 {ecosystem_name}"
            ));
        }
        fixes
            .into_iter()
            .min_by(|a, b| rules.compare(a, b).unwrap_or(Ordering::Equal))
            .ok_or_else(|| {
                format!(
                    "no fixed version in the record for installed version {installed} of {name} \
                     in {ecosystem_name}"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UpdateManifest, String> {
        parse_report(text.as_bytes())
    }

    /// An OSV record with one `affected` entry per (ecosystem, name, events).
    fn record(id: &str, entries: &[(&str, &str, &str)]) -> String {
        let affected: Vec<String> = entries
            .iter()
            .map(|(ecosystem, name, events)| {
                format!(
                    r#"{{"package": {{"ecosystem": "{ecosystem}", "name": "{name}"}},
                        "ranges": [{{"type": "ECOSYSTEM", "events": [{events}]}}]}}"#
                )
            })
            .collect();
        format!(
            r#"{{"id": "{id}", "modified": "2026-01-01T00:00:00Z", "affected": [{}]}}"#,
            affected.join(",")
        )
    }

    /// A package as a test lists it: source path, name, binary name, version, ecosystem, and
    /// its OSV records.
    type Listed<'t> = (&'t str, &'t str, &'t str, &'t str, &'t str, Vec<String>);

    /// OSV-Scanner's output for the packages, one source each.
    fn output(packages: &[Listed<'_>]) -> String {
        let results: Vec<String> = packages
            .iter()
            .map(|(path, name, binary, version, ecosystem, records)| {
                format!(
                    r#"{{"source": {{"path": "{path}", "type": "os"}},
                        "packages": [{{"package": {{"name": "{name}",
                          "os_package_name": "{binary}", "version": "{version}",
                          "ecosystem": "{ecosystem}"}},
                        "vulnerabilities": [{}], "groups": []}}]}}"#,
                    records.join(",")
                )
            })
            .collect();
        format!(
            r#"{{"results": [{}], "experimental_config": {{"licenses": {{"summary": false}}}}}}"#,
            results.join(",")
        )
    }

    const INTRODUCED: &str = r#"{"introduced": "0"}"#;

    fn fixed_at(version: &str) -> String {
        format!(r#"{INTRODUCED}, {{"fixed": "{version}"}}"#)
    }

    #[test]
    fn the_fix_comes_from_the_packages_own_release_and_span() {
        let bookworm = fixed_at("2.36-9+deb12u10");
        let bullseye = fixed_at("2.31-13+deb11u7");
        let other_package = fixed_at("2.36-9+deb12u2");
        let records = vec![
            // Entries for another release and another package come first: neither counts.
            record(
                "DSA-9001-1",
                &[
                    ("Debian:11", "glibc", &bullseye),
                    ("Debian:12", "glibc-tools", &other_package),
                    ("Debian:12", "glibc", &bookworm),
                ],
            ),
            record("DSA-9002-1", &[("Debian:11", "glibc", &bullseye)]),
            record("DEBIAN-CVE-2099-3", &[("Debian:12", "glibc", INTRODUCED)]),
            record(
                "DSA-9004-1",
                &[("Debian:12", "glibc", &fixed_at("2.36-9+deb12u2"))],
            ),
        ];
        let manifest = parse(&output(&[(
            "/var/lib/dpkg/status",
            "glibc",
            "libc6",
            "2.36-9+deb12u4",
            "Debian:12",
            records,
        )]))
        .unwrap();
        assert_eq!(manifest.findings.len(), 1, "{:?}", manifest.skipped);
        let libc = &manifest.findings[0];
        assert_eq!(
            (libc.package.as_str(), libc.installed_version.as_str()),
            ("libc6", "2.36-9+deb12u4")
        );
        assert_eq!(
            libc.fixed_version, "2.36-9+deb12u10",
            "dpkg's order, not text's"
        );
        assert_eq!(
            (
                libc.vulnerability_id.as_str(),
                libc.class,
                libc.path.as_deref()
            ),
            ("DSA-9001-1", PackageClass::Os, None)
        );
        let os = manifest.os.unwrap();
        assert_eq!((os.id.as_str(), os.version_id.as_str()), ("debian", "12"));
        let reasons: Vec<(&str, &str, &str)> = manifest
            .skipped
            .iter()
            .map(|s| {
                (
                    s.package.as_str(),
                    s.vulnerability_id.as_str(),
                    s.reason.as_str(),
                )
            })
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert_eq!(reasons[0].0, "libc6");
        assert!(
            reasons[0].2.contains(
                "no entry for glibc in Debian:12 (it has entries for glibc in Debian:11)"
            ),
            "{reasons:?}"
        );
        assert!(reasons[1].2.contains("no fixed version"), "{reasons:?}");
        assert!(
            reasons[2].2.contains("2.36-9+deb12u4 is in none of"),
            "already fixed: {reasons:?}"
        );
    }

    #[test]
    fn python_packages_take_the_span_holding_their_version() {
        let two_spans = format!(
            r#"{INTRODUCED}, {{"fixed": "2.11.3"}}, {{"introduced": "3.0.0"}}, {{"fixed": "3.1.4"}}"#
        );
        let mut text = output(&[(
            "/usr/local/lib/python3.11/site-packages/Jinja2-3.0.1.dist-info/METADATA",
            "Jinja2",
            "",
            "3.0.1",
            "PyPI",
            vec![record(
                "GHSA-h5c8-rqwp-cp95",
                &[("PyPI", "jinja2", &two_spans)],
            )],
        )]);
        text = text.replace("\"os\"", "\"artifact\"");
        let manifest = parse(&text).unwrap();
        let jinja = &manifest.findings[0];
        assert_eq!(
            (jinja.package.as_str(), jinja.fixed_version.as_str()),
            ("Jinja2", "3.1.4")
        );
        assert_eq!(jinja.class, PackageClass::Library);
        assert_eq!(
            jinja.path.as_deref(),
            Some("usr/local/lib/python3.11/site-packages/Jinja2-3.0.1.dist-info/METADATA")
        );
        assert_eq!(manifest.os, None);
    }

    #[test]
    fn ubuntu_pro_entries_and_other_ecosystems_are_skipped_with_the_reason() {
        let manifest = parse(&output(&[
            (
                "/var/lib/dpkg/status",
                "openssl",
                "libssl3",
                "3.0.2-0ubuntu1.10",
                "Ubuntu:22.04:LTS",
                vec![record(
                    "UBUNTU-CVE-2099-1",
                    &[(
                        "Ubuntu:Pro:22.04:LTS",
                        "openssl",
                        &fixed_at("3.0.2-0ubuntu1.15+esm1"),
                    )],
                )],
            ),
            (
                "/app/package-lock.json",
                "lodash",
                "",
                "4.17.20",
                "npm",
                vec![record("GHSA-1", &[("npm", "lodash", &fixed_at("4.17.21"))])],
            ),
        ]))
        .unwrap();
        assert!(manifest.findings.is_empty());
        assert!(
            manifest.skipped[0]
                .reason
                .contains("(it has entries for openssl in Ubuntu:Pro:22.04:LTS)"),
            "{:?}",
            manifest.skipped
        );
        assert!(manifest.skipped[1].reason.contains("\"npm\" ecosystem"));
        let os = manifest.os.unwrap();
        assert_eq!(
            (os.id.as_str(), os.version_id.as_str()),
            ("ubuntu", "22.04")
        );
    }

    #[test]
    fn withdrawn_records_and_unreadable_versions_are_skipped() {
        let withdrawn = record("DSA-1", &[("Debian:12", "zlib", &fixed_at("1:1.2.13-2"))])
            .replace(r#""id""#, r#""withdrawn": "2026-02-01T00:00:00Z", "id""#);
        let garbled = record(
            "DSA-2",
            &[("Debian:12", "zlib", &fixed_at("not a version"))],
        );
        let manifest = parse(&output(&[(
            "/var/lib/dpkg/status",
            "zlib",
            "zlib1g",
            "1:1.2.13.dfsg-1",
            "Debian:12",
            vec![withdrawn, garbled],
        )]))
        .unwrap();
        assert!(manifest.findings.is_empty());
        assert!(manifest.skipped[0].reason.contains("withdrawn"));
        assert!(
            manifest.skipped[1].reason.contains("bad syntax"),
            "{:?}",
            manifest.skipped
        );
    }

    #[test]
    fn foreign_documents_are_clear_errors() {
        assert!(parse("[]").unwrap_err().contains("JSON array"));
        let record = record("DSA-1", &[("Debian:12", "zlib", INTRODUCED)]);
        assert!(parse(&record).unwrap_err().contains("no \"results\""));
        assert!(
            parse(r#"{"results": [{"packages": [{"package": "#)
                .unwrap_err()
                .contains("truncated")
        );
        assert!(
            parse(r#"{"results": [{"packages": [{"vulnerabilities": ["CVE-1"]}]}]}"#)
                .unwrap_err()
                .contains("OSV-Scanner's shape")
        );
    }
}
