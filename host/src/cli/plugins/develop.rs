//! `salve plugins new` and `salve plugins build`: a plugin crate from a template, and its
//! component built and checked.

use crate::cli::options::PluginOptions;
use crate::display_safe::one_line;
use crate::plugin::{PluginKind, PluginSource};
use crate::plugin_kit::compile::PluginCrate;
use crate::plugin_kit::scaffold::{SdkSource, create};
use anyhow::Context;
use salve_wasm_build::Toolchain;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `salve plugins new KIND NAME`.
pub fn new(
    kind: PluginKind,
    name: &str,
    dir: Option<&Path>,
    sdk: &SdkSource,
) -> anyhow::Result<ExitCode> {
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    create(kind, name, &dir, sdk)?;
    let try_it = match kind {
        PluginKind::Scanner => format!(
            "  salve report --plugin target/salve/{name}.wasm sample-report.txt   # reads the sample"
        ),
        PluginKind::Ecosystem => {
            format!("  salve plugins inspect target/salve/{name}.wasm   # its interface and limits")
        }
    };
    eprintln!(
        "created {kind} plugin {name} in {}. Next:\n  cd {}\n  cargo test                  # the \
         plugin's tests, natively\n  salve plugins build         # the component\n{try_it}",
        dir.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `salve plugins build [DIR] [--output FILE]`.
pub fn build(
    options: &PluginOptions,
    dir: &Path,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let plugin_crate = PluginCrate::read(dir)?;
    let toolchain = Toolchain::detect()?;
    eprintln!(
        "building {} with {}",
        plugin_crate.manifest.display(),
        toolchain.describe()
    );
    let component = plugin_crate.build(&toolchain)?;
    let catalog = options.catalog()?;
    let label = plugin_crate.manifest.display().to_string();
    let plugin = catalog
        .runtime()
        .identify(
            &label,
            PluginSource::CommandLine(plugin_crate.manifest.clone()),
            &component,
        )
        .with_context(|| format!("the component built from {label} is not a plugin salve loads"))?;
    let path = match output {
        Some(path) => {
            if path.file_stem().is_none_or(|stem| *stem != *plugin.name()) {
                eprintln!(
                    "note: salve loads a plugin file only as {}.wasm (the name the plugin gives \
                     itself); rename {} before loading it with --plugin or from a folder",
                    plugin.name(),
                    path.display()
                );
            }
            path.to_path_buf()
        }
        None => dir
            .join("target")
            .join("salve")
            .join(format!("{}.wasm", plugin.name())),
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, &component).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "built {} plugin {} {} ({}, {} bytes): {}",
        plugin.kind(),
        plugin.name(),
        one_line(plugin.info().version()),
        plugin.contract().export,
        component.len(),
        path.display()
    );
    crate::cli::emit(&format!("{}\n", path.display()))?;
    Ok(ExitCode::SUCCESS)
}
