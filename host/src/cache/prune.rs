//! Removing cache entries: what processes that ended left behind, always; then, least recently
//! used first, the entries nobody holds that the policy selects.

use super::Kind;
use super::entries::{Entry, State, scan};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Which entries a prune removes (besides leftovers, which it always removes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Remove least recently used entries until the cache holds at most this many bytes.
    pub max_bytes: Option<u64>,
    /// Remove entries not used for this long.
    pub older_than: Option<Duration>,
    /// Remove every entry nobody holds.
    pub everything: bool,
}

/// A count of entries and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// How many entries.
    pub entries: usize,
    /// Their bytes on disk.
    pub bytes: u64,
}

impl Tally {
    /// Adds an entry.
    fn add(&mut self, entry: &Entry) {
        self.entries += 1;
        self.bytes += entry.bytes;
    }
}

/// What a prune did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PruneOutcome {
    /// Entries removed, by kind (leftovers included).
    pub removed: BTreeMap<Kind, Tally>,
    /// What is left in the cache.
    pub kept: Tally,
    /// Of what is left, what a running salve holds.
    pub in_use: Tally,
    /// Entries that could not be removed, and why.
    pub failures: Vec<String>,
}

impl PruneOutcome {
    /// Everything removed, all kinds together.
    pub fn removed_total(&self) -> Tally {
        self.removed
            .values()
            .fold(Tally::default(), |total, tally| Tally {
                entries: total.entries + tally.entries,
                bytes: total.bytes + tally.bytes,
            })
    }
}

/// Prunes the cache folder `root` by `policy`, `now` being the time entries' ages count from.
pub fn prune(root: &Path, policy: Policy, now: SystemTime) -> io::Result<PruneOutcome> {
    let scanned = scan(root)?;
    let mut outcome = PruneOutcome::default();
    let mut candidates = Vec::new();
    for entry in &scanned.entries {
        match entry.state {
            State::Leftover => remove(entry, &mut outcome),
            State::InUse => {
                outcome.kept.add(entry);
                outcome.in_use.add(entry);
            }
            State::Idle => {
                outcome.kept.add(entry);
                candidates.push(entry);
            }
        }
    }
    candidates.sort_by_key(|entry| entry.last_used);
    for entry in candidates {
        let too_old = policy.older_than.is_some_and(|age| {
            now.duration_since(entry.last_used)
                .is_ok_and(|unused| unused > age)
        });
        let over_bound = policy.max_bytes.is_some_and(|max| outcome.kept.bytes > max);
        if !(policy.everything || too_old || over_bound) {
            continue;
        }
        outcome.kept.entries -= 1;
        outcome.kept.bytes -= entry.bytes;
        remove(entry, &mut outcome);
    }
    Ok(outcome)
}

