//! Building plugin crates for WebAssembly: finding a compiler for `wasm32-unknown-unknown` (rustup's
//! target, or Debian's `rustc-web` with the standard library built from source), the cargo command
//! that uses it, and turning the built core module into a component.

use std::path::{Path, PathBuf};
use std::process::Command;
use thiserror::Error;

/// The wasm target every plugin is built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Where Debian's `rust-web-src` puts the standard library's sources.
const DEBIAN_RUST_SRC: &str = "/usr/lib/rustlib/src/rust/library/Cargo.lock";

/// Debian's second compiler, from `rustc-web`.
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";

/// Why a plugin could not be built.
#[derive(Debug, Error)]
pub enum BuildError {
    /// No compiler for the wasm target is installed.
    #[error(
        "no compiler for {WASM_TARGET} was found. Install one of:\n  \
         - rustup's target:   rustup target add {WASM_TARGET}\n  \
         - Debian's packages: apt-get install -y rustc-web rust-web-src lld-22 cargo-web\n\
         (found: rustup target no, {DEBIAN_RUSTC} with std sources {}, wasm-ld {})",
        yes_no(*.rustc_web),
        yes_no(*.wasm_ld)
    )]
    NoToolchain {
        /// Debian's `rustc-web` and its standard-library sources are there.
        rustc_web: bool,
        /// A `wasm-ld` is on `PATH`.
        wasm_ld: bool,
    },
    /// The compiler could not be asked its version.
    #[error("`{} --version` failed: {reason}", rustc.display())]
    CompilerVersion {
        /// The compiler.
        rustc: PathBuf,
        /// Why.
        reason: String,
    },
    /// The module could not be made a component (no `component-type` section, invalid module).
    #[error("turning the module into a component: {0:#}")]
    Componentize(anyhow::Error),
}

/// How plugins get compiled for wasm on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// rustup's toolchain with the `wasm32-unknown-unknown` target installed.
    Rustup,
    /// Debian's `rustc-web` with `rust-web-src`, building std from source, linked by `wasm-ld`.
    DebianRustcWeb {
        /// The `wasm-ld` binary (for example `wasm-ld-22`).
        linker: String,
    },
}

impl Toolchain {
    /// Finds a usable toolchain, preferring rustup's target where it is installed.
    pub fn detect() -> Result<Toolchain, BuildError> {
        if rustup_has_wasm_target() {
            return Ok(Toolchain::Rustup);
        }
        let rustc_web = Path::new(DEBIAN_RUSTC).exists() && Path::new(DEBIAN_RUST_SRC).exists();
        match (rustc_web, find_wasm_ld()) {
            (true, Some(linker)) => Ok(Toolchain::DebianRustcWeb { linker }),
            (rustc_web, linker) => Err(BuildError::NoToolchain {
                rustc_web,
                wasm_ld: linker.is_some(),
            }),
        }
    }

    /// A `cargo rustc` command for the wasm target with this toolchain's settings; the caller
    /// adds the package, crate type, profile and other arguments.
    pub fn cargo_rustc(&self) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        match self {
            Toolchain::Rustup => {
                command.arg("rustc");
            }
            Toolchain::DebianRustcWeb { linker } => {
                command
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env("RUSTC", DEBIAN_RUSTC)
                    .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", linker)
                    .args(["-Z", "build-std=std,panic_abort", "rustc"]);
            }
        }
        command.args(["--target", WASM_TARGET]);
        command
    }

    /// The compiler's `--version` line.
    pub fn rustc_version(&self) -> Result<String, BuildError> {
        let rustc = match self {
            Toolchain::Rustup => PathBuf::from(std::env::var_os("RUSTC").unwrap_or("rustc".into())),
            Toolchain::DebianRustcWeb { .. } => PathBuf::from(DEBIAN_RUSTC),
        };
        let failed = |reason: String| BuildError::CompilerVersion {
            rustc: rustc.clone(),
            reason,
        };
        let output = Command::new(&rustc)
            .arg("--version")
            .output()
            .map_err(|error| failed(error.to_string()))?;
        if !output.status.success() {
            return Err(failed(output.status.to_string()));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// A short description of the route, for messages.
    pub fn describe(&self) -> String {
        match self {
            Toolchain::Rustup => format!("rustup target {WASM_TARGET}"),
            Toolchain::DebianRustcWeb { linker } => {
                format!("Debian rustc-web with build-std, linked by {linker}")
            }
        }
    }
}

/// Wraps a core wasm module (with the `component-type` custom section `wit-bindgen` leaves in it)
/// into a component.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, BuildError> {
    wit_component::ComponentEncoder::default()
        .module(module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(BuildError::Componentize)
}

/// True when `rustup` lists the wasm target as installed for the active toolchain.
fn rustup_has_wasm_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|output| {
            output.status.success()
                && String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .any(|line| line.trim() == WASM_TARGET)
        })
        .unwrap_or(false)
}

/// The newest `wasm-ld-NN` (or plain `wasm-ld`) on `PATH`.
fn find_wasm_ld() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    let mut best: Option<(u32, String)> = None;
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = match name.strip_prefix("wasm-ld") {
                Some("") => 0,
                Some(suffix) => match suffix.strip_prefix('-').and_then(|v| v.parse().ok()) {
                    Some(version) => version,
                    None => continue,
                },
                None => continue,
            };
            if best.as_ref().is_none_or(|(found, _)| version > *found) {
                best = Some((version, name));
            }
        }
    }
    best.map(|(_, name)| name)
}

/// "yes" or "no".
fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_a_module_are_refused() {
        let error = componentize(b"not a wasm module").unwrap_err().to_string();
        assert!(
            error.starts_with("turning the module into a component"),
            "{error}"
        );
    }

    #[test]
    fn the_missing_toolchain_message_gives_install_lines() {
        let message = BuildError::NoToolchain {
            rustc_web: false,
            wasm_ld: true,
        }
        .to_string();
        assert!(
            message.contains("rustup target add wasm32-unknown-unknown"),
            "{message}"
        );
        assert!(message.contains("apt-get install -y rustc-web rust-web-src lld-22 cargo-web"));
        assert!(message.contains("wasm-ld yes"), "{message}");
    }
}
