//! Debian and Ubuntu releases that no longer get security updates, and what users do about it.

use salve_plugin_sdk::OsInfo;

/// Debian releases past the end of their (LTS) security support, by major version.
const DEBIAN_EOL: &[(&str, &str)] = &[
    ("7", "wheezy"),
    ("8", "jessie"),
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
];

/// Ubuntu releases past their standard support: every non-LTS release before 26.10, and the LTS
/// releases up to 20.04 (which live on only in Ubuntu Pro's ESM).
const UBUNTU_EOL: &[&str] = &[
    "14.04", "14.10", "15.04", "15.10", "16.04", "16.10", "17.04", "17.10", "18.04", "18.10",
    "19.04", "19.10", "20.04", "20.10", "21.04", "21.10", "22.10", "23.04", "23.10", "24.10",
    "25.04", "25.10",
];

/// A warning with advice when the release is end of life, `None` otherwise.
pub fn warning(os: &OsInfo) -> Option<String> {
    match os.id.as_str() {
        "debian" => {
            let major = os.version_id.split('.').next().unwrap_or_default();
            let codename = DEBIAN_EOL
                .iter()
                .find(|(version, codename)| {
                    *version == major || os.codename.as_deref() == Some(codename)
                })
                .map(|(_, codename)| *codename)?;
            Some(format!(
                "Debian {major} ({codename}) is end of life: its packages have moved to \
                 archive.debian.org and get no security updates. Upgrade the base image to a \
                 supported Debian release, or point the image's sources.list at \
                 archive.debian.org to install the last packages published for {codename}."
            ))
        }
        "ubuntu" if UBUNTU_EOL.contains(&os.version_id.as_str()) => Some(format!(
            "Ubuntu {} is past its standard support: its packages get no public security \
             updates (non-LTS releases move to old-releases.ubuntu.com; old LTS releases get \
             them only through Ubuntu Pro). Upgrade the base image to a supported Ubuntu release.",
            os.version_id
        )),
        _ => None,
    }
}

/// `apt-get update`, run by `sh` so that the advice for repositories that are gone follows from
/// what apt says: it is added to the output only when the update failed and apt names a 404 or a
/// missing Release file, never for other failures (a broken hook, a full disk). Indexes apt
/// could not download and went on without (it exits 0 for a repository it cannot connect to)
/// fail the step: an update of everything would otherwise find nothing to do and say so. `$1` and `$2` are
/// the image's OS id and version, passed as data. The output goes through a temporary file, not
/// a pipe, so a process apt-get leaves behind cannot hold the step open.
pub const APT_UPDATE: &str = r#"set -u
log=$(mktemp)
apt-get update > "$log" 2>&1 && status=0 || status=$?
cat "$log"
if [ "$status" -eq 0 ] && grep -q "Some index files failed to download" "$log"; then
  printf 'salve: apt-get update could not download some package indexes (above) and went on without them, so their updates would be missed: make those repositories reachable and patch again\n' >&2
  status=100
fi
if [ "$status" -ne 0 ]; then
  case $(cat "$log") in
    *"esm.ubuntu.com"*"401"*"Unauthorized"*)
      printf 'salve: the image%ss apt sources include Ubuntu Pro%ss ESM repositories (esm.ubuntu.com), which answer only to a machine attached to an Ubuntu Pro subscription; salve carries no subscription credentials into images: patch the image%ss build with `pro attach`, or remove the ESM sources from the image (then only standard-support fixes apply)\n' "'" "'" "'" >&2
      ;;
    *"404  Not Found"*|*"404 Not Found"*|*"does not have a Release file"*|*"no longer has a Release file"*)
      printf 'salve: the package repositories for %s %s could not be read (404 or no Release file); if the release is end of life its packages have moved to an archive: upgrade the base image, or point the image%ss sources at the archive\n' "$1" "$2" "'" >&2
      ;;
  esac
