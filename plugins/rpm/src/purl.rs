//! Package URLs for RPM packages, as the purl specification's `rpm` type defines them.

use crate::version;
use salve_plugin_sdk::purl::encode;
use salve_plugin_sdk::{InstalledPackage, OsInfo, Platform};

/// `pkg:rpm/<vendor>/<name>@<version>-<release>?arch=<arch>[&epoch=<n>]&distro=<id>-<version>`.
pub fn purl(package: &InstalledPackage, os: &OsInfo, platform: &Platform) -> String {
    let (epoch, version_release) = match version::parse(&package.version) {
        Ok(evr) => (
            evr.epoch.filter(|epoch| *epoch != 0),
            match evr.release {
                Some(release) => format!("{}-{release}", evr.version),
                None => evr.version.to_string(),
            },
        ),
        Err(_) => (None, package.version.clone()),
    };
    let architecture = package
        .architecture
        .as_deref()
        .unwrap_or(&platform.architecture);
    let epoch = epoch
        .map(|epoch| format!("&epoch={epoch}"))
        .unwrap_or_default();
    format!(
        "pkg:rpm/{vendor}/{name}@{version}?arch={arch}{epoch}&distro={id}-{release}",
        vendor = vendor(&os.id),
        name = encode(&package.name),
        version = encode(&version_release),
        arch = encode(architecture),
        id = encode(&os.id),
        release = encode(&os.version_id),
    )
}

/// The purl namespace (the vendor) for an os-release id.
fn vendor(id: &str) -> String {
    match id {
        "rhel" => "redhat".into(),
        "amzn" => "amazon".into(),
        "ol" => "oracle".into(),
        "sles" | "sled" | "sle-micro" | "sl-micro" => "suse".into(),
        id if id.starts_with("opensuse") => "opensuse".into(),
        other => encode(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{installed, os, platform};

    fn package(version: &str) -> InstalledPackage {
        installed("openssl-libs", version, Some("x86_64"))
    }

    #[test]
    fn builds_rpm_purls_with_the_epoch_as_a_qualifier() {
        let rhel = os("rhel", "8.7");
        assert_eq!(
            purl(&package("1:1.1.1k-9.el8_7"), &rhel, &platform("amd64")),
            "pkg:rpm/redhat/openssl-libs@1.1.1k-9.el8_7?arch=x86_64&epoch=1&distro=rhel-8.7"
        );
        assert_eq!(
            purl(
                &package("3.1.4-150600.5.15.1"),
                &os("sles", "15.6"),
                &platform("amd64")
            ),
            "pkg:rpm/suse/openssl-libs@3.1.4-150600.5.15.1?arch=x86_64&distro=sles-15.6"
        );
        let azure = os("azurelinux", "3.0");
        assert_eq!(
            purl(&package("3.3.3-1.azl3"), &azure, &platform("amd64")),
            "pkg:rpm/azurelinux/openssl-libs@3.3.3-1.azl3?arch=x86_64&distro=azurelinux-3.0"
        );
    }
}
