//! The plugins a salve process can use: discovered from every source, loaded on demand.

use super::error::PluginError;
use super::runtime::{Plugin, PluginRuntime};
use super::sources::{PluginEntry, PluginSearch, PluginSource, plugin_name};
use std::path::Path;

/// A discovered plugin with the outcome of loading it.
pub struct LoadedEntry {
    /// Where it was found and what it replaced.
    pub entry: PluginEntry,
    /// The loaded plugin, or why it could not be loaded.
    pub plugin: Result<Plugin, PluginError>,
}

/// Every plugin on the search path, and the runtime that loads them.
pub struct PluginCatalog {
    /// The runtime plugins are loaded into.
    runtime: PluginRuntime,
    /// The winners of discovery, by name.
    entries: Vec<PluginEntry>,
}

impl PluginCatalog {
    /// Discovers the plugins on `search`.
    pub fn new(
        runtime: PluginRuntime,
        search: &PluginSearch,
    ) -> Result<PluginCatalog, PluginError> {
        Ok(PluginCatalog {
            entries: search.discover()?,
            runtime,
        })
    }

    /// The runtime plugins are loaded into.
    pub fn runtime(&self) -> &PluginRuntime {
        &self.runtime
    }

    /// The discovered plugins, by name.
    pub fn entries(&self) -> &[PluginEntry] {
        &self.entries
    }

    /// The plugins that do not come from the salve binary (commands name each once per run,
    /// with [`PluginEntry::origin_notice`]).
    pub fn outside_plugins(&self) -> impl Iterator<Item = &PluginEntry> {
        self.entries
            .iter()
            .filter(|entry| entry.source != PluginSource::BuiltIn)
    }

    /// Fails if any plugin replaces another of the same name (`--no-plugin-override`).
    pub fn refuse_overrides(&self) -> Result<(), PluginError> {
        match self.entries.iter().find(|entry| !entry.shadowed.is_empty()) {
            None => Ok(()),
            Some(entry) => Err(PluginError::Override {
                notice: entry.origin_notice(),
            }),
        }
    }

    /// Loads every discovered plugin, keeping failures beside successes.
    pub fn load_all(&self) -> Vec<LoadedEntry> {
        self.entries
            .iter()
            .map(|entry| LoadedEntry {
                entry: entry.clone(),
                plugin: self.load_entry(entry),
            })
            .collect()
    }

    /// Loads the plugin called `name`.
    pub fn load(&self, name: &str) -> Result<Plugin, PluginError> {
        let entry = self
            .entries
            .iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| PluginError::NotFound {
                name: name.to_string(),
                known: self
                    .entries
                    .iter()
                    .map(|entry| entry.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        self.load_entry(entry)
    }

    /// Loads a plugin file that is not on the search path (for `plugins inspect PATH`).
    pub fn load_file(&self, path: &Path) -> Result<Plugin, PluginError> {
        let bytes = std::fs::read(path).map_err(|error| PluginError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        self.runtime.load(
            &plugin_name(path),
            PluginSource::CommandLine(path.to_path_buf()),
            &bytes,
        )
    }

    /// Loads one discovered plugin.
    fn load_entry(&self, entry: &PluginEntry) -> Result<Plugin, PluginError> {
        let bytes = entry.bytes()?;
        self.runtime.load(&entry.name, entry.source.clone(), &bytes)
    }
}
