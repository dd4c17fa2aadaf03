//! Locks on cache entries, shared between salve processes with `flock(2)`.
//!
//! A process using an entry holds a shared lock on the entry's lock file for as long as it uses
//! it; a process creating an entry, or removing one, holds the exclusive lock. A remover unlinks
//! the lock file while it still holds it, so a process that was waiting on that file wakes up
//! holding a lock on a file no longer in the cache: [`EntryLock::acquire`] checks after every wait
//! that the file it locked is still the one at the path, and locks the new one when it is not.

use rustix::fs::FlockOperation;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How an entry is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Used: any number of processes at once.
    Shared,
    /// Created or removed: one process, and nobody using it.
    Exclusive,
}

/// A held lock on a cache entry, released when dropped.
#[derive(Debug)]
pub struct EntryLock {
    /// The open lock file.
    file: File,
    /// Its path.
    path: PathBuf,
}

impl EntryLock {
    /// Waits for a lock on the lock file at `path` (created when missing).
    pub fn acquire(path: &Path, mode: Mode) -> io::Result<EntryLock> {
        let operation = match mode {
            Mode::Shared => FlockOperation::LockShared,
            Mode::Exclusive => FlockOperation::LockExclusive,
        };
        loop {
            let file = open_lock_file(path)?;
            rustix::fs::flock(&file, operation)?;
            let lock = EntryLock {
                file,
                path: path.to_path_buf(),
            };
            if lock.is_current()? {
                return Ok(lock);
            }
        }
    }

    /// The exclusive lock on the lock file at `path` (created when missing) if nobody holds it
    /// now; `None` when a process holds it.
    pub fn try_exclusive(path: &Path) -> io::Result<Option<EntryLock>> {
        try_lock(path, open_lock_file)
    }

    /// As [`EntryLock::try_exclusive`], for a lock file that must exist already (a missing one
    /// is a `NotFound` error, and is not created).
    pub fn try_existing(path: &Path) -> io::Result<Option<EntryLock>> {
        try_lock(path, |path| OpenOptions::new().write(true).open(path))
    }

    /// Turns an exclusive lock into a shared one. The change is not atomic: a remover may take
    /// the lock in between, so the caller checks [`EntryLock::is_current`] and its entry again.
    pub fn downgrade(&self) -> io::Result<()> {
        rustix::fs::flock(&self.file, FlockOperation::LockShared)?;
        Ok(())
    }

    /// True while the locked file is still the one at the lock's path (a remover has not
    /// unlinked it).
    pub fn is_current(&self) -> io::Result<bool> {
        let held = self.file.metadata()?;
        match std::fs::symlink_metadata(&self.path) {
            Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Records that the entry was used now (the lock file's modification time), for
    /// least-recently-used eviction.
    pub fn touch(&self) -> io::Result<()> {
        self.file.set_modified(SystemTime::now())
    }

    /// Records the size of the entry it guards in the lock file, for scans that would otherwise
    /// walk the entry (the caller holds the lock exclusively, and the entry never changes).
    pub fn record_size(&self, bytes: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.set_len(0)?;
        self.file.write_all_at(format!("{bytes}\n").as_bytes(), 0)
    }

    /// Removes the lock file while still holding it (the entry it guards is gone), then releases
    /// the lock.
    pub fn remove(self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

/// Takes the exclusive lock on the file `open` opens at `path` without waiting; `None` when a
/// process holds it.
fn try_lock(
    path: &Path,
    open: impl Fn(&Path) -> io::Result<File>,
) -> io::Result<Option<EntryLock>> {
    loop {
        let file = open(path)?;
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        let lock = EntryLock {
            file,
            path: path.to_path_buf(),
        };
        if lock.is_current()? {
            return Ok(Some(lock));
        }
    }
}

/// Opens (creating if needed) a lock file for writing, so that its time can be set.
fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_keep_out_an_exclusive_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry.lock");
        let first = EntryLock::acquire(&path, Mode::Shared).unwrap();
        let second = EntryLock::acquire(&path, Mode::Shared).unwrap();
        assert!(EntryLock::try_exclusive(&path).unwrap().is_none());
        drop(first);
        assert!(EntryLock::try_exclusive(&path).unwrap().is_none());
        drop(second);
        assert!(EntryLock::try_exclusive(&path).unwrap().is_some());
    }

    #[test]
    fn a_waiter_on_a_removed_lock_file_locks_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry.lock");
        let remover = EntryLock::try_exclusive(&path).unwrap().unwrap();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || EntryLock::acquire(&path, Mode::Shared).unwrap())
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        remover.remove().unwrap();
        let lock = waiter.join().unwrap();
        assert!(lock.is_current().unwrap());
        assert!(path.exists());
        assert!(EntryLock::try_exclusive(&path).unwrap().is_none());
    }

    #[test]
    fn touching_sets_the_time_of_last_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry.lock");
        let lock = EntryLock::acquire(&path, Mode::Shared).unwrap();
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        lock.file.set_modified(old).unwrap();
        lock.touch().unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert!(modified > old + std::time::Duration::from_secs(3600));
    }
}
