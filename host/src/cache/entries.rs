//! The entries of a cache folder: what each kind's folder holds, how big, when last used,
//! whether a running salve holds it, and how to remove it safely.

use super::lock::EntryLock;
use super::usage::DiskUsage;
use super::work::OWNER_LOCK;
use super::{Kind, PACKAGES_LOCK};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How old a file being written (a hidden temporary file) or a working folder without an owner
/// lock must be to count as left behind by a process that ended.
const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The compiled-code cache's key, which is not an entry and never removed.
const COMPILED_KEY: &str = "hmac.key";

/// Whether an entry may be removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Nobody holds it: removable when the policy says so.
    Idle,
    /// A running salve holds it (or is writing it): never removed.
    InUse,
    /// Left behind by a process that ended (a half-unpacked or half-removed tree, a working
    /// folder of a killed run): always removed by a prune.
    Leftover,
}

/// One entry of the cache.
#[derive(Debug)]
pub struct Entry {
    /// Its kind.
    pub kind: Kind,
    /// Its name inside its kind's folder.
    pub name: String,
    /// The disk it takes, in bytes.
    pub bytes: u64,
    /// When it was last used.
    pub last_used: SystemTime,
    /// Whether it may be removed.
    pub state: State,
    /// How to remove it.
    removal: Removal,
}

/// How an entry is removed.
#[derive(Debug)]
enum Removal {
    /// Files nobody holds (the package store's lock is held by the scan).
    Files(Vec<PathBuf>),
    /// A root filesystem: under its exclusive lock, renamed aside, its lock file removed, then
    /// deleted.
    Rootfs { tree: PathBuf, lock: PathBuf },
    /// A half-unpacked root filesystem: deleted under its entry's exclusive lock, which is
    /// removed too when the entry itself does not exist.
    Partial {
        tree: PathBuf,
        lock: PathBuf,
        entry: PathBuf,
    },
    /// A lock file with no root filesystem: removed under its own exclusive lock.
    StrayLock { lock: PathBuf, tree: PathBuf },
    /// A tree nobody can be using (one already being removed).
    Tree(PathBuf),
    /// A working folder: deleted under its owner lock, or without one when it has none.
    Work {
        tree: PathBuf,
        owner: Option<PathBuf>,
    },
}

/// The entries of a cache folder. While a scan lives it holds the package store's exclusive
/// lock when nobody was using the store, so that its package entries stay removable.
#[derive(Debug)]
pub struct Scan {
    /// The entries, in no particular order.
    pub entries: Vec<Entry>,
    /// The package store's lock, when the scan got it.
    _packages_lock: Option<EntryLock>,
}

/// Lists the entries of the cache folder `root` (a missing folder has none).
pub fn scan(root: &Path) -> io::Result<Scan> {
    let mut usage = DiskUsage::default();
    let mut entries = Vec::new();
    scan_compiled(&Kind::Compiled.folder(root), &mut usage, &mut entries)?;
    scan_rootfs(&Kind::Rootfs.folder(root), &mut usage, &mut entries)?;
    let packages_lock = scan_packages(&Kind::Packages.folder(root), &mut usage, &mut entries)?;
    scan_work(&Kind::Work.folder(root), &mut usage, &mut entries)?;
    Ok(Scan {
        entries,
        _packages_lock: packages_lock,
    })
}

impl Entry {
    /// Removes the entry; `Ok(false)` when a salve started using it since the scan (it is then
    /// left alone).
    pub fn remove(&self) -> io::Result<bool> {
        match &self.removal {
            Removal::Files(paths) => {
                for path in paths {
                    remove_file(path)?;
                }
                Ok(true)
            }
            Removal::Rootfs { tree, lock } => {
                let Some(held) = EntryLock::try_exclusive(lock)? else {
                    return Ok(false);
                };
                let aside =
                    tree.with_file_name(format!(".deleting-{}-{}", self.name, std::process::id()));
                match fs::rename(tree, &aside) {
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    other => other?,
                }
                held.remove()?;
                remove_tree(&aside)?;
                Ok(true)
            }
            Removal::Partial { tree, lock, entry } => {
                let Some(held) = EntryLock::try_exclusive(lock)? else {
                    return Ok(false);
                };
                remove_tree(tree)?;
                if !entry.exists() {
                    held.remove()?;
                }
                Ok(true)
            }
            Removal::StrayLock { lock, tree } => {
                let Some(held) = EntryLock::try_exclusive(lock)? else {
                    return Ok(false);
                };
                if tree.exists() {
                    return Ok(false);
                }
                held.remove()?;
                Ok(true)
            }
            Removal::Tree(tree) => {
                remove_tree(tree)?;
                Ok(true)
            }
            Removal::Work { tree, owner } => match owner {
                Some(owner) => match EntryLock::try_existing(owner) {
                    Ok(Some(_held)) => {
                        remove_tree(tree)?;
                        Ok(true)
                    }
                    Ok(None) => Ok(false),
                    Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
                    Err(error) => Err(error),
                },
                None => {
                    remove_tree(tree)?;
                    Ok(true)
                }
            },
        }
    }
}

