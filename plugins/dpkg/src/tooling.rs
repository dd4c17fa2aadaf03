//! Which image runs the plan for an image that has no apt of its own.

use salve_plugin_sdk::OsInfo;

/// The tooling image for a Debian or Ubuntu target without apt.
///
/// - Debian `X` or `X.Y`: `docker.io/library/debian:X-slim`, the same release;
/// - Ubuntu with a report: `docker.io/library/ubuntu:<version>`, the same release;
/// - Ubuntu without a report (update everything): `docker.io/library/debian:stable-slim`, as copa
///   does;
/// - anything else: none.
pub fn image(os: &OsInfo, update_all: bool) -> Option<String> {
    let major = os.version_id.split('.').next().unwrap_or_default();
    let numeric =
        |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    match os.id.as_str() {
        "debian" if numeric(major) => Some(format!("docker.io/library/debian:{major}-slim")),
        "ubuntu" if update_all => Some("docker.io/library/debian:stable-slim".into()),
        "ubuntu" if numeric(&os.version_id) => {
            Some(format!("docker.io/library/ubuntu:{}", os.version_id))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::os;

    #[test]
    fn debian_uses_its_own_release() {
        assert_eq!(
            image(&os("debian", "12"), false).unwrap(),
            "docker.io/library/debian:12-slim"
        );
        assert_eq!(
            image(&os("debian", "11.9"), true).unwrap(),
            "docker.io/library/debian:11-slim"
        );
        assert_eq!(
            image(&os("debian", "10.13"), false).unwrap(),
            "docker.io/library/debian:10-slim"
        );
    }

    #[test]
    fn ubuntu_uses_its_release_with_a_report_and_debian_stable_without() {
        assert_eq!(
            image(&os("ubuntu", "22.04"), false).unwrap(),
            "docker.io/library/ubuntu:22.04"
        );
        assert_eq!(
            image(&os("ubuntu", "22.04"), true).unwrap(),
            "docker.io/library/debian:stable-slim"
        );
    }

    #[test]
    fn unknown_or_odd_versions_have_none() {
        assert_eq!(image(&os("debian", "trixie/sid"), false), None);
        assert_eq!(image(&os("alpine", "3.19"), false), None);
        assert_eq!(image(&os("ubuntu", ""), false), None);
    }
}
