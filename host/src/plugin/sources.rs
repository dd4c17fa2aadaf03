//! Where plugins come from, and which one wins when several share a name.
//!
//! Sources, from weakest to strongest: the plugins built into the binary, the user's data folder
//! (`~/.local/share/salve/plugins`), the folders and files in `$SALVE_PLUGIN_PATH`, and
//! `--plugin PATH` on the command line. A plugin's name is its file name without `.wasm`; a
//! stronger source's plugin replaces a weaker one's of the same name. A data-folder plugin with an
//! entry in the data folder's lock file (`plugins.lock`, written by `salve plugins add`) loads only
//! while its bytes are the ones the entry names.

use super::error::{LockMismatch, PluginError};
use super::lock::{LockedPlugin, PluginLock};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/built_in_plugins.rs"));

/// The environment variable holding extra plugin files and folders, separated by `:`.
pub const PLUGIN_PATH_VAR: &str = "SALVE_PLUGIN_PATH";

/// The plugin folder's name inside salve's data folder (`~/.local/share/salve`).
pub const PLUGIN_FOLDER: &str = "plugins";

/// The lock file's name inside salve's data folder.
pub const LOCK_FILE: &str = "plugins.lock";

/// Where one plugin came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "kebab-case")]
pub enum PluginSource {
    /// Embedded in the salve binary.
    BuiltIn,
    /// A file in the user's data folder.
    DataDir(PathBuf),
    /// A file named by `$SALVE_PLUGIN_PATH`.
    EnvPath(PathBuf),
    /// A file named by `--plugin`.
    CommandLine(PathBuf),
}

impl PluginSource {
    /// The file the plugin was read from, if it is not built in.
    pub fn path(&self) -> Option<&Path> {
        match self {
            PluginSource::BuiltIn => None,
            PluginSource::DataDir(path)
            | PluginSource::EnvPath(path)
            | PluginSource::CommandLine(path) => Some(path),
        }
    }

    /// A short label for tables.
    pub fn label(&self) -> &'static str {
        match self {
            PluginSource::BuiltIn => "built-in",
            PluginSource::DataDir(_) => "data-dir",
            PluginSource::EnvPath(_) => PLUGIN_PATH_VAR,
            PluginSource::CommandLine(_) => "--plugin",
        }
    }
}

impl fmt::Display for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            None => f.write_str(self.label()),
            Some(path) => write!(f, "{} ({})", self.label(), path.display()),
        }
    }
}

/// A plugin found on one of the sources, not loaded yet.
#[derive(Clone, Debug)]
pub struct PluginEntry {
    /// The plugin's name.
    pub name: String,
    /// Where the winning copy comes from.
    pub source: PluginSource,
    /// Weaker sources that had a plugin of the same name, replaced by this one.
    pub shadowed: Vec<PluginSource>,
    /// The lock entry of a data-folder plugin added from a registry.
    pub locked: Option<LockedPlugin>,
    /// Why the lock file could not be read, for a data-folder plugin: it is then not loaded,
    /// since whether its bytes are the locked ones cannot be known.
    pub lock_problem: Option<String>,
}

impl PluginEntry {
    /// One line saying where the plugin comes from and which plugins of its name it replaces.
    /// Its name and paths are the files' own: shown through `display_safe` like any text.
    pub fn origin_notice(&self) -> String {
        let replaces = match self.shadowed.as_slice() {
            [] => String::new(),
            [PluginSource::BuiltIn] => " and replaces the built-in one".to_string(),
            shadowed => format!(
                " and replaces {}",
                shadowed
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!(
            "plugin {} is loaded from {}{replaces}",
            self.name, self.source
        )
    }

    /// The component's bytes.
    pub fn bytes(&self) -> Result<Cow<'static, [u8]>, PluginError> {
        match self.source.path() {
            None => BUILT_IN_PLUGINS
                .iter()
                .find(|(name, _)| *name == self.name)
                .map(|(_, bytes)| Cow::Borrowed(*bytes))
                .ok_or_else(|| PluginError::NotFound {
                    name: self.name.clone(),
                    known: "the built-in plugins".into(),
                }),
            Some(path) => {
                if let Some(problem) = &self.lock_problem {
                    return Err(PluginError::Unavailable {
                        message: format!("plugin {} is not loaded: {problem}", self.name),
                    });
                }
                let bytes = std::fs::read(path).map_err(|error| PluginError::Read {
                    path: path.to_path_buf(),
                    error,
                })?;
                if let Some(locked) = &self.locked {
                    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
                    if actual != locked.component {
                        return Err(PluginError::LockMismatch(Box::new(LockMismatch {
                            name: self.name.clone(),
                            path: path.to_path_buf(),
                            source_name: locked.source.clone(),
                            expected: locked.component.clone(),
                            actual,
                        })));
                    }
                }
                Ok(Cow::Owned(bytes))
            }
        }
    }
}

/// salve's data folder (`$XDG_DATA_HOME/salve`, `~/.local/share/salve`), if there is a home:
/// the plugin folder and its lock file are in it.
pub fn user_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join("salve"))
}

