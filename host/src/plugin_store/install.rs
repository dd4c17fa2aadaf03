//! The data folder's plugin store: installing a fetched plugin as `plugins/NAME.wasm` with its
//! lock entry, and removing one. The file and its entry change together under the lock file's
//! guard; the file is written through a rename, so a reader sees the old plugin or the new one.

use super::StoreError;
use crate::plugin::lock::{LockedPlugin, PluginLock};
use crate::plugin::sources::{LOCK_FILE, PLUGIN_FOLDER, user_data_dir};
use std::path::{Path, PathBuf};

/// The plugin folder and lock file of one data folder.
pub struct PluginStore {
    /// `DATA/plugins`.
    folder: PathBuf,
    /// `DATA/plugins.lock`.
    lock_file: PathBuf,
}

impl PluginStore {
    /// The store in salve's data folder `data` (`~/.local/share/salve`).
    pub fn in_data_dir(data: &Path) -> PluginStore {
        PluginStore {
            folder: data.join(PLUGIN_FOLDER),
            lock_file: data.join(LOCK_FILE),
        }
    }

    /// The user's store (`$XDG_DATA_HOME/salve`), if there is a home.
    pub fn user() -> Option<PluginStore> {
        user_data_dir().map(|data| PluginStore::in_data_dir(&data))
    }

    /// The plugin folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The lock file.
    pub fn lock_file(&self) -> &Path {
        &self.lock_file
    }

    /// Installs `component` as plugin `name` (the name the loaded plugin describes itself by,
    /// which the runtime checked can name a file) and records `locked` for it; returns the file's
    /// path.
    pub fn install(
        &self,
        name: &str,
        component: &[u8],
        locked: LockedPlugin,
    ) -> Result<PathBuf, StoreError> {
        let path = self.folder.join(format!("{name}.wasm"));
        PluginLock::update(&self.lock_file, |lock| {
            write_atomically(&self.folder, &path, component)?;
            lock.insert(name, locked);
            Ok::<_, StoreError>(())
        })?;
        Ok(path)
    }

    /// Removes plugin `name`'s file and lock entry; returns the entry if it had one.
    pub fn remove(&self, name: &str) -> Result<Option<LockedPlugin>, StoreError> {
        let path = self.folder.join(format!("{name}.wasm"));
        PluginLock::update(&self.lock_file, |lock| {
            let entry = lock.remove(name);
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(entry),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && entry.is_some() => {
                    Ok(entry)
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    Err(StoreError::NotInstalled {
                        name: name.to_string(),
                        folder: self.folder.clone(),
                    })
                }
                Err(error) => Err(StoreError::Io {
                    path,
                    what: "removing the plugin",
                    error,
                }),
            }
        })
    }
}

/// Writes `bytes` to `path` in `folder` through a synced temporary file and a rename.
fn write_atomically(folder: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |what, error| StoreError::Io {
        path: path.to_path_buf(),
        what,
        error,
    };
    std::fs::create_dir_all(folder).map_err(|error| io("creating the plugin folder", error))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".adding-")
        .suffix(".partial")
        .tempfile_in(folder)
        .map_err(|error| io("creating a temporary file", error))?;
    std::io::Write::write_all(&mut temp, bytes).map_err(|error| io("writing the plugin", error))?;
    // Readable by everyone like a file copied in by hand (a temporary file starts private).
    let readable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    temp.as_file()
        .set_permissions(readable)
        .map_err(|error| io("setting the plugin's permissions", error))?;
    temp.as_file()
        .sync_all()
        .map_err(|error| io("syncing the plugin", error))?;
    temp.persist(path)
        .map_err(|error| io("storing the plugin", error.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked() -> LockedPlugin {
        LockedPlugin {
            source: "oci://127.0.0.1:5000/lines:1".into(),
            manifest: "sha256:aa".into(),
            component: "sha256:bb".into(),
            kind: "scanner".into(),
            version: "1".into(),
            contract: "0.4.0".into(),
            signed_by: None,
        }
    }

    #[test]
    fn installs_and_removes_a_file_with_its_entry() {
        let data = tempfile::tempdir().unwrap();
        let store = PluginStore::in_data_dir(data.path());
        let path = store.install("lines", b"component", locked()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"component");
        assert_eq!(path, data.path().join("plugins/lines.wasm"));
        let lock = PluginLock::read(store.lock_file()).unwrap();
        assert_eq!(lock.get("lines"), Some(&locked()));
        assert_eq!(store.remove("lines").unwrap(), Some(locked()));
        assert!(!path.exists());
        assert!(
            PluginLock::read(store.lock_file())
                .unwrap()
                .get("lines")
                .is_none()
        );
        let error = store.remove("lines").unwrap_err().to_string();
        assert!(
            error.contains("no plugin named \"lines\" is installed"),
            "{error}"
        );
        // No temporary file is left in the plugin folder (it would not be a .wasm anyway).
        assert_eq!(std::fs::read_dir(store.folder()).unwrap().count(), 0);
    }
}