/// Removes one entry and counts it: as removed, as kept and in use when a salve started using
/// it since the scan, or as kept with a failure.
fn remove(entry: &Entry, outcome: &mut PruneOutcome) {
    match entry.remove() {
        Ok(true) => outcome.removed.entry(entry.kind).or_default().add(entry),
        Ok(false) => {
            outcome.kept.add(entry);
            outcome.in_use.add(entry);
        }
        Err(error) => {
            outcome.kept.add(entry);
            outcome
                .failures
                .push(format!("{}/{}: {error}", entry.kind.name(), entry.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::lock::{EntryLock, Mode};
    use crate::cache::{PACKAGES_LOCK, work::WorkDir};
    use std::fs;

    /// A cache with one root filesystem, two compiled entries and two packages, each of about
    /// `size` bytes, last used in that order an hour apart.
    fn cache(size: usize) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let rootfs = Kind::Rootfs.folder(root.path());
        fs::create_dir_all(rootfs.join("sha256-aa/etc")).unwrap();
        fs::write(rootfs.join("sha256-aa/etc/data"), vec![1u8; size]).unwrap();
        fs::write(rootfs.join("sha256-aa.lock"), b"").unwrap();
        let compiled = Kind::Compiled.folder(root.path());
        fs::create_dir_all(&compiled).unwrap();
        fs::write(compiled.join("hmac.key"), [0u8; 32]).unwrap();
        fs::write(compiled.join("one.cwasm"), vec![2u8; size]).unwrap();
        fs::write(compiled.join("two.cwasm"), vec![3u8; size]).unwrap();
        let packages = Kind::Packages.folder(root.path());
        fs::create_dir_all(&packages).unwrap();
        fs::write(packages.join("cafe"), vec![4u8; size]).unwrap();
        fs::write(packages.join("cafe.plain"), vec![4u8; size]).unwrap();
        fs::write(packages.join("beef"), vec![5u8; size]).unwrap();
        let base = SystemTime::now() - Duration::from_secs(10 * 3600);
        let order = [
            (0, rootfs.join("sha256-aa.lock")),
            (1, compiled.join("one.cwasm")),
            (2, packages.join("cafe")),
            (2, packages.join("cafe.plain")),
            (3, compiled.join("two.cwasm")),
            (4, packages.join("beef")),
        ];
        for (hours, path) in order {
            let time = base + Duration::from_secs(3600 * hours);
            fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(time)
                .unwrap();
        }
        root
    }

    fn names(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = scan(root)
            .unwrap()
            .entries
            .iter()
            .map(|entry| format!("{}/{}", entry.kind.name(), entry.name))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_least_recently_used_go_first_until_the_bound_is_met() {
        let root = cache(1 << 20);
        let all = prune(root.path(), Policy::default(), SystemTime::now()).unwrap();
        assert_eq!(all.removed_total().entries, 0);
        assert_eq!(all.kept.entries, 5);
        let bound = all.kept.bytes - (1 << 20);
        let pruned = prune(
            root.path(),
            Policy {
                max_bytes: Some(bound),
                ..Policy::default()
            },
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(pruned.removed_total().entries, 1);
        assert!(pruned.kept.bytes <= bound);
        assert_eq!(
            names(root.path()),
            [
                "compiled/one.cwasm",
                "compiled/two.cwasm",
                "packages/beef",
                "packages/cafe"
            ]
        );
        assert!(Kind::Compiled.folder(root.path()).join("hmac.key").exists());
        assert!(
            !Kind::Rootfs
                .folder(root.path())
                .join("sha256-aa.lock")
                .exists()
        );
    }

    #[test]
    fn an_age_removes_what_was_not_used_since() {
        let root = cache(4096);
        let pruned = prune(
            root.path(),
            Policy {
                older_than: Some(Duration::from_secs(7 * 3600 + 1800)),
                ..Policy::default()
            },
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(pruned.removed_total().entries, 3);
        assert_eq!(names(root.path()), ["compiled/two.cwasm", "packages/beef"]);
    }

    #[test]
    fn what_a_running_salve_holds_stays() {
        let root = cache(4096);
        let rootfs_lock = Kind::Rootfs.folder(root.path()).join("sha256-aa.lock");
        let lease = EntryLock::acquire(&rootfs_lock, Mode::Shared).unwrap();
        let store = EntryLock::acquire(
            &Kind::Packages.folder(root.path()).join(PACKAGES_LOCK),
            Mode::Shared,
        )
        .unwrap();
        let work = WorkDir::create(root.path(), "patch-").unwrap();
        let everything = Policy {
            everything: true,
            ..Policy::default()
        };
        let pruned = prune(root.path(), everything, SystemTime::now()).unwrap();
        assert_eq!(pruned.removed[&Kind::Compiled].entries, 2);
        assert_eq!(pruned.in_use.entries, 4);
        assert_eq!(
            names(root.path()),
            [
                "packages/beef",
                "packages/cafe",
                "rootfs/sha256-aa",
                &format!(
                    "work/{}",
                    work.path().file_name().unwrap().to_string_lossy()
                )
            ]
        );
        drop((lease, store, work));
        let pruned = prune(root.path(), everything, SystemTime::now()).unwrap();
        assert_eq!(pruned.removed_total().entries, 3);
        assert_eq!(pruned.kept, Tally::default());
        assert!(names(root.path()).is_empty());
    }

    #[test]
    fn leftovers_of_ended_processes_are_always_removed() {
        let root = cache(4096);
        let rootfs = Kind::Rootfs.folder(root.path());
        fs::create_dir_all(rootfs.join(".partial-sha256-bb/usr")).unwrap();
        fs::create_dir_all(rootfs.join(".deleting-sha256-cc-1/usr")).unwrap();
        let killed = Kind::Work.folder(root.path()).join("patch-killed");
        fs::create_dir_all(&killed).unwrap();
        fs::write(killed.join(crate::cache::work::OWNER_LOCK), b"").unwrap();
        let pruned = prune(root.path(), Policy::default(), SystemTime::now()).unwrap();
        assert_eq!(pruned.removed[&Kind::Rootfs].entries, 2, "{pruned:?}");
        assert_eq!(pruned.removed[&Kind::Work].entries, 1);
        assert_eq!(pruned.kept.entries, 5);
        assert!(!killed.exists());
        assert_eq!(names(root.path()).len(), 5);
    }

    #[test]
    fn links_in_the_cache_are_neither_followed_nor_counted() {
        let root = cache(4096);
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("precious"), b"keep").unwrap();
        let rootfs = Kind::Rootfs.folder(root.path());
        std::os::unix::fs::symlink(outside.path(), rootfs.join("sha256-evil")).unwrap();
        std::os::unix::fs::symlink(outside.path(), rootfs.join("sha256-aa/etc/out")).unwrap();
        let compiled = Kind::Compiled.folder(root.path());
        std::os::unix::fs::symlink(outside.path().join("precious"), compiled.join("x.cwasm"))
            .unwrap();
        let everything = Policy {
            everything: true,
            ..Policy::default()
        };
        let pruned = prune(root.path(), everything, SystemTime::now()).unwrap();
        assert_eq!(pruned.removed_total().entries, 5);
        assert_eq!(fs::read(outside.path().join("precious")).unwrap(), b"keep");
    }
}
