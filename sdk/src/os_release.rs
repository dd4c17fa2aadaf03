//! Parsing `/etc/os-release` (and `/usr/lib/os-release`) into an [`OsInfo`].

use crate::OsInfo;

/// Reads the `ID`, `VERSION_ID` and `VERSION_CODENAME` of an os-release file.
///
/// Returns `None` when the file has no `ID`. Quotes and backslash escapes are removed
/// as the os-release format describes; unknown keys and comments are ignored.
pub fn parse(content: &[u8]) -> Option<OsInfo> {
    let text = String::from_utf8_lossy(content);
    let mut id = None;
    let mut version_id = None;
    let mut codename = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "ID" => id = Some(value.to_ascii_lowercase()),
            "VERSION_ID" => version_id = Some(value),
            "VERSION_CODENAME" if !value.is_empty() => codename = Some(value),
            _ => {}
        }
    }
    Some(OsInfo {
        id: id.filter(|id| !id.is_empty())?,
        version_id: version_id.unwrap_or_default(),
        codename,
    })
}

/// The os-release `ID` for a distribution name as scanners write it (Trivy's OS family, Grype's
/// distro name): `redhat` is `rhel`, `amazonlinux` is `amzn`, and so on. Lower-cases the rest.
pub fn id_from_scanner_name(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    let id = match name.as_str() {
        "redhat" => "rhel",
        "alma" => "almalinux",
        "amazon" | "amazonlinux" => "amzn",
        "oracle" | "oraclelinux" => "ol",
        "rockylinux" => "rocky",
        "cbl-mariner" => "mariner",
        "opensuse.leap" | "opensuseleap" => "opensuse-leap",
        "opensuse.tumbleweed" => "opensuse-tumbleweed",
        "suse linux enterprise server" => "sles",
        "suse linux enterprise micro" => "sle-micro",
        other => other,
    };
    id.to_string()
}

/// Removes one level of single or double quotes and the backslash escapes inside them.
fn unquote(value: &str) -> String {
    let quoted = value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')));
    let inner = if quoted {
        &value[1..value.len() - 1]
    } else {
        value
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_debian_os_release() {
        let text = b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        let os = parse(text).unwrap();
        assert_eq!(os.id, "debian");
        assert_eq!(os.version_id, "12");
        assert_eq!(os.codename.as_deref(), Some("bookworm"));
    }

    #[test]
    fn handles_single_quotes_escapes_and_comments() {
        let text = b"# comment\nID='alpine'\nVERSION_ID=3.19.1\nNAME=\"A \\\"quoted\\\" name\"\n";
        let os = parse(text).unwrap();
        assert_eq!(os.id, "alpine");
        assert_eq!(os.version_id, "3.19.1");
        assert_eq!(os.codename, None);
    }

    #[test]
    fn scanner_names_map_to_os_release_ids() {
        assert_eq!(id_from_scanner_name("redhat"), "rhel");
        assert_eq!(id_from_scanner_name("amazonlinux"), "amzn");
        assert_eq!(id_from_scanner_name("cbl-mariner"), "mariner");
        assert_eq!(id_from_scanner_name("Ubuntu"), "ubuntu");
    }

    #[test]
    fn without_id_there_is_no_os() {
        assert_eq!(parse(b"NAME=Something\nVERSION_ID=1\n"), None);
        assert_eq!(parse(b"ID=\"\"\n"), None);
        assert_eq!(parse(b"\xff\xfe garbage"), None);
    }
}