/// The names and metadata of a folder's children; none when the folder does not exist.
fn children(folder: &Path) -> io::Result<Vec<(String, fs::Metadata)>> {
    let listing = match fs::read_dir(folder) {
        Ok(listing) => listing,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut children = Vec::new();
    for child in listing {
        let child = child?;
        let Ok(metadata) = fs::symlink_metadata(child.path()) else {
            continue;
        };
        children.push((child.file_name().to_string_lossy().into_owned(), metadata));
    }
    Ok(children)
}

/// When a file was last modified (the epoch when that cannot be read).
fn modified(metadata: &fs::Metadata) -> SystemTime {
    metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

/// True when a file has not been modified for [`ABANDONED_AFTER`].
fn abandoned(metadata: &fs::Metadata) -> bool {
    modified(metadata)
        .elapsed()
        .is_ok_and(|age| age > ABANDONED_AFTER)
}

/// `compiled/`: one entry per file but the key; hidden files are being written.
fn scan_compiled(folder: &Path, usage: &mut DiskUsage, entries: &mut Vec<Entry>) -> io::Result<()> {
    for (name, metadata) in children(folder)? {
        if name == COMPILED_KEY || !metadata.is_file() {
            continue;
        }
        let path = folder.join(&name);
        let state = match (name.starts_with('.'), abandoned(&metadata)) {
            (false, _) => State::Idle,
            (true, true) => State::Leftover,
            (true, false) => State::InUse,
        };
        entries.push(Entry {
            kind: Kind::Compiled,
            bytes: usage.of(&path),
            last_used: modified(&metadata),
            state,
            removal: Removal::Files(vec![path]),
            name,
        });
    }
    Ok(())
}

/// `rootfs/`: one entry per root filesystem (with its lock file), and what unpacking or
/// removing left behind.
fn scan_rootfs(folder: &Path, usage: &mut DiskUsage, entries: &mut Vec<Entry>) -> io::Result<()> {
    let listing = children(folder)?;
    let mut locks: BTreeMap<String, fs::Metadata> = BTreeMap::new();
    let mut trees = Vec::new();
    for (name, metadata) in listing {
        match name.strip_suffix(".lock") {
            Some(entry) if metadata.is_file() => {
                locks.insert(entry.to_string(), metadata);
            }
            _ if metadata.is_dir() => trees.push((name, metadata)),
            _ => {}
        }
    }
    for (name, metadata) in trees {
        let tree = folder.join(&name);
        let (state, removal, last_used) = if name.starts_with(".deleting-") {
            (
                State::Leftover,
                Removal::Tree(tree.clone()),
                modified(&metadata),
            )
        } else if let Some(entry) = name.strip_prefix(".partial-") {
            let lock = rootfs_lock(folder, entry);
            let state = if is_held(&lock)? {
                State::InUse
            } else {
                State::Leftover
            };
            let removal = Removal::Partial {
                tree: tree.clone(),
                lock,
                entry: folder.join(entry),
            };
            (state, removal, modified(&metadata))
        } else {
            let lock = rootfs_lock(folder, &name);
            let last_used = locks
                .remove(&name)
                .map_or_else(|| modified(&metadata), |lock| modified(&lock));
            let state = if is_held(&lock)? {
                State::InUse
            } else {
                State::Idle
            };
            let removal = Removal::Rootfs {
                tree: tree.clone(),
                lock,
            };
            (state, removal, last_used)
        };
        let recorded = match &removal {
            Removal::Rootfs { lock, .. } => recorded_size(lock),
            _ => None,
        };
        entries.push(Entry {
            kind: Kind::Rootfs,
            bytes: recorded.unwrap_or_else(|| usage.of(&tree)),
            last_used,
            state,
            removal,
            name,
        });
    }
    for (name, metadata) in locks {
        if folder.join(format!(".partial-{name}")).exists() {
            continue;
        }
        let lock = rootfs_lock(folder, &name);
        entries.push(Entry {
            kind: Kind::Rootfs,
            bytes: usage.of(&lock),
            last_used: modified(&metadata),
            state: if is_held(&lock)? {
                State::InUse
            } else {
                State::Leftover
            },
            removal: Removal::StrayLock {
                lock,
                tree: folder.join(&name),
            },
            name: format!("{name}.lock"),
        });
    }
    Ok(())
}

/// `packages/`: one entry per stored file with its decompressed copy beside it; all in use
/// while any salve holds the store. Returns the store's lock when the scan got it.
fn scan_packages(
    folder: &Path,
    usage: &mut DiskUsage,
    entries: &mut Vec<Entry>,
) -> io::Result<Option<EntryLock>> {
    if !folder.is_dir() {
        return Ok(None);
    }
    let lock = EntryLock::try_exclusive(&folder.join(PACKAGES_LOCK))?;
    let mut groups: BTreeMap<String, (Vec<PathBuf>, SystemTime, bool)> = BTreeMap::new();
    for (name, metadata) in children(folder)? {
        if name == PACKAGES_LOCK || !metadata.is_file() {
            continue;
        }
        let stem = name.strip_suffix(".plain").unwrap_or(&name).to_string();
        let group = groups
            .entry(stem)
            .or_insert_with(|| (Vec::new(), SystemTime::UNIX_EPOCH, false));
        group.0.push(folder.join(&name));
        group.1 = group.1.max(modified(&metadata));
        group.2 |= name.starts_with('.');
    }
    for (name, (paths, last_used, temporary)) in groups {
        let state = match (&lock, temporary) {
            (None, _) => State::InUse,
            (Some(_), true) => State::Leftover,
            (Some(_), false) => State::Idle,
        };
        entries.push(Entry {
            kind: Kind::Packages,
            bytes: paths.iter().map(|path| usage.of(path)).sum(),
            last_used,
            state,
            removal: Removal::Files(paths),
            name,
        });
    }
    Ok(lock)
}

/// `work/`: one entry per working folder; a folder whose owner lock nobody holds was left by a
/// run that ended.
fn scan_work(folder: &Path, usage: &mut DiskUsage, entries: &mut Vec<Entry>) -> io::Result<()> {
    for (name, metadata) in children(folder)? {
        if !metadata.is_dir() {
            continue;
        }
        let tree = folder.join(&name);
        let owner = tree.join(OWNER_LOCK);
        let (state, owner) = match EntryLock::try_existing(&owner) {
            Ok(Some(_)) => (State::Leftover, Some(owner)),
            Ok(None) => (State::InUse, Some(owner)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let state = if abandoned(&metadata) {
                    State::Leftover
                } else {
                    State::InUse
                };
                (state, None)
            }
            Err(error) => return Err(error),
        };
        entries.push(Entry {
            kind: Kind::Work,
            bytes: usage.of(&tree),
            last_used: modified(&metadata),
            state,
            removal: Removal::Work { tree, owner },
            name,
        });
    }
    Ok(())
}

/// The lock file of the root filesystem `name` in the folder `rootfs`.
pub fn rootfs_lock(rootfs: &Path, name: &str) -> PathBuf {
    rootfs.join(format!("{name}.lock"))
}

/// The size a root filesystem's lock file records (see [`EntryLock::record_size`]).
fn recorded_size(lock: &Path) -> Option<u64> {
    fs::read_to_string(lock).ok()?.trim().parse().ok()
}

/// True when a process holds the lock file (shared or exclusive); a missing lock file is held
/// by nobody.
fn is_held(lock: &Path) -> io::Result<bool> {
    match EntryLock::try_existing(lock) {
        Ok(held) => Ok(held.is_none()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Removes a file; one already gone is fine.
fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Removes a folder tree; one already gone is fine.
fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}