/// The places to look for plugins besides the built-in ones.
#[derive(Clone, Debug, Default)]
pub struct PluginSearch {
    /// The user's plugin folder (`~/.local/share/salve/plugins`), if there is a home.
    pub data_dir: Option<PathBuf>,
    /// The lock file of the data folder's plugins (`~/.local/share/salve/plugins.lock`).
    pub lock_file: Option<PathBuf>,
    /// The value of `$SALVE_PLUGIN_PATH`.
    pub env_path: Option<OsString>,
    /// `--plugin` arguments, in order.
    pub command_line: Vec<PathBuf>,
}

impl PluginSearch {
    /// The search a user gets: the data folder, the environment variable, and these `--plugin`s.
    pub fn from_environment(command_line: Vec<PathBuf>) -> PluginSearch {
        let data = user_data_dir();
        PluginSearch {
            data_dir: data.as_ref().map(|dir| dir.join(PLUGIN_FOLDER)),
            lock_file: data.as_ref().map(|dir| dir.join(LOCK_FILE)),
            env_path: std::env::var_os(PLUGIN_PATH_VAR).filter(|value| !value.is_empty()),
            command_line,
        }
    }

    /// Every plugin, by name, each with the source that wins.
    pub fn discover(&self) -> Result<Vec<PluginEntry>, PluginError> {
        let mut found: BTreeMap<String, PluginEntry> = BTreeMap::new();
        let mut add = |name: String, source: PluginSource| match found.get_mut(&name) {
            Some(entry) => {
                let weaker = std::mem::replace(&mut entry.source, source);
                entry.shadowed.push(weaker);
            }
            None => {
                found.insert(
                    name.clone(),
                    PluginEntry {
                        name,
                        source,
                        shadowed: Vec::new(),
                        locked: None,
                        lock_problem: None,
                    },
                );
            }
        };

        for (name, _) in BUILT_IN_PLUGINS {
            add(name.to_string(), PluginSource::BuiltIn);
        }
        let mut lock = Ok(PluginLock::default());
        if let Some(dir) = self.data_dir.as_ref().filter(|dir| dir.is_dir()) {
            if let Some(lock_file) = &self.lock_file {
                lock = PluginLock::read(lock_file).map_err(|error| error.to_string());
            }
            for path in wasm_files(dir)? {
                add(plugin_name(&path), PluginSource::DataDir(path));
            }
        }
        for entry in self.env_path.iter().flat_map(std::env::split_paths) {
            if entry.as_os_str().is_empty() {
                continue;
            }
            for path in files_at(&entry, PLUGIN_PATH_VAR)? {
                add(plugin_name(&path), PluginSource::EnvPath(path));
            }
        }
        for entry in &self.command_line {
            for path in files_at(entry, "--plugin")? {
                add(plugin_name(&path), PluginSource::CommandLine(path));
            }
        }
        let mut entries: Vec<PluginEntry> = found.into_values().collect();
        for entry in &mut entries {
            if matches!(entry.source, PluginSource::DataDir(_)) {
                match &lock {
                    Ok(lock) => entry.locked = lock.get(&entry.name).cloned(),
                    Err(problem) => entry.lock_problem = Some(problem.clone()),
                }
            }
        }
        Ok(entries)
    }
}

/// A plugin's name from its file name: the name without `.wasm`.
pub(super) fn plugin_name(path: &Path) -> String {
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    file.strip_suffix(".wasm").unwrap_or(&file).to_string()
}

