//! A content-addressed cache of unpacked root filesystems, shared by concurrent salve processes.
//!
//! A root filesystem is named by its key (the chain id of its layers, say) and lives at
//! `<cache>/rootfs/<key>`. The first process to need it takes an exclusive lock on
//! `<key>.lock`, unpacks into a temporary folder beside it and renames that into place, so
//! others either wait for the lock and find it complete, or find it complete at once; nobody
//! ever sees half a root filesystem. A folder left by a process that died mid-unpack is a
//! temporary one, removed by the next process that takes the lock.

use super::unpack::{UnpackError, UnpackOptions, UnpackReport, unpack_layers};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
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

/// The cache of unpacked root filesystems.
#[derive(Clone, Debug)]
pub struct RootfsCache {
    /// `<cache>/rootfs`.
    dir: PathBuf,
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
        let dir = root.join("rootfs");
        fs::create_dir_all(&dir).map_err(|error| CacheError::Io {
            path: dir.clone(),
            error,
        })?;
        Ok(RootfsCache { dir })
    }

    /// The root filesystem named `key`, unpacked from `layers` (bottom first) if not cached.
    ///
    /// `key` must be a plain name (letters, digits, `:-_.`), such as a chain id.
    pub fn get_or_unpack(
        &self,
        key: &str,
        layers: &[PathBuf],
        options: UnpackOptions,
    ) -> Result<CachedRootfs, CacheError> {
        let io_error = |path: &Path, error| CacheError::Io {
            path: path.to_path_buf(),
            error,
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":-_.".contains(c))
            || key.starts_with('.')
        {
            return Err(io_error(
                &self.dir,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{key:?} is not a cache key"),
                ),
            ));
        }
        let name = key.replace(':', "-");
        let final_path = self.dir.join(&name);
        if final_path.is_dir() {
            return Ok(CachedRootfs {
                path: final_path,
                unpacked: None,
            });
        }
        let lock_path = self.dir.join(format!("{name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|error| io_error(&lock_path, error))?;
        lock_exclusive(&lock).map_err(|error| io_error(&lock_path, error))?;
        if final_path.is_dir() {
            return Ok(CachedRootfs {
                path: final_path,
                unpacked: None,
            });
        }
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
        fs::rename(&partial, &final_path).map_err(|error| io_error(&final_path, error))?;
        Ok(CachedRootfs {
            path: final_path,
            unpacked: Some(report),
        })
        // The lock is released when `lock` is dropped.
    }
}

/// Waits for an exclusive lock on the file (released when it is closed).
fn lock_exclusive(file: &File) -> io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
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
