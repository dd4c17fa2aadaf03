//! Python environments in an image: site-packages folders, their interpreters, and the
//! `*.dist-info/METADATA` files of the distributions installed in them.

/// Where salve looks for installed distributions (`*` matches within one path segment).
pub const METADATA_GLOBS: &[&str] = &[
    "/usr/local/lib/python3*/site-packages/*.dist-info/METADATA",
    "/usr/local/lib/python3*/dist-packages/*.dist-info/METADATA",
    "/usr/lib/python3*/site-packages/*.dist-info/METADATA",
    "/usr/lib/python3/dist-packages/*.dist-info/METADATA",
    "/opt/*/lib/python3*/site-packages/*.dist-info/METADATA",
];

/// The folder of a distribution's `METADATA` file: its `*.dist-info` folder, checked.
pub fn dist_info_dir(metadata: &str) -> Option<&str> {
    let dir = metadata.strip_suffix("/METADATA")?;
    let name = dir.rsplit('/').next()?;
    (name.ends_with(".dist-info") && !dir.split('/').any(|part| part == "..")).then_some(dir)
}

/// The site-packages (or dist-packages) folder holding a `METADATA` file.
pub fn site_packages(metadata: &str) -> Option<&str> {
    let dist_info = dist_info_dir(metadata)?;
    let (folder, _) = dist_info.rsplit_once('/')?;
    folder.ends_with("-packages").then_some(folder)
}

/// The Python version of an environment (`python3.11`) from its folder, when the path names it.
pub fn python_version(site_packages: &str) -> Option<&str> {
    site_packages
        .split('/')
        .find(|part| part.starts_with("python3.") && part[8..].bytes().all(|b| b.is_ascii_digit()))
}

/// The interpreter that owns a site-packages folder:
/// - Debian's `/usr/lib/python3/dist-packages` belongs to `/usr/bin/python3`;
/// - Debian's `/usr/local/lib/python3.X/dist-packages` to `/usr/bin/python3.X`;
/// - `<prefix>/lib/python3.X/site-packages` (python images, virtual environments) to
///   `<prefix>/bin/python3.X`.
pub fn interpreter(site_packages: &str) -> Option<String> {
    if site_packages == "/usr/lib/python3/dist-packages" {
        return Some("/usr/bin/python3".into());
    }
    let version = python_version(site_packages)?;
    let (prefix, _) = site_packages.split_once(&format!("/lib/{version}/"))?;
    if site_packages.ends_with("/dist-packages") {
        return Some(format!("/usr/bin/{version}"));
    }
    Some(format!("{prefix}/bin/{version}"))
}

/// True for the folders of the distribution's own Python, which pip refuses to change unless
/// told `--break-system-packages` (PEP 668).
pub fn is_system(site_packages: &str) -> bool {
    site_packages.ends_with("/dist-packages") || site_packages.starts_with("/usr/lib/")
}

/// Normalises a path from a report (`usr/lib/...` or `/usr/lib/...`) to an absolute one.
pub fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_folders_and_interpreters() {
        let metadata = "/usr/local/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA";
        let folder = site_packages(metadata).unwrap();
        assert_eq!(folder, "/usr/local/lib/python3.11/site-packages");
        assert_eq!(python_version(folder), Some("python3.11"));
        assert_eq!(interpreter(folder).unwrap(), "/usr/local/bin/python3.11");
        assert!(!is_system(folder));

        let venv = "/opt/venv/lib/python3.11/site-packages";
        assert_eq!(interpreter(venv).unwrap(), "/opt/venv/bin/python3.11");
        assert_eq!(
            interpreter("/usr/lib/python3/dist-packages").unwrap(),
            "/usr/bin/python3"
        );
        let debian_local = "/usr/local/lib/python3.11/dist-packages";
        assert_eq!(interpreter(debian_local).unwrap(), "/usr/bin/python3.11");
        assert!(is_system(debian_local));
    }

    #[test]
    fn odd_paths_are_refused() {
        assert_eq!(
            site_packages("/usr/lib/python3/dist-packages/x/METADATA"),
            None
        );
        assert_eq!(dist_info_dir("/a/../b.dist-info/METADATA"), None);
        assert_eq!(site_packages("/tmp/requests-1.0.dist-info/METADATA"), None);
        assert_eq!(absolute("usr/lib/x"), "/usr/lib/x");
    }
}
