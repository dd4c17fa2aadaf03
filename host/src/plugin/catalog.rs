//! The plugins a salve process can use: discovered from every source, loaded on demand.

use super::contract::PluginKind;
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

/// Every plugin of a catalog loaded once for a run, under one policy: a plugin that fails to load
/// is left out with a warning naming it and why, and the others work on.
pub struct LoadedPlugins {
    /// The plugins that loaded.
    plugins: Vec<Plugin>,
    /// The plugins that did not, with why.
    failures: Vec<(String, String)>,
}

impl LoadedPlugins {
    /// The scanner plugins that loaded.
    pub fn scanners(&self) -> impl Iterator<Item = &Plugin> {
        self.plugins
            .iter()
            .filter(|plugin| plugin.kind() == PluginKind::Scanner)
    }

    /// The ecosystem plugins that loaded.
    pub fn ecosystems(&self) -> Vec<&Plugin> {
        self.plugins
            .iter()
            .filter(|plugin| plugin.kind() == PluginKind::Ecosystem)
            .collect()
    }

    /// The plugin called `name`; an error says why it did not load, or that there is none.
    pub fn named(&self, name: &str) -> Result<&Plugin, PluginError> {
        if let Some(plugin) = self.plugins.iter().find(|plugin| plugin.name() == name) {
            return Ok(plugin);
        }
        match self.failures.iter().find(|(failed, _)| failed == name) {
            Some((_, message)) => Err(PluginError::Unavailable {
                message: message.clone(),
            }),
            None => Err(PluginError::NotFound {
                name: name.to_string(),
                known: self
                    .plugins
                    .iter()
                    .map(Plugin::name)
                    .chain(self.failures.iter().map(|(failed, _)| failed.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
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

    /// Loads every plugin once for a run ([`LoadedPlugins`]): failures are warned about and left
    /// out, except the run's cancellation (its time running out, Ctrl-C), which ends the run.
    pub fn load_for_run(&self) -> Result<LoadedPlugins, PluginError> {
        let mut loaded = LoadedPlugins {
            plugins: Vec::new(),
            failures: Vec::new(),
        };
        for entry in self.load_all() {
            match entry.plugin {
                Ok(plugin) => loaded.plugins.push(plugin),
                Err(error) if error.cancelled().is_some() => return Err(error),
                Err(error) => {
                    tracing::warn!(
                        "leaving out plugin {} ({}): it failed to load: {}",
                        crate::display_safe::one_line(&entry.entry.name),
                        entry.entry.source,
                        crate::display_safe::one_line(&error.to_string())
                    );
                    loaded.failures.push((entry.entry.name, error.to_string()));
                }
            }
        }
        Ok(loaded)
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