fi
rm -f "$log"
exit "$status"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{self, StandIn, run_script};

    fn os(id: &str, version: &str, codename: Option<&str>) -> OsInfo {
        OsInfo {
            codename: codename.map(str::to_string),
            ..testing::os(id, version)
        }
    }

    /// Runs [`APT_UPDATE`] with an `apt-get` that prints `output` and exits with `status`;
    /// the script's exit status and everything it printed.
    fn apt_update_with(output: &str, status: i32) -> (i32, String) {
        let run = run_script(
            APT_UPDATE,
            "apt-get-update",
            &["debian", "10"],
            &[StandIn::printing("apt-get", output, status)],
        );
        (run.code, run.printed)
    }

    #[test]
    fn the_archive_advice_follows_from_what_apt_says() {
        let (status, printed) = apt_update_with(
            "E: The repository http://deb.debian.org/debian buster Release does not have a Release file.",
            100,
        );
        assert_eq!(status, 100);
        assert!(
            printed.contains("does not have a Release file"),
            "{printed}"
        );
        assert!(
            printed.contains("repositories for debian 10 could not be read")
                && printed.contains("image's sources"),
            "{printed}"
        );
        let (status, printed) = apt_update_with(
            "E: Problem executing scripts APT::Update::Pre-Invoke 'false'",
            100,
        );
        assert_eq!(status, 100);
        assert!(printed.contains("Pre-Invoke 'false'"), "{printed}");
        assert!(!printed.contains("archive"), "no advice: {printed}");
        let (status, printed) = apt_update_with("Err:1 http://x 404  Not Found", 0);
        assert_eq!(status, 0, "a warning apt got past is no failure");
        assert!(!printed.contains("archive"), "{printed}");
    }

    #[test]
    fn indexes_apt_went_on_without_fail_the_step() {
        let (status, printed) = apt_update_with(
            "Err:1 http://127.0.0.1:9/debian bookworm InRelease\n  Could not connect to \
             127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)\n\
             W: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm/InRelease  Could not \
             connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)\n\
             W: Some index files failed to download. They have been ignored, or old ones used \
             instead.",
            0,
        );
        assert_eq!(status, 100, "{printed}");
        assert!(
            printed.contains("could not download some package indexes"),
            "{printed}"
        );
    }

    #[test]
    fn ubuntu_pro_sources_without_credentials_get_their_own_advice() {
        let (status, printed) = apt_update_with(
            "Err:5 https://esm.ubuntu.com/apps/ubuntu jammy-apps-security InRelease\n  \
             401  Unauthorized [IP: 185.125.188.54 443]\n\
             E: Failed to fetch https://esm.ubuntu.com/apps/ubuntu/dists/jammy-apps-security/InRelease  \
             401  Unauthorized [IP: 185.125.188.54 443]\n\
             E: Some index files failed to download. They have been ignored, or old ones used instead.",
            100,
        );
        assert_eq!(status, 100);
        assert!(
            printed.contains("Ubuntu Pro's ESM repositories"),
            "{printed}"
        );
        assert!(printed.contains("pro attach"), "{printed}");
        assert!(!printed.contains("end of life"), "{printed}");
    }

    #[test]
    fn a_process_apt_get_leaves_behind_does_not_hold_the_step_open() {
        let daemon = StandIn {
            name: "apt-get",
            body: "sleep 60 &\necho 'E: broken'\nexit 100\n".into(),
        };
        // The run ends with 124 if the script waits for the process left behind.
        let run = run_script(APT_UPDATE, "apt-get-update", &["debian", "12"], &[daemon]);
        assert_eq!(run.code, 100, "{}", run.printed);
        assert!(run.printed.contains("E: broken"), "{}", run.printed);
    }

    #[test]
    fn old_releases_warn_and_supported_ones_do_not() {
        assert!(
            warning(&os("debian", "10", None))
                .unwrap()
                .contains("buster")
        );
        assert!(
            warning(&os("debian", "11.9", None))
                .unwrap()
                .contains("archive.debian.org")
        );
        assert!(warning(&os("debian", "", Some("stretch"))).is_some());
        assert!(warning(&os("debian", "12", Some("bookworm"))).is_none());
        assert!(warning(&os("debian", "13", None)).is_none());
        assert!(
            warning(&os("ubuntu", "20.04", None))
                .unwrap()
                .contains("Ubuntu Pro")
        );
        assert!(warning(&os("ubuntu", "23.10", None)).is_some());
        assert!(warning(&os("ubuntu", "22.04", None)).is_none());
        assert!(warning(&os("ubuntu", "24.04", None)).is_none());
    }
}
