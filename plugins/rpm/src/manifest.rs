//! The package lists salve reads for RPM images: Azure Linux / CBL-Mariner distroless
//! `container-manifest-2`, and the output of the plan's own `rpm -qa` results step, which uses the
//! same format:
//! `%{NAME}\t%{VERSION}-%{RELEASE}\t%{INSTALLTIME}\t%{BUILDTIME}\t%{VENDOR}\t(none)\t%{SIZE}\t%{ARCH}\t%{EPOCHNUM}\t%{SOURCERPM}`.

use salve_plugin_sdk::InstalledPackage;

/// The `rpm --queryformat` that writes one line of `container-manifest-2`.
pub const MANIFEST_2_FORMAT: &str = "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{INSTALLTIME}\\t%{BUILDTIME}\\t%{VENDOR}\\t(none)\\t%{SIZE}\\t%{ARCH}\\t%{EPOCHNUM}\\t%{SOURCERPM}\\n";

/// The packages listed in a manifest's text.
pub fn parse(text: &str) -> Result<Vec<InstalledPackage>, String> {
    let mut packages = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 10 {
            return Err(format!(
                "line {} has {} tab-separated fields, not the 10 of container-manifest-2",
                index + 1,
                fields.len()
            ));
        }
        let (name, version_release, arch, epoch) = (fields[0], fields[1], fields[7], fields[8]);
        if !version_release.contains('-') {
            return Err(format!(
                "line {}: {version_release:?} is not VERSION-RELEASE",
                index + 1
            ));
        }
        let version = match epoch {
            "" | "0" | "(none)" => version_release.to_string(),
            epoch if epoch.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{epoch}:{version_release}")
            }
            other => {
                return Err(format!(
                    "line {}: epoch {other:?} is not a number",
                    index + 1
                ));
            }
        };
        packages.push(InstalledPackage {
            name: name.to_string(),
            version,
            architecture: Some(arch.to_string()),
            location: None,
        });
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "mariner-release\t2.0-12.cm2\t1653816591\t1653753130\tMicrosoft Corporation\t(none)\t580\tnoarch\t0\tmariner-release-2.0-12.cm2.src.rpm
ca-certificates-base\t3.0.0-8.azl3\t1748892790\t1735838940\tMicrosoft Corporation\t(none)\t130628\tnoarch\t1\tca-certificates-3.0.0-8.azl3.src.rpm
";

    #[test]
    fn reads_names_versions_epochs_and_arches() {
        let packages = parse(MANIFEST).unwrap();
        assert_eq!(packages[0].name, "mariner-release");
        assert_eq!(packages[0].version, "2.0-12.cm2");
        assert_eq!(packages[0].architecture.as_deref(), Some("noarch"));
        assert_eq!(packages[1].version, "1:3.0.0-8.azl3");
    }

    #[test]
    fn malformed_lines_are_errors_naming_the_line() {
        let error = parse("filesystem\t1.1-7.cm1\t1653164283\t1599428094\n").unwrap_err();
        assert!(error.contains("line 1 has 4"), "{error}");
        let error = parse("a\t1.0\t0\t0\tv\t(none)\t1\tx86_64\t0\ta.src.rpm\n").unwrap_err();
        assert!(error.contains("VERSION-RELEASE"), "{error}");
    }
}
