//! `salve plugins new`: a plugin crate that builds and passes its tests as it is, from a template
//! per plugin kind, with the SDK copied into it (or taken from a path or git source).

use super::{KitError, io_error, sdk};
use crate::plugin::PluginKind;
use std::path::{Path, PathBuf};

/// Where the new crate takes the SDK from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdkSource {
    /// A copy of the SDK embedded in salve, written to `vendor/salve-plugin-sdk` in the crate:
    /// the crate builds anywhere, with no checkout of salve.
    Vendored,
    /// An SDK folder (a checkout's `sdk/`).
    Path(PathBuf),
    /// A git repository holding the SDK crate (salve's own, or a fork).
    Git(String),
}

/// The vendored SDK's folder inside a new crate.
const VENDOR_DIR: &str = "vendor/salve-plugin-sdk";

/// One template file: where it goes in the crate, and its text with `{{...}}` placeholders.
type TemplateFile = (&'static str, &'static str);

/// The scanner template.
const SCANNER: &[TemplateFile] = &[
    ("Cargo.toml", include_str!("templates/scanner/Cargo.toml")),
    (".gitignore", include_str!("templates/scanner/gitignore")),
    ("README.md", include_str!("templates/scanner/README.md")),
    ("src/lib.rs", include_str!("templates/scanner/lib.rs")),
    (
        "sample-report.txt",
        include_str!("templates/scanner/sample-report.txt"),
    ),
];

/// The ecosystem template.
const ECOSYSTEM: &[TemplateFile] = &[
    ("Cargo.toml", include_str!("templates/ecosystem/Cargo.toml")),
    (".gitignore", include_str!("templates/scanner/gitignore")),
    ("README.md", include_str!("templates/ecosystem/README.md")),
    ("src/lib.rs", include_str!("templates/ecosystem/lib.rs")),
    (
        "image/etc/os-release",
        include_str!("templates/ecosystem/os-release"),
    ),
    (
        "image/usr/bin/toypkg",
        include_str!("templates/ecosystem/toypkg"),
    ),
    (
        "image/var/lib/toypkg/installed",
        include_str!("templates/ecosystem/installed"),
    ),
];

/// Checks that `name` can name both the crate (`salve-plugin-NAME`) and the plugin file.
pub fn check_name(name: &str) -> Result<(), KitError> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(KitError::Name {
            name: name.to_string(),
        })
    }
}

/// Writes a new plugin crate of `kind` called `name` into `dir` (absent or empty).
pub fn create(kind: PluginKind, name: &str, dir: &Path, sdk: &SdkSource) -> Result<(), KitError> {
    check_name(name)?;
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(KitError::FolderInUse {
            path: dir.to_path_buf(),
        });
    }
    let template = match kind {
        PluginKind::Scanner => SCANNER,
        PluginKind::Ecosystem => ECOSYSTEM,
    };
    let (dependency, note) = sdk_lines(sdk);
    let dev_dependency = dependency.replacen(" }", ", features = [\"testing\"] }", 1);
    for (relative, text) in template {
        let text = text
            .replace("{{name}}", name)
            .replace(
                "{{sdk_dependency}}",
                &format!("salve-plugin-sdk = {dependency}"),
            )
            .replace(
                "{{sdk_dev_dependency}}",
                &format!("salve-plugin-sdk = {dev_dependency}"),
            )
            .replace("{{sdk_note}}", &note);
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent, "creating a folder"))?;
        }
        std::fs::write(&path, text).map_err(io_error(&path, "writing a template file"))?;
        if relative.starts_with("image/usr/bin/") {
            let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
            std::fs::set_permissions(&path, executable)
                .map_err(io_error(&path, "making it executable"))?;
        }
    }
    if *sdk == SdkSource::Vendored {
        sdk::write_to(&dir.join(VENDOR_DIR))?;
    }
    Ok(())
}

/// The SDK dependency's value in `Cargo.toml`, and a line for the crate's README saying where the
/// SDK comes from.
fn sdk_lines(sdk: &SdkSource) -> (String, String) {
    match sdk {
        SdkSource::Vendored => (
            format!("{{ path = \"{VENDOR_DIR}\" }}"),
            format!(
                "The SDK (salve-plugin-sdk {}, the one this salve loads plugins of) is copied into \
                 `{VENDOR_DIR}`; a newer salve's `plugins new` writes a newer one.",
                sdk::version()
            ),
        ),
        SdkSource::Path(path) => (
            format!("{{ path = {:?} }}", path.display().to_string()),
            format!("The SDK is taken from {}.", path.display()),
        ),
        SdkSource::Git(url) => (
            format!("{{ git = {url:?} }}"),
            format!("The SDK is taken from the git repository {url}."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_name_a_crate_and_a_file() {
        for good in ["lines", "my-scanner", "osv2", "a_b"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Lines",
            "2lines",
            "-x",
            "a.b",
            "a/b",
            "ü",
            &"x".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn writes_a_scanner_crate_with_its_sdk_source() {
        let dir = tempfile::tempdir().unwrap();
        let crate_dir = dir.path().join("lines");
        let git = SdkSource::Git("https://example.com/salve.git".into());
        create(PluginKind::Scanner, "lines", &crate_dir, &git).unwrap();
        let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("name = \"salve-plugin-lines\""),
            "{manifest}"
        );
        assert!(
            manifest.contains("salve-plugin-sdk = { git = \"https://example.com/salve.git\" }"),
            "{manifest}"
        );
        let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("name: \"lines\".into()"));
        assert!(!crate_dir.join(VENDOR_DIR).exists());
        let error = create(PluginKind::Scanner, "lines", &crate_dir, &git).unwrap_err();
        assert!(
            error.to_string().contains("exists and is not empty"),
            "{error}"
        );
    }

    #[test]
    fn the_vendored_sdk_is_written_into_the_crate() {
        let dir = tempfile::tempdir().unwrap();
        create(
            PluginKind::Ecosystem,
            "toy",
            dir.path(),
            &SdkSource::Vendored,
        )
        .unwrap();
        let manifest = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("salve-plugin-sdk = {{ path = \"{VENDOR_DIR}\" }}")),
            "{manifest}"
        );
        assert!(dir.path().join(VENDOR_DIR).join("src/lib.rs").is_file());
        let toypkg = dir.path().join("image/usr/bin/toypkg");
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&toypkg.metadata().unwrap().permissions());
        assert_eq!(mode & 0o777, 0o755);
    }
}
