//! Package URLs for Debian packages, as the purl specification's `deb` type defines them.

use salve_plugin_sdk::purl::encode;
use salve_plugin_sdk::{InstalledPackage, OsInfo, Platform};

/// `pkg:deb/<debian|ubuntu>/<name>@<version>?arch=<arch>&distro=<id>-<version>`, with the
/// version percent-encoded (an epoch's `:` is `%3A`).
pub fn purl(package: &InstalledPackage, os: &OsInfo, platform: &Platform) -> String {
    let architecture = package
        .architecture
        .as_deref()
        .unwrap_or(&platform.architecture);
    format!(
        "pkg:deb/{namespace}/{name}@{version}?arch={arch}&distro={namespace}-{release}",
        namespace = encode(&os.id),
        name = encode(&package.name),
        version = encode(&package.version),
        arch = encode(architecture),
        release = encode(&os.version_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{self, installed, os};

    fn platform() -> Platform {
        Platform {
            variant: Some("v8".into()),
            ..testing::platform("arm64")
        }
    }

    #[test]
    fn builds_deb_purls() {
        let debian = os("debian", "12");
        assert_eq!(
            purl(
                &installed("libssl3", "3.0.13-1~deb12u1", Some("amd64")),
                &debian,
                &platform()
            ),
            "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            purl(
                &installed("zlib1g", "1:1.2.13.dfsg-1", None),
                &debian,
                &platform()
            ),
            "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=arm64&distro=debian-12"
        );
        let ubuntu = os("ubuntu", "22.04");
        assert_eq!(
            purl(
                &installed("libstdc++6", "12.3.0-1ubuntu1~22.04", Some("amd64")),
                &ubuntu,
                &platform()
            ),
            "pkg:deb/ubuntu/libstdc%2B%2B6@12.3.0-1ubuntu1~22.04?arch=amd64&distro=ubuntu-22.04"
        );
    }
}
