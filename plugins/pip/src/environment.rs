//! Python environments in an image: site-packages folders, their interpreters, and the
//! `*.dist-info/METADATA` files of the distributions installed in them.

/// Where salve looks for installed distributions, anywhere in the image (`**` matches any number
/// of path segments, `*` within one): every `lib/python3.X/site-packages` or `dist-packages`
/// folder, so virtual environments (`/app/.venv`, `/venv`), users' sites
/// (`/home/<user>/.local`), conda-style prefixes and the distribution's own folders are all found.
/// The host adds the folders a report names, wherever they are.
pub const METADATA_GLOBS: &[&str] = &[
    "/**/lib/python3*/site-packages/*.dist-info/METADATA",
    "/**/lib/python3*/dist-packages/*.dist-info/METADATA",
];

/// The folder of a distribution's `METADATA` file: its `*.dist-info` folder, checked.
pub fn dist_info_dir(metadata: &str) -> Option<&str> {
    let dir = metadata.strip_suffix("/METADATA")?;
    let name = dir.rsplit('/').next()?;
    (name.ends_with(".dist-info") && !dir.split('/').any(|part| part == "..")).then_some(dir)
}

/// Every installed distribution's `RECORD` (its files), wherever the `METADATA` globs look:
/// native installation reads them in the probe's pass over the layers, not in another.
pub const RECORD_GLOBS: &[&str] = &[
    "/**/lib/python3*/site-packages/*.dist-info/RECORD",
    "/**/lib/python3*/dist-packages/*.dist-info/RECORD",
];

/// The `METADATA` path of the distribution a report's path names: the `METADATA` file itself,
/// another file of its `*.dist-info` folder (Grype lists `RECORD` and `top_level.txt` too, in
/// any order), or the folder; other paths are returned as they are.
pub fn metadata_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.ends_with(".dist-info") {
        return format!("{trimmed}/METADATA");
    }
    match trimmed.rsplit_once('/') {
        Some((folder, _)) if folder.ends_with(".dist-info") => format!("{folder}/METADATA"),
        _ => trimmed.to_string(),
    }
}

/// The folder holding a `METADATA` file's `*.dist-info` folder: a site-packages (or
/// dist-packages) folder, or any folder pip installed into with `--target`. Conda's package
/// cache (`.../pkgs/<package>/lib/...`) holds unpacked downloads, not an environment, and is
/// left out.
pub fn site_packages(metadata: &str) -> Option<&str> {
    let dist_info = dist_info_dir(metadata)?;
    let (folder, _) = dist_info.rsplit_once('/')?;
    let in_conda_cache = folder
        .split_once("/pkgs/")
        .is_some_and(|(_, rest)| rest.contains("/lib/python3"));
    (!folder.is_empty() && !in_conda_cache).then_some(folder)
}

/// The user base of a user's site-packages folder (`/home/app/.local` for
/// `/home/app/.local/lib/python3.11/site-packages`), where `pip install --user` writes.
pub fn user_base(site_packages: &str) -> Option<&str> {
    let version = python_version(site_packages)?;
    let base = site_packages.strip_suffix(&format!("/lib/{version}/site-packages"))?;
    base.ends_with("/.local").then_some(base)
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
/// - a user's site (`<home>/.local/lib/python3.X/site-packages`) to the `python3.X` on `PATH`;
/// - `<prefix>/lib/python3.X/site-packages` (python images, virtual environments, conda) to
///   `<prefix>/bin/python3.X`.
///
/// `None` for folders no interpreter owns by its layout (pip's `--target` folders).
pub fn interpreter(site_packages: &str) -> Option<String> {
    if site_packages == "/usr/lib/python3/dist-packages" {
        return Some("/usr/bin/python3".into());
    }
    let version = python_version(site_packages)?;
    let (prefix, rest) = site_packages.split_once(&format!("/lib/{version}/"))?;
    if rest != "site-packages" && rest != "dist-packages" {
        return None;
    }
    if site_packages.ends_with("/dist-packages") {
        return Some(format!("/usr/bin/{version}"));
    }
    if user_base(site_packages).is_some() {
        return Some(version.to_string());
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
    fn environments_anywhere_and_users_sites() {
        let venv = "/app/.venv/lib/python3.11/site-packages";
        assert_eq!(
            site_packages(&format!("{venv}/idna-2.10.dist-info/METADATA")),
            Some(venv)
        );
        assert_eq!(interpreter(venv).unwrap(), "/app/.venv/bin/python3.11");
        let user = "/home/app/.local/lib/python3.11/site-packages";
        assert_eq!(user_base(user), Some("/home/app/.local"));
        assert_eq!(interpreter(user).unwrap(), "python3.11");
        assert_eq!(user_base(venv), None);
        let target = "/srv/app/deps";
        assert_eq!(
            site_packages(&format!("{target}/idna-2.10.dist-info/METADATA")),
            Some(target)
        );
        assert_eq!(interpreter(target), None);
        assert_eq!(
            interpreter("/srv/lib/python3.11/site-packages/vendor"),
            None,
            "only the site-packages folder itself"
        );
        let conda_cache = "/opt/conda/pkgs/idna-2.10-py_0/lib/python3.11/site-packages/idna-2.10.dist-info/METADATA";
        assert_eq!(site_packages(conda_cache), None);
        assert!(
            site_packages("/opt/conda/lib/python3.11/site-packages/idna-2.10.dist-info/METADATA")
                .is_some()
        );
    }

    #[test]
    fn any_file_of_a_dist_info_folder_names_its_metadata() {
        let metadata = "/venv/lib/python3.11/site-packages/idna-2.10.dist-info/METADATA";
        for path in [
            metadata,
            "/venv/lib/python3.11/site-packages/idna-2.10.dist-info/RECORD",
            "/venv/lib/python3.11/site-packages/idna-2.10.dist-info/",
        ] {
            assert_eq!(metadata_path(path), metadata, "{path}");
        }
        assert_eq!(metadata_path("/etc/passwd"), "/etc/passwd");
    }

    #[test]
    fn odd_paths_are_refused() {
        assert_eq!(
            site_packages("/usr/lib/python3/dist-packages/x/METADATA"),
            None
        );
        assert_eq!(dist_info_dir("/a/../b.dist-info/METADATA"), None);
        assert_eq!(site_packages("/requests-1.0.dist-info/METADATA"), None);
        assert_eq!(absolute("usr/lib/x"), "/usr/lib/x");
    }
}
