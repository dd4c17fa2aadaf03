//! The plugin lock file: for each plugin installed from a registry, where it came from and the
//! digests of its manifest and component. The data folder's `plugins.lock` says what is installed
//! (a plugin file there whose bytes no longer match its entry is refused at load); a project's
//! lock file (`--lock FILE`) says what a project pins, to install exactly that elsewhere.
//!
//! The file is JSON, written whole through a rename; changes take an exclusive `flock` on a guard
//! file beside it, so two salve processes adding plugins at once both land.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The lock file format this salve reads and writes.
const LOCK_VERSION: u32 = 1;

/// A lock file that cannot be read or written.
#[derive(Debug, Error)]
pub enum LockError {
    /// Reading, writing or locking the file failed.
    #[error("plugin lock file {}: {what}: {error}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        error: io::Error,
    },
    /// The file is not a lock file this salve understands.
    #[error("plugin lock file {}: {reason}", path.display())]
    Malformed {
        /// The lock file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// One locked plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LockedPlugin {
    /// Where it was added from, as the user named it (`oci://registry/repository:tag`).
    pub source: String,
    /// The artifact manifest's digest.
    pub manifest: String,
    /// The component's digest (`sha256:<hex>`), what the installed file must hash to.
    pub component: String,
    /// `scanner` or `ecosystem`.
    pub kind: String,
    /// The plugin's own version.
    pub version: String,
    /// The `salve:plugin` version it was built for.
    pub contract: String,
    /// The fingerprint (`sha256:` of the public key) of the key its signature was checked
    /// with when it was added, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

/// The file as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LockDocument {
    /// [`LOCK_VERSION`].
    lock_version: u32,
    /// The locked plugins by name.
    plugins: BTreeMap<String, LockedPlugin>,
}

/// A lock file's contents.
#[derive(Debug, Default)]
pub struct PluginLock {
    /// The locked plugins by name.
    plugins: BTreeMap<String, LockedPlugin>,
}

impl PluginLock {
    /// Reads a lock file; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<PluginLock, LockError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(PluginLock::default());
            }
            Err(error) => {
                return Err(LockError::Io {
                    path: path.to_path_buf(),
                    what: "reading it",
                    error,
                });
            }
        };
        let document: LockDocument =
            serde_json::from_slice(&bytes).map_err(|error| LockError::Malformed {
                path: path.to_path_buf(),
                reason: error.to_string(),
            })?;
        if document.lock_version != LOCK_VERSION {
            return Err(LockError::Malformed {
                path: path.to_path_buf(),
                reason: format!(
                    "lockVersion {} (this salve reads {LOCK_VERSION})",
                    document.lock_version
                ),
            });
        }
        Ok(PluginLock {
            plugins: document.plugins,
        })
    }

    /// Reads the lock file at `path` under its guard, applies `change`, and writes it back when
    /// the change succeeds (the guard is held while `change` runs, so files it writes beside the
    /// lock change together with it).
    pub fn update<T, E: From<LockError>>(
        path: &Path,
        change: impl FnOnce(&mut PluginLock) -> Result<T, E>,
    ) -> Result<T, E> {
        let io_error = |what, error| LockError::Io {
            path: path.to_path_buf(),
            what,
            error,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|error| io_error("creating its folder", error))?;
        }
        let mut guard_path = path.as_os_str().to_owned();
        guard_path.push(".guard");
        let guard = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&guard_path)
            .map_err(|error| io_error("opening its guard file", error))?;
        rustix::fs::flock(&guard, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|error| io_error("locking its guard file", error.into()))?;
        let mut lock = PluginLock::read(path)?;
        let result = change(&mut lock)?;
        let document = LockDocument {
            lock_version: LOCK_VERSION,
            plugins: lock.plugins,
        };
        let mut text = serde_json::to_string_pretty(&document).expect("a lock serializes");
        text.push('\n');
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
        let write = || -> io::Result<()> {
            let mut temp = tempfile::NamedTempFile::new_in(folder.unwrap_or(Path::new(".")))?;
            io::Write::write_all(&mut temp, text.as_bytes())?;
            temp.as_file().sync_all()?;
            temp.persist(path).map_err(|error| error.error)?;
            Ok(())
        };
        write().map_err(|error| io_error("writing it", error))?;
        Ok(result)
    }

    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&LockedPlugin> {
        self.plugins.get(name)
    }

    /// Every entry, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &LockedPlugin)> {
        self.plugins.iter()
    }

    /// Records `plugin` under `name`, replacing an older entry.
    pub fn insert(&mut self, name: &str, plugin: LockedPlugin) {
        self.plugins.insert(name.to_string(), plugin);
    }

    /// Removes the entry for `name`; returns it if there was one.
    pub fn remove(&mut self, name: &str) -> Option<LockedPlugin> {
        self.plugins.remove(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(source: &str) -> LockedPlugin {
        LockedPlugin {
            source: source.into(),
            manifest: "sha256:aa".into(),
            component: "sha256:bb".into(),
            kind: "scanner".into(),
            version: "0.1.0".into(),
            contract: "0.4.0".into(),
            signed_by: None,
        }
    }

    #[test]
    fn entries_survive_a_write_and_a_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/plugins.lock");
        assert!(PluginLock::read(&path).unwrap().get("lines").is_none());
        let insert = |name: &str, source: &str| {
            PluginLock::update(&path, |lock| {
                lock.insert(name, locked(source));
                Ok::<_, LockError>(())
            })
            .unwrap()
        };
        insert("lines", "oci://r/p:1");
        insert("other", "oci://r/o:1");
        let lock = PluginLock::read(&path).unwrap();
        assert_eq!(lock.get("lines"), Some(&locked("oci://r/p:1")));
        assert_eq!(lock.entries().count(), 2);
        let removed =
            PluginLock::update(&path, |lock| Ok::<_, LockError>(lock.remove("lines"))).unwrap();
        assert!(removed.is_some());
        assert!(PluginLock::read(&path).unwrap().get("lines").is_none());
    }

    #[test]
    fn a_foreign_or_newer_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugins.lock");
        std::fs::write(&path, r#"{"lockVersion":9,"plugins":{}}"#).unwrap();
        let error = PluginLock::read(&path).unwrap_err().to_string();
        assert!(error.contains("lockVersion 9"), "{error}");
        std::fs::write(&path, "[1,2]").unwrap();
        assert!(PluginLock::read(&path).is_err());
    }
}
