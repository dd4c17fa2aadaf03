//! `cargo xtask plugins`: builds every plugin crate into a component in its `dist/` folder.
//!
//! Plugin crates live in `plugins/<name>/` (salve's built-in plugins) and `tests/plugins/<name>/`
//! (deliberately misbehaving plugins for the runtime's tests). Each becomes
//! `<group>/dist/<name>.wasm`. Paths are remapped so the bytes do not depend on where the
//! checkout, the cargo home or the target folder are.

use anyhow::{Context, Result, bail};
use salve_wasm_build::{Toolchain, WASM_TARGET, componentize};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// The folders (relative to the workspace) that hold plugin crates.
const PLUGIN_GROUPS: &[&str] = &["plugins", "tests/plugins"];

/// The file in each `dist/` folder that records which compiler built the components.
const BUILD_INFO: &str = "BUILD-INFO";

/// One plugin crate to build.
struct PluginCrate {
    /// The plugin's name: its folder's name, and the name of its `.wasm` file.
    name: String,
    /// The cargo package name.
    package: String,
    /// The `dist/` folder its component goes to.
    dist: PathBuf,
}

/// Builds all plugins; with `check`, fails if the committed `dist/` folders differ.
pub fn run(workspace: &Path, check: bool) -> Result<()> {
    let toolchain = Toolchain::detect()?;
    let crates = discover(workspace)?;
    let target_dir = wasm_target_dir(workspace);
    eprintln!(
        "building {} plugins with {} into {}",
        crates.len(),
        toolchain.describe(),
        target_dir.display()
    );
    compile(workspace, &toolchain, &crates, &target_dir)?;

    let build_info = format!(
        "Components built by `cargo xtask plugins` with {}\n{}\n",
        toolchain.describe(),
        toolchain.rustc_version()?
    );
    let mut outputs: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    for plugin in &crates {
        let module_path = target_dir
            .join(WASM_TARGET)
            .join("plugin")
            .join(format!("{}.wasm", plugin.package.replace('-', "_")));
        let module = fs::read(&module_path)
            .with_context(|| format!("reading the built module {}", module_path.display()))?;
        let component = componentize(&module)
            .with_context(|| format!("turning plugin {} into a component", plugin.name))?;
        outputs.insert(plugin.dist.join(format!("{}.wasm", plugin.name)), component);
        outputs.insert(
            plugin.dist.join(BUILD_INFO),
            build_info.clone().into_bytes(),
        );
    }

    if check {
        check_outputs(workspace, &crates, &outputs, &build_info)
    } else {
        write_outputs(workspace, &crates, &outputs)
    }
}

/// Finds every plugin crate under the plugin groups, in a stable order.
fn discover(workspace: &Path) -> Result<Vec<PluginCrate>> {
    let mut crates = Vec::new();
    for group in PLUGIN_GROUPS {
        let group_dir = workspace.join(group);
        let mut entries: Vec<PathBuf> = fs::read_dir(&group_dir)
            .with_context(|| format!("listing {}", group_dir.display()))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.join("Cargo.toml").is_file())
            .collect();
        entries.sort();
        for dir in entries {
            let name = dir
                .file_name()
                .and_then(|name| name.to_str())
                .context("plugin folder names must be UTF-8")?
                .to_string();
            crates.push(PluginCrate {
                package: package_name(&dir.join("Cargo.toml"))?,
                name,
                dist: group_dir.join("dist"),
            });
        }
    }
    Ok(crates)
}

/// The `name` of a crate's `[package]` section.
fn package_name(manifest: &Path) -> Result<String> {
    let text =
        fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().strip_prefix('=').map(str::trim);
            if let Some(name) = value.and_then(|v| v.strip_prefix('"')?.strip_suffix('"')) {
                return Ok(name.to_string());
            }
        }
    }
    bail!(
        "{} has no `name = \"...\"` in [package]",
        manifest.display()
    )
}

/// The target folder for wasm builds: beside the host's builds, in a folder of its own.
fn wasm_target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("plugins")
}

