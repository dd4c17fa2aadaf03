//! salve's cache folder (`--cache-dir`): what it holds, how processes share it, and how it is
//! kept under its size bound.
//!
//! The folder holds four kinds of entries, each in a folder of its own:
//! - `compiled/`: plugins' native code (see `plugin::cache`), written atomically and read whole;
//! - `rootfs/`: unpacked root filesystems (see `image::rootfs_cache`), each with a lock file that
//!   every process using it holds shared, and which records the tree's size (the tree never
//!   changes once unpacked, so a scan need not walk it);
//! - `packages/`: the native engine's downloaded packages and indexes, guarded as one store by
//!   `packages/.lock`, held shared by every process using the store;
//! - `work/`: one working folder per running `salve patch`, each with an owner lock.
//!
//! [`scan`] lists the entries with their sizes, times of last use and whether a running salve
//! holds them; [`prune`] removes the least recently used ones that nobody holds, and what
//! processes that ended left behind.

mod entries;
pub mod lock;
mod prune;
pub mod usage;
pub mod work;

pub use entries::{Entry, Scan, State, rootfs_lock, scan};
pub use prune::{Policy, PruneOutcome, Tally, prune};

use std::path::{Path, PathBuf};

/// The size bound salve keeps its cache under when none is configured: 10 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 10 << 30;

/// A kind of cache entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Plugins' compiled native code.
    Compiled,
    /// Unpacked root filesystems.
    Rootfs,
    /// Downloaded packages and repository indexes.
    Packages,
    /// Working folders of runs.
    Work,
}

impl Kind {
    /// Every kind, in the order they are shown.
    pub const ALL: [Kind; 4] = [Kind::Compiled, Kind::Rootfs, Kind::Packages, Kind::Work];

    /// The kind's folder name inside the cache folder, and its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Compiled => "compiled",
            Kind::Rootfs => "rootfs",
            Kind::Packages => "packages",
            Kind::Work => "work",
        }
    }

    /// The kind's folder inside the cache folder `root`.
    pub fn folder(self, root: &Path) -> PathBuf {
        root.join(self.name())
    }
}

/// The lock file a package store's users hold shared, inside the store.
pub const PACKAGES_LOCK: &str = ".lock";
