//! A content-addressed cache of unpacked root filesystems, shared by concurrent salve processes.
//!
//! A root filesystem is named by its key (the chain id of its layers, say) and lives at
//! `<cache>/rootfs/<key>`, guarded by `<key>.lock` (see [`crate::cache::lock`]). The first
//! process to need it takes the exclusive lock, unpacks into a temporary folder beside it and
//! renames that into place, so others either wait for the lock and find it complete, or find it
//! complete at once; nobody ever sees half a root filesystem. A folder left by a process that
//! died mid-unpack is a temporary one, removed by the next process that takes the lock.
//!
//! Every process using a root filesystem holds its lock shared until its [`RootfsCache`] (all
//! clones) is dropped, so a prune never removes one in use; each use also records the time, for
//! least-recently-used eviction.

use super::unpack::{UnpackError, UnpackOptions, UnpackReport, unpack_layers};
use crate::cache::Kind;
use crate::cache::lock::{EntryLock, Mode};
use crate::cache::usage::DiskUsage;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// A failure of the cache.
#[derive(Debug, Error)]
pub enum CacheError {
    /// The cache folder or its lock could not be used.
    #[error("the root filesystem cache at {}: {error}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// Unpacking failed.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
}

/// The cache of unpacked root filesystems, and the ones this process holds.
#[derive(Clone, Debug)]
pub struct RootfsCache {
    /// `<cache>/rootfs`.
    dir: PathBuf,
    /// The shared locks on the root filesystems handed out, held until every clone is dropped.
    leases: Arc<Mutex<Vec<EntryLock>>>,
}

/// A root filesystem from the cache, and whether this call unpacked it.
#[derive(Debug)]
pub struct CachedRootfs {
    /// The folder.
    pub path: PathBuf,
    /// What unpacking did, when this call unpacked it; `None` when it was already there.
    pub unpacked: Option<UnpackReport>,
}

impl RootfsCache {
    /// The cache under `root` (created if needed).
    pub fn open(root: &Path) -> Result<RootfsCache, CacheError> {
        let dir = Kind::Rootfs.folder(root);
        fs::create_dir_all(&dir).map_err(|error| CacheError::Io {
            path: dir.clone(),
            error,
        })?;
        Ok(RootfsCache {
            dir,
            leases: Arc::default(),
        })
    }