/// Builds each plugin crate as a wasm `cdylib`; they share one target folder, so common
/// dependencies compile once.
fn compile(
    workspace: &Path,
    toolchain: &Toolchain,
    crates: &[PluginCrate],
    target_dir: &Path,
) -> Result<()> {
    for plugin in crates {
        let status = toolchain
            .cargo_rustc()
            .args([
                "--package",
                &plugin.package,
                "--lib",
                "--crate-type",
                "cdylib",
            ])
            .args(["--profile", "plugin", "--locked"])
            .current_dir(workspace)
            .env("CARGO_TARGET_DIR", target_dir)
            .env(
                "CARGO_ENCODED_RUSTFLAGS",
                remap_flags(workspace, target_dir),
            )
            .env_remove("RUSTFLAGS")
            .status()
            .with_context(|| format!("running cargo to build plugin {}", plugin.name))?;
        if !status.success() {
            bail!("cargo failed to build plugin {} ({status})", plugin.name);
        }
    }
    Ok(())
}

/// `--remap-path-prefix` flags so that no local path ends up in a component.
fn remap_flags(workspace: &Path, target_dir: &Path) -> OsString {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let mut remaps = Vec::new();
    if let Some(cargo_home) = cargo_home {
        remaps.push((cargo_home, "/cargo"));
    }
    // Later prefixes win, so the target folder (often inside the workspace) comes last.
    remaps.push((workspace.to_path_buf(), "/salve"));
    remaps.push((target_dir.to_path_buf(), "/target"));
    let mut flags = OsString::new();
    for (index, (from, to)) in remaps.iter().enumerate() {
        if index > 0 {
            flags.push("\x1f");
        }
        flags.push("--remap-path-prefix=");
        flags.push(from);
        flags.push("=");
        flags.push(to);
    }
    flags
}

/// Writes the components and removes stale ones from each `dist/` folder.
fn write_outputs(
    workspace: &Path,
    crates: &[PluginCrate],
    outputs: &BTreeMap<PathBuf, Vec<u8>>,
) -> Result<()> {
    for dist in dist_folders(crates) {
        fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
        for stale in existing_files(&dist)? {
            if !outputs.contains_key(&stale) {
                fs::remove_file(&stale)
                    .with_context(|| format!("removing stale {}", stale.display()))?;
            }
        }
    }
    for (path, bytes) in outputs {
        fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "wrote {} ({} bytes)",
            relative(workspace, path).display(),
            bytes.len()
        );
    }
    Ok(())
}

/// Compares the fresh build with what is in the `dist/` folders; fails listing every difference.
fn check_outputs(
    workspace: &Path,
    crates: &[PluginCrate],
    outputs: &BTreeMap<PathBuf, Vec<u8>>,
    build_info: &str,
) -> Result<()> {
    let mut problems = Vec::new();
    for (path, bytes) in outputs {
        match fs::read(path) {
            Ok(committed) if &committed == bytes => {}
            Ok(committed) => problems.push(format!(
                "{} differs (committed {} bytes, rebuilt {} bytes)",
                relative(workspace, path).display(),
                committed.len(),
                bytes.len()
            )),
            Err(_) => problems.push(format!(
                "{} is missing",
                relative(workspace, path).display()
            )),
        }
    }
    for dist in dist_folders(crates) {
        for file in existing_files(&dist)? {
            if !outputs.contains_key(&file) {
                problems.push(format!(
                    "{} has no plugin crate any more",
                    relative(workspace, &file).display()
                ));
            }
        }
    }
    if problems.is_empty() {
        eprintln!("all {} plugin components are up to date", crates.len());
        return Ok(());
    }
    let recorded = crates
        .first()
        .and_then(|plugin| fs::read_to_string(plugin.dist.join(BUILD_INFO)).ok())
        .unwrap_or_default();
    let toolchain_note = if recorded != build_info {
        format!(
            "\nnote: the committed components were built by:\n{recorded}\
             this build used:\n{build_info}\
             components are only byte-identical when built by the same compiler"
        )
    } else {
        String::new()
    };
    bail!(
        "plugin components are out of date:\n  {}\nrun `cargo xtask plugins` and commit the dist/ \
         folders{toolchain_note}",
        problems.join("\n  ")
    )
}

/// Every distinct `dist/` folder of the given crates.
fn dist_folders(crates: &[PluginCrate]) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = crates.iter().map(|plugin| plugin.dist.clone()).collect();
    folders.dedup();
    folders
}

/// The files currently in a folder (none if it does not exist).
fn existing_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

/// `path` relative to the workspace, for messages.
fn relative<'a>(workspace: &Path, path: &'a Path) -> &'a Path {
    path.strip_prefix(workspace).unwrap_or(path)
}
