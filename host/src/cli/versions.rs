//! `salve versions compare`: order two versions by an ecosystem plugin's rules.

use super::emit;
use super::options::PluginOptions;
use crate::plugin::{Plugin, PluginCatalog, PluginInfo};
use anyhow::bail;
use clap::Subcommand;
use std::cmp::Ordering;

/// What to do with versions.
#[derive(Debug, Subcommand)]
pub enum VersionsCommand {
    /// Print `<`, `=` or `>` for A against B, like `dpkg --compare-versions`; an invalid version
    /// is an error.
    Compare {
        /// The ecosystem: a purl type (`deb`, `rpm`, `apk`, `pypi`) or an ecosystem plugin's name.
        #[arg(long, short = 'e', value_name = "ECOSYSTEM")]
        ecosystem: String,
        /// The first version.
        #[arg(allow_hyphen_values = true)]
        a: String,
        /// The second version.
        #[arg(allow_hyphen_values = true)]
        b: String,
    },
}

/// Runs a `versions` command.
pub fn run(command: VersionsCommand, options: &PluginOptions) -> anyhow::Result<()> {
    let VersionsCommand::Compare { ecosystem, a, b } = command;
    let catalog = options.catalog()?;
    let plugin = find_ecosystem(&catalog, &ecosystem)?;
    let order = plugin
        .as_ecosystem()
        .expect("find_ecosystem keeps ecosystem plugins only")
        .compare_versions(&a, &b)?;
    let symbol = match order {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    };
    emit(&format!("{symbol}\n"))?;
    Ok(())
}

/// The ecosystem plugin whose purl type or name is `wanted`.
fn find_ecosystem(catalog: &PluginCatalog, wanted: &str) -> anyhow::Result<Plugin> {
    let mut available = Vec::new();
    for loaded in catalog.load_all() {
        let Ok(plugin) = loaded.plugin else {
            continue;
        };
        let PluginInfo::Ecosystem(info) = plugin.info() else {
            continue;
        };
        if info.purl_type == wanted || info.name == wanted {
            return Ok(plugin);
        }
        available.push(format!("{} ({})", info.purl_type, info.name));
    }
    bail!(
        "no ecosystem plugin handles {wanted:?}; available: {}",
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    )
}
