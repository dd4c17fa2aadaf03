//! The plugin SDK this salve was built with, embedded in the binary, so a new plugin crate builds
//! against exactly the contract this salve loads without a checkout of salve's sources.

use super::{KitError, io_error};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// The SDK crate's version (`version` in its manifest).
pub fn version() -> &'static str {
    let manifest = SDK_FILES
        .iter()
        .find(|(path, _)| *path == "Cargo.toml")
        .map(|(_, bytes)| std::str::from_utf8(bytes).unwrap_or_default())
        .unwrap_or_default();
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or("unknown")
}

/// Writes the SDK crate into `dir` (which must not exist yet or be empty).
pub fn write_to(dir: &Path) -> Result<(), KitError> {
    for (relative, bytes) in SDK_FILES {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent, "creating a folder"))?;
        }
        std::fs::write(&path, bytes).map_err(io_error(&path, "writing an SDK file"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_sdk_is_a_whole_crate_of_the_latest_contract() {
        let paths: Vec<&str> = SDK_FILES.iter().map(|(path, _)| *path).collect();
        for wanted in ["Cargo.toml", "README.md", "src/lib.rs", "src/bindings.rs"] {
            assert!(paths.contains(&wanted), "{wanted} missing from {paths:?}");
        }
        let latest = crate::plugin::contract::ContractVersion::LATEST.package_version();
        let folder = format!("wit/v{}/", latest.rsplit_once('.').unwrap().0);
        assert!(
            paths.iter().any(|path| path.starts_with(&folder)),
            "{folder}"
        );
        assert_ne!(version(), "unknown");
    }
}
