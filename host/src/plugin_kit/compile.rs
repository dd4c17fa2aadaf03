//! `salve plugins build`: compiles a plugin crate for `wasm32-unknown-unknown` with whichever
//! toolchain the machine has, turns the module into a component in-process, and checks it loads
//! as a plugin.

use super::{KitError, io_error};
use salve_wasm_build::{Toolchain, WASM_TARGET, componentize};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A plugin crate's manifest as `cargo metadata` describes it.
#[derive(Debug)]
pub struct PluginCrate {
    /// The crate's `Cargo.toml`.
    pub manifest: PathBuf,
    /// The library target's name (the module is `<lib_name>.wasm`).
    pub lib_name: String,
    /// Cargo's target folder for it.
    pub target_dir: PathBuf,
}

/// What `cargo metadata --no-deps` prints, the parts read here.
#[derive(Deserialize)]
struct Metadata {
    /// The workspace's packages.
    packages: Vec<Package>,
    /// The target folder.
    target_directory: PathBuf,
}

/// One package of `cargo metadata`.
#[derive(Deserialize)]
struct Package {
    /// Its `Cargo.toml`.
    manifest_path: PathBuf,
    /// Its targets.
    targets: Vec<Target>,
}

/// One target of a package.
#[derive(Deserialize)]
struct Target {
    /// The target's name.
    name: String,
    /// `lib`, `cdylib`, `bin`, ...
    kind: Vec<String>,
}

impl PluginCrate {
    /// Reads the crate in `dir` through `cargo metadata`.
    pub fn read(dir: &Path) -> Result<PluginCrate, KitError> {
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            return Err(KitError::Cargo(format!(
                "{} has no Cargo.toml: name a plugin crate's folder (`salve plugins new` makes one)",
                dir.display()
            )));
        }
        let manifest = manifest
            .canonicalize()
            .map_err(io_error(&manifest, "resolving the path"))?;
        let output = cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(&manifest)
            .output()
            .map_err(|error| KitError::Cargo(format!("running cargo metadata: {error}")))?;
        if !output.status.success() {
            return Err(KitError::Cargo(format!(
                "cargo metadata failed for {}:\n{}",
                manifest.display(),
                String::from_utf8_lossy(&output.stderr).trim_end()
            )));
        }
        let metadata: Metadata = serde_json::from_slice(&output.stdout).map_err(|error| {
            KitError::Cargo(format!("reading cargo metadata's output: {error}"))
        })?;
        let package = metadata
            .packages
            .iter()
            .find(|package| package.manifest_path == manifest)
            .ok_or_else(|| {
                KitError::Cargo(format!(
                    "cargo metadata does not list {}",
                    manifest.display()
                ))
            })?;
        let lib = package
            .targets
            .iter()
            .find(|target| {
                target
                    .kind
                    .iter()
                    .any(|kind| kind == "lib" || kind == "cdylib")
            })
            .ok_or_else(|| {
                KitError::Cargo(format!(
                    "{} has no library target: a plugin is a library crate (src/lib.rs)",
                    manifest.display()
                ))
            })?;
        Ok(PluginCrate {
            manifest,
            lib_name: lib.name.replace('-', "_"),
            target_dir: metadata.target_directory,
        })
    }

    /// Compiles the crate's library as a wasm `cdylib` (profile `release`) with `toolchain`, and
    /// turns the module into a component; cargo's output goes to the terminal.
    pub fn build(&self, toolchain: &Toolchain) -> Result<Vec<u8>, KitError> {
        let status = toolchain
            .cargo_rustc()
            .arg("--manifest-path")
            .arg(&self.manifest)
            .args(["--lib", "--crate-type", "cdylib", "--release"])
            .status()
            .map_err(|error| KitError::Cargo(format!("running cargo: {error}")))?;
        if !status.success() {
            return Err(KitError::Cargo(format!(
                "cargo failed to build {} for {WASM_TARGET} ({status})",
                self.manifest.display()
            )));
        }
        let module_path = self
            .target_dir
            .join(WASM_TARGET)
            .join("release")
            .join(format!("{}.wasm", self.lib_name));
        let module =
            std::fs::read(&module_path).map_err(io_error(&module_path, "reading the module"))?;
        Ok(componentize(&module)?)
    }
}

/// The cargo to run: the one running salve's build when there is one, else `cargo` on `PATH`.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
