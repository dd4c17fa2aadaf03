//! Finding a compiler that targets `wasm32-unknown-unknown`, and the cargo command that uses it.

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasm target every plugin is built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Where Debian's `rust-web-src` puts the standard library's sources.
const DEBIAN_RUST_SRC: &str = "/usr/lib/rustlib/src/rust/library/Cargo.lock";

/// Debian's second compiler, from `rustc-web`.
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";

/// How plugins get compiled for wasm on this machine.
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
    pub fn detect() -> Result<Toolchain> {
        if rustup_has_wasm_target() {
            return Ok(Toolchain::Rustup);
        }
        let rustc_web = Path::new(DEBIAN_RUSTC).exists() && Path::new(DEBIAN_RUST_SRC).exists();
        match (rustc_web, find_wasm_ld()) {
            (true, Some(linker)) => Ok(Toolchain::DebianRustcWeb { linker }),
            _ => bail!(
                "no compiler for {WASM_TARGET} was found. Install one of:\n  \
                 - rustup's target:   rustup target add {WASM_TARGET}\n  \
                 - Debian's packages: apt-get install -y rustc-web rust-web-src lld-22\n\
                 (found: rustup target {}, {DEBIAN_RUSTC} with std sources {}, wasm-ld {})",
                yes_no(false),
                yes_no(rustc_web),
                yes_no(find_wasm_ld().is_some())
            ),
        }
    }

    /// A `cargo rustc` command that builds one library crate as a wasm `cdylib` with this
    /// toolchain's settings (plugin crates are plain libraries, so they also build natively).
    pub fn cargo_rustc(&self, package: &str) -> Command {
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
        command.args(["--package", package, "--lib", "--crate-type", "cdylib"]);
        command.args(["--target", WASM_TARGET, "--profile", "plugin", "--locked"]);
        command
    }

    /// The compiler's `--version` line, recorded beside the built plugins.
    pub fn rustc_version(&self) -> Result<String> {
        let rustc = match self {
            Toolchain::Rustup => PathBuf::from(std::env::var_os("RUSTC").unwrap_or("rustc".into())),
            Toolchain::DebianRustcWeb { .. } => PathBuf::from(DEBIAN_RUSTC),
        };
        let output = Command::new(&rustc).arg("--version").output()?;
        if !output.status.success() {
            bail!("`{} --version` failed", rustc.display());
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
