//! Working folders of runs, in the cache's `work/` folder: each holds an owner lock for as long
//! as its run lives, so that a prune (or the next run) can tell a folder in use from one a
//! killed run left behind.

use super::Kind;
use super::lock::{EntryLock, Mode};
use std::io;
use std::path::Path;

/// The owner lock inside a working folder.
pub const OWNER_LOCK: &str = "owner.lock";

/// A working folder, removed with its contents when dropped.
#[derive(Debug)]
pub struct WorkDir {
    /// The folder (declared first: removed while its owner lock is still held).
    dir: tempfile::TempDir,
    /// The owner lock, held while the folder lives.
    _owner: EntryLock,
}

impl WorkDir {
    /// A new working folder in the cache folder `root`, named `<prefix><random>`.
    pub fn create(root: &Path, prefix: &str) -> io::Result<WorkDir> {
        let parent = Kind::Work.folder(root);
        std::fs::create_dir_all(&parent)?;
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&parent)?;
        let owner = EntryLock::acquire(&dir.path().join(OWNER_LOCK), Mode::Exclusive)?;
        Ok(WorkDir { dir, _owner: owner })
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{State, scan};

    #[test]
    fn a_working_folder_is_in_use_while_it_lives_and_gone_after() {
        let root = tempfile::tempdir().unwrap();
        let work = WorkDir::create(root.path(), "patch-").unwrap();
        std::fs::write(work.path().join("data"), b"x").unwrap();
        let scanned = scan(root.path()).unwrap();
        assert_eq!(scanned.entries.len(), 1);
        assert_eq!(scanned.entries[0].state, State::InUse);
        assert!(!scanned.entries[0].remove().unwrap());
        assert!(work.path().join("data").exists());
        let path = work.path().to_path_buf();
        drop(work);
        assert!(!path.exists());
    }
}