    /// The root filesystem named `key`, unpacked from `layers` (bottom first) if not cached,
    /// and held until this cache (every clone) is dropped.
    ///
    /// `key` must be a plain name (letters, digits, `:-_.`), such as a chain id.
    pub fn get_or_unpack(
        &self,
        key: &str,
        layers: &[PathBuf],
        options: UnpackOptions,
    ) -> Result<CachedRootfs, CacheError> {
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |error| CacheError::Io { path, error }
        };
        let (name, final_path, lock_path) = self.entry(key)?;
        let mut unpacked = None;
        loop {
            let lock =
                EntryLock::acquire(&lock_path, Mode::Shared).map_err(io_error(&lock_path))?;
            if final_path.is_dir() {
                return self.lease(lock, final_path, unpacked);
            }
            drop(lock);
            let lock =
                EntryLock::acquire(&lock_path, Mode::Exclusive).map_err(io_error(&lock_path))?;
            if !final_path.is_dir() {
                unpacked = Some(self.unpack(&name, &final_path, layers, options)?);
                // Scans of the cache read the size instead of walking the tree; without it
                // they walk it, so failing to record it is not a failure.
                let _ = lock.record_size(DiskUsage::default().of(&final_path));
            }
            // A prune may take the lock while it changes hands; the loop then starts again.
            lock.downgrade().map_err(io_error(&lock_path))?;
            if lock.is_current().map_err(io_error(&lock_path))? && final_path.is_dir() {
                return self.lease(lock, final_path, unpacked);
            }
        }
    }

    /// The root filesystem named `key` when the cache holds it complete now, held as
    /// [`RootfsCache::get_or_unpack`] holds it; `None` when it is not there, or is being
    /// unpacked. Never waits for an unpacking.
    pub fn cached(&self, key: &str) -> Result<Option<PathBuf>, CacheError> {
        let (_, final_path, lock_path) = self.entry(key)?;
        if !final_path.is_dir() {
            return Ok(None);
        }
        // An unpacker holds the lock exclusively only while the folder is missing, a prune
        // while it removes it: waiting here is waiting for a removal at most.
        let lock =
            EntryLock::acquire(&lock_path, Mode::Shared).map_err(|error| CacheError::Io {
                path: lock_path.clone(),
                error,
            })?;
        if !final_path.is_dir() {
            return Ok(None);
        }
        Ok(Some(self.lease(lock, final_path, None)?.path))
    }

    /// The entry's name, folder and lock file for `key`, which must be a plain name (letters,
    /// digits, `:-_.`, not starting with a dot).
    fn entry(&self, key: &str) -> Result<(String, PathBuf, PathBuf), CacheError> {
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":-_.".contains(c))
            || key.starts_with('.')
        {
            return Err(CacheError::Io {
                path: self.dir.clone(),
                error: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{key:?} is not a cache key"),
                ),
            });
        }
        let name = key.replace(':', "-");
        let final_path = self.dir.join(&name);
        let lock_path = crate::cache::rootfs_lock(&self.dir, &name);
        Ok((name, final_path, lock_path))
    }

    /// Keeps the shared lock on a root filesystem and records its use.
    fn lease(
        &self,
        lock: EntryLock,
        path: PathBuf,
        unpacked: Option<UnpackReport>,
    ) -> Result<CachedRootfs, CacheError> {
        // The time of last use only orders evictions: failing to record it is not a failure.
        let _ = lock.touch();
        self.leases.lock().expect("not poisoned").push(lock);
        Ok(CachedRootfs { path, unpacked })
    }

    /// Unpacks `layers` into a temporary folder and renames it to `final_path`; the caller holds
    /// the entry's exclusive lock.
    fn unpack(
        &self,
        name: &str,
        final_path: &Path,
        layers: &[PathBuf],
        options: UnpackOptions,
    ) -> Result<UnpackReport, CacheError> {
        let io_error = |path: &Path, error| CacheError::Io {
            path: path.to_path_buf(),
            error,
        };
        let partial = self.dir.join(format!(".partial-{name}"));
        if partial.exists() {
            fs::remove_dir_all(&partial).map_err(|error| io_error(&partial, error))?;
        }
        fs::create_dir(&partial).map_err(|error| io_error(&partial, error))?;
        let report = match unpack_layers(layers, &partial, options) {
            Ok(report) => report,
            Err(error) => {
                let _ = fs::remove_dir_all(&partial);
                return Err(error.into());
            }
        };
        fs::rename(&partial, final_path).map_err(|error| io_error(final_path, error))?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::Write;

    /// A one-file layer, as an uncompressed tar made with the `tar` crate.
    fn layer(dir: &Path) -> PathBuf {
        let path = dir.join("layer.tar");
        let mut builder = tar::Builder::new(File::create(&path).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, "etc/hostname", &b"salve"[..])
            .unwrap();
        builder.into_inner().unwrap().flush().unwrap();
        path
    }

    #[test]
    fn concurrent_users_share_one_unpacking() {
        let cache_root = tempfile::tempdir().unwrap();
        let layers = vec![layer(cache_root.path())];
        let results: Vec<CachedRootfs> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let cache = RootfsCache::open(cache_root.path()).unwrap();
                        cache
                            .get_or_unpack("sha256:abc", &layers, UnpackOptions::default())
                            .unwrap()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });
        let unpacked = results
            .iter()
            .filter(|result| result.unpacked.is_some())
            .count();
        assert_eq!(unpacked, 1, "exactly one unpacked it");
        assert!(results.iter().all(|result| result.path == results[0].path));
        assert_eq!(
            fs::read_to_string(results[0].path.join("etc/hostname")).unwrap(),
            "salve"
        );
    }

    #[test]
    fn a_failed_unpacking_leaves_nothing_and_the_next_try_starts_clean() {
        let cache_root = tempfile::tempdir().unwrap();
        let cache = RootfsCache::open(cache_root.path()).unwrap();
        let junk = cache_root.path().join("junk");
        fs::write(&junk, b"not a tar").unwrap();
        // A leftover from a process that died mid-unpack.
        fs::create_dir_all(cache.dir.join(".partial-key/stale")).unwrap();
        assert!(
            cache
                .get_or_unpack("key", &[junk], UnpackOptions::default())
                .is_err()
        );
        assert!(!cache.dir.join("key").exists());
        assert!(!cache.dir.join(".partial-key").exists());
        let good = layer(cache_root.path());
        let result = cache
            .get_or_unpack("key", &[good], UnpackOptions::default())
            .unwrap();
        assert!(result.unpacked.is_some());
        assert!(!result.path.join("stale").exists());
    }

    #[test]
    fn a_root_filesystem_in_use_is_not_pruned_and_one_pruned_is_unpacked_again() {
        use crate::cache::{Policy, prune};
        let cache_root = tempfile::tempdir().unwrap();
        let layers = vec![layer(cache_root.path())];
        let everything = Policy {
            everything: true,
            ..Policy::default()
        };
        let cache = RootfsCache::open(cache_root.path()).unwrap();
        let held = cache
            .get_or_unpack("key", &layers, UnpackOptions::default())
            .unwrap();
        let user = cache.clone();
        drop(cache);
        let pruned = prune(cache_root.path(), everything, std::time::SystemTime::now()).unwrap();
        assert_eq!(pruned.in_use.entries, 1);
        assert!(held.path.join("etc/hostname").exists());
        drop(user);
        let pruned = prune(cache_root.path(), everything, std::time::SystemTime::now()).unwrap();
        assert_eq!(pruned.removed_total().entries, 1);
        assert!(!held.path.exists());
        let cache = RootfsCache::open(cache_root.path()).unwrap();
        let again = cache
            .get_or_unpack("key", &layers, UnpackOptions::default())
            .unwrap();
        assert!(again.unpacked.is_some());
        assert!(again.path.join("etc/hostname").exists());
    }

    #[test]
    fn only_a_complete_root_filesystem_is_handed_out_without_unpacking() {
        let cache_root = tempfile::tempdir().unwrap();
        let layers = vec![layer(cache_root.path())];
        let cache = RootfsCache::open(cache_root.path()).unwrap();
        assert_eq!(cache.cached("key").unwrap(), None);
        fs::create_dir_all(cache.dir.join(".partial-key/etc")).unwrap();
        assert_eq!(cache.cached("key").unwrap(), None, "half unpacked");
        let unpacked = cache
            .get_or_unpack("key", &layers, UnpackOptions::default())
            .unwrap();
        assert_eq!(cache.cached("key").unwrap(), Some(unpacked.path));
        assert!(cache.cached("../key").is_err());
    }

    #[test]
    fn the_unpacked_size_is_recorded_for_scans() {
        let cache_root = tempfile::tempdir().unwrap();
        let layers = vec![layer(cache_root.path())];
        let cache = RootfsCache::open(cache_root.path()).unwrap();
        let unpacked = cache
            .get_or_unpack("key", &layers, UnpackOptions::default())
            .unwrap();
        let walked = DiskUsage::default().of(&unpacked.path);
        let lock = cache.dir.join("key.lock");
        assert_eq!(fs::read_to_string(&lock).unwrap(), format!("{walked}\n"));
        fs::write(&lock, "12345\n").unwrap();
        let scanned = crate::cache::scan(cache_root.path()).unwrap();
        assert_eq!(scanned.entries.len(), 1);
        assert_eq!(
            scanned.entries[0].bytes, 12345,
            "the recorded size, not a walk"
        );
    }

    #[test]
    fn keys_are_plain_names() {
        let cache_root = tempfile::tempdir().unwrap();
        let cache = RootfsCache::open(cache_root.path()).unwrap();
        for key in ["../escape", "a/b", "", ".hidden"] {
            assert!(
                cache
                    .get_or_unpack(key, &[], UnpackOptions::default())
                    .is_err(),
                "{key:?}"
            );
        }
    }
}