/// The plugin files a path names: the file itself, or the `.wasm` files of a folder.
fn files_at(path: &Path, origin: &str) -> Result<Vec<PathBuf>, PluginError> {
    let metadata = std::fs::metadata(path).map_err(|error| PluginError::Read {
        path: path.to_path_buf(),
        error: std::io::Error::new(
            error.kind(),
            format!("{error} (given by {origin}; pass a .wasm file or a folder of them)"),
        ),
    })?;
    if metadata.is_dir() {
        wasm_files(path)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

/// The `.wasm` files directly inside a folder, sorted by name.
fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>, PluginError> {
    let read_error = |error| PluginError::Read {
        path: dir.to_path_buf(),
        error,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.extension().is_some_and(|ext| ext == "wasm") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::lock::LockError;

    fn touch(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, b"not really wasm").unwrap();
        path
    }

    #[test]
    fn stronger_sources_replace_weaker_ones_by_name() {
        let data = tempfile::tempdir().unwrap();
        let env = tempfile::tempdir().unwrap();
        touch(data.path(), "trivy.wasm");
        touch(data.path(), "notes.txt");
        let env_file = touch(env.path(), "trivy.wasm");
        let extra = touch(env.path(), "extra.wasm");
        let search = PluginSearch {
            data_dir: Some(data.path().to_path_buf()),
            lock_file: None,
            env_path: Some(env.path().as_os_str().to_owned()),
            command_line: vec![extra.clone()],
        };
        let entries = search.discover().unwrap();
        let trivy = entries.iter().find(|entry| entry.name == "trivy").unwrap();
        assert_eq!(trivy.source, PluginSource::EnvPath(env_file));
        assert_eq!(trivy.shadowed.len(), 2);
        assert_eq!(trivy.shadowed[0], PluginSource::BuiltIn);
        let extra_entry = entries.iter().find(|entry| entry.name == "extra").unwrap();
        assert_eq!(extra_entry.source, PluginSource::CommandLine(extra));
        assert!(entries.iter().all(|entry| entry.name != "notes"));
    }

    #[test]
    fn a_locked_data_folder_plugin_loads_only_with_its_locked_bytes() {
        let data = tempfile::tempdir().unwrap();
        let plugins = data.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        touch(&plugins, "lines.wasm");
        let lock_file = data.path().join("plugins.lock");
        let locked = LockedPlugin {
            source: "oci://127.0.0.1:5000/lines:1".into(),
            manifest: "sha256:aa".into(),
            component: format!("sha256:{}", hex::encode(Sha256::digest(b"not really wasm"))),
            kind: "scanner".into(),
            version: "1".into(),
            contract: "0.4.0".into(),
            signed_by: None,
        };
        PluginLock::update(&lock_file, |lock| {
            lock.insert("lines", locked);
            Ok::<_, LockError>(())
        })
        .unwrap();
        let search = PluginSearch {
            data_dir: Some(plugins.clone()),
            lock_file: Some(lock_file),
            ..PluginSearch::default()
        };
        let entry = |search: &PluginSearch| {
            let entries = search.discover().unwrap();
            entries
                .into_iter()
                .find(|entry| entry.name == "lines")
                .unwrap()
        };
        assert!(entry(&search).bytes().is_ok());
        std::fs::write(plugins.join("lines.wasm"), b"changed").unwrap();
        let error = entry(&search).bytes().unwrap_err().to_string();
        assert!(error.contains("was changed since it was added from oci://127.0.0.1:5000/lines:1"));
        assert!(error.contains("salve plugins remove lines"), "{error}");

        // A lock file this salve cannot read leaves the folder's plugins out, not the others.
        std::fs::write(search.lock_file.as_ref().unwrap(), "{\"lockVersion\": 2}").unwrap();
        let error = entry(&search).bytes().unwrap_err().to_string();
        assert!(
            error.contains("plugin lines is not loaded: plugin lock file"),
            "{error}"
        );
        let entries = search.discover().unwrap();
        let trivy = entries.iter().find(|entry| entry.name == "trivy").unwrap();
        assert!(trivy.bytes().is_ok());
    }

    #[test]
    fn a_missing_plugin_path_is_an_error_naming_its_origin() {
        let search = PluginSearch {
            command_line: vec![PathBuf::from("/nonexistent/plugin.wasm")],
            ..PluginSearch::default()
        };
        let error = search.discover().unwrap_err().to_string();
        assert!(error.contains("/nonexistent/plugin.wasm"), "{error}");
        assert!(error.contains("--plugin"), "{error}");
    }

    #[test]
    fn built_in_plugins_are_found_without_any_folder() {
        let entries = PluginSearch::default().discover().unwrap();
        assert!(entries.iter().any(|entry| entry.name == "trivy"));
        let trivy = entries.iter().find(|entry| entry.name == "trivy").unwrap();
        assert!(trivy.bytes().unwrap().starts_with(b"\0asm"));
    }
}
