//! RPM distribution releases past the end of their support, and what users do about it.

use salve_plugin_sdk::OsInfo;

/// `(os id, major version, advice)` for releases that get no more updates.
const EOL: &[(&str, &str, &str)] = &[
    ("centos", "6", "its packages moved to vault.centos.org"),
    ("centos", "7", "its packages moved to vault.centos.org"),
    (
        "centos",
        "8",
        "its packages moved to vault.centos.org; consider Rocky Linux or AlmaLinux",
    ),
    ("mariner", "1", "move to Azure Linux 3.0"),
    ("mariner", "2", "move to Azure Linux 3.0"),
    ("amzn", "1", "move to Amazon Linux 2023"),
    ("amzn", "2018", "move to Amazon Linux 2023"),
    ("amzn", "2", "move to Amazon Linux 2023"),
    (
        "rhel",
        "6",
        "only Extended Life-cycle Support subscriptions get updates",
    ),
    (
        "rhel",
        "7",
        "only Extended Life-cycle Support subscriptions get updates",
    ),
    ("ol", "6", "only Extended Support subscriptions get updates"),
    ("ol", "7", "only Extended Support subscriptions get updates"),
    (
        "sles",
        "12",
        "only Long Term Service Pack Support subscriptions get updates",
    ),
    (
        "opensuse-leap",
        "15",
        "the Leap 15 series has ended; move to openSUSE Leap 16",
    ),
    ("opensuse-leap", "42", "move to openSUSE Leap 16"),
];

/// The oldest Fedora release still supported.
const OLDEST_SUPPORTED_FEDORA: u32 = 43;

/// A warning with advice when the release is end of life, `None` otherwise.
pub fn warning(os: &OsInfo) -> Option<String> {
    let major = os.version_id.split('.').next().unwrap_or_default();
    let advice = match os.id.as_str() {
        "fedora" => major
            .parse::<u32>()
            .ok()
            .filter(|major| *major < OLDEST_SUPPORTED_FEDORA)
            .map(|_| "its packages moved to archives.fedoraproject.org"),
        id => EOL
            .iter()
            .find(|(eol_id, eol_major, _)| *eol_id == id && *eol_major == major)
            .map(|(_, _, advice)| *advice),
    }?;
    Some(format!(
        "{} {} is end of life and gets no security updates ({advice}). Upgrade the base image to a \
         supported release.",
        os.id, os.version_id
    ))
}

/// A shell function for the plan's scripts: `advised COMMAND...` runs the command, prints its
/// output, and when it failed and the output shows a repository answering 404, adds the advice
/// for releases whose repositories have moved; never for other failures. The script sets
/// `os_id` and `os_version` (data from its arguments) first. The output goes through a temporary
/// file, not a pipe, so a process the command leaves behind cannot hold the step open.
#[macro_export]
macro_rules! advised_function {
    () => {
        r#"advised() {
  log=$(mktemp)
  "$@" > "$log" 2>&1 && status=0 || status=$?
  cat "$log"
  output=$(cat "$log")
  rm -f "$log"
  if [ "$status" -ne 0 ]; then
    case $output in
      *"Status code: 404"*|*"returned error: 404"*|*"404 Not Found"*|*"Error(404)"*|*"repomd.xml' not found on medium"*)
        printf 'salve: the package repositories for %s %s could not be read (404 or no repodata); if the release is end of life its packages have moved to an archive: upgrade the base image, or point the image%ss .repo files at the archive\n' "$os_id" "$os_version" "'" >&2
        ;;
    esac
  fi
  return "$status"
}
"#
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::os;

    #[test]
    fn old_releases_warn_and_supported_ones_do_not() {
        assert!(
            warning(&os("centos", "7"))
                .unwrap()
                .contains("vault.centos.org")
        );
        assert!(
            warning(&os("mariner", "1.0"))
                .unwrap()
                .contains("Azure Linux 3.0")
        );
        assert!(warning(&os("amzn", "2")).is_some());
        assert!(warning(&os("fedora", "39")).is_some());
        assert!(warning(&os("fedora", "44")).is_none());
        assert!(warning(&os("amzn", "2023")).is_none());
        assert!(warning(&os("azurelinux", "3.0")).is_none());
        assert!(warning(&os("rocky", "9.3")).is_none());
        assert!(warning(&os("rhel", "8.10")).is_none());
    }
}
