//! busybox's scripts reproduced on the image as the update leaves it: the post-upgrade's
//! removal of links to `/bin/busybox` that no applet has any more (what its
//! `find | sort | uniq -u | stat | awk | rm` pipeline removes: links in `/bin`, `/sbin`,
//! `/usr/bin` and `/usr/sbin` whose path is not in the new `busybox --list-full` and whose target
//! is exactly `/bin/busybox`), of `ping` links to `bbsuid`, and its `klogd` user (which must
//! exist); then `busybox-extras --install -s` and `busybox --install -s`, in the order the
//! scripts run them: a link to the program for every applet whose path is free, as `symlink`
//! leaves an existing path alone.

use super::busybox::{self, Applet};
use salve_plugin_sdk::{
    FileKind, FileReads, ImageFile, InstallRequest, NativeError, PackageEntry, PathStatus,
    SymbolicLink,
};
use std::collections::{BTreeMap, BTreeSet};

/// The folders busybox links applets in (besides `/`), which must be folders, not links.
const BIN_FOLDERS: [&str; 4] = ["/bin", "/sbin", "/usr/bin", "/usr/sbin"];

/// busybox itself.
const BUSYBOX: &str = "/bin/busybox";
/// busybox-extras, when installed.
const BUSYBOX_EXTRAS: &str = "/bin/busybox-extras";
/// The set-user-id helper of busybox-suid.
const BBSUID: &str = "/bin/bbsuid";
/// Links the post-upgrade removes when they point at [`BBSUID`].
const PING_LINKS: [&str; 2] = ["/bin/ping", "/bin/ping6"];
/// The accounts the post-upgrade adds unless they exist.
const PASSWD: &str = "/etc/passwd";
/// See [`PASSWD`].
const GROUP: &str = "/etc/group";

/// What busybox's scripts run in this update.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// The post-upgrade runs (busybox is upgraded).
    pub post_upgrade: bool,
    /// The trigger runs; `Some(true)` for a version that also runs `busybox-extras` and
    /// `bbsuid`.
    pub trigger: Option<bool>,
}

/// What reproducing the scripts needs or does.
pub enum Outcome {
    /// Read these first.
    Read(FileReads),
    /// Links to write and paths to remove, with notes.
    Done {
        /// Links the scripts make.
        links: Vec<SymbolicLink>,
        /// Paths the scripts remove.
        removed: Vec<String>,
    },
}

/// The image as the update leaves it, as far as the reads so far show it.
struct After<'a> {
    /// The new packages' entries by path (the last package shipping a path wins).
    entries: BTreeMap<&'a str, &'a PackageEntry>,
    /// Paths the update removes.
    removed: &'a BTreeSet<String>,
    /// Statuses read so far.
    statuses: BTreeMap<&'a str, &'a PathStatus>,
    /// Image files read so far.
    read: BTreeMap<&'a str, &'a ImageFile>,
    /// Package files read so far.
    packaged: BTreeMap<&'a str, &'a ImageFile>,
}

/// What the update leaves at a path.
enum State<'a> {
    /// A package entry.
    Packaged(&'a PackageEntry),
    /// What the image has (its kind, by status).
    Image(FileKind),
    /// Not known until the status is read.
    Unknown,
}

impl<'a> After<'a> {
    fn new(request: &'a InstallRequest, removed: &'a BTreeSet<String>) -> After<'a> {
        After {
            entries: request
                .packages
                .iter()
                .flat_map(|package| package.entries.iter())
                .map(|entry| (entry.path.as_str(), entry))
                .collect(),
            removed,
            statuses: request
                .statuses
                .iter()
                .map(|status| (status.path.as_str(), status))
                .collect(),
            read: request
                .read
                .iter()
                .flatten()
                .map(|file| (file.path.as_str(), file))
                .collect(),
            packaged: request
                .packaged
                .iter()
                .map(|file| (file.path.as_str(), file))
                .collect(),
        }
    }

    /// Whether the folders' listings (asked with their own statuses) have come back.
    fn listed(&self) -> bool {
        BIN_FOLDERS
            .iter()
            .all(|folder| self.statuses.contains_key(folder))
    }

    /// What is at `path` after the update.
    fn state(&self, path: &str) -> State<'a> {
        if let Some(entry) = self.entries.get(path) {
            return State::Packaged(entry);
        }
        if self.removed.contains(path) {
            return State::Image(FileKind::Missing);
        }
        if let Some(status) = self.statuses.get(path) {
            return State::Image(status.kind);
        }
        let listed_folder = path
            .rsplit_once('/')
            .is_some_and(|(folder, _)| BIN_FOLDERS.contains(&folder));
        if listed_folder && self.listed() {
            return State::Image(FileKind::Missing);
        }
        State::Unknown
    }

    /// The kind of what is at `path` after the update, when known.
    fn kind(&self, path: &str) -> Option<FileKind> {
        match self.state(path) {
            State::Packaged(entry) => Some(entry.kind),
            State::Image(kind) => Some(kind),
            State::Unknown => None,
        }
    }

    /// The target of the link at `path` after the update: `Ok(None)` when it is not a link,
    /// `Err(())` when the image's link is still to be read.
    fn link_target(&self, path: &str) -> Result<Option<String>, ()> {
        match self.state(path) {
            State::Packaged(entry) if entry.kind == FileKind::Symlink => {
                Ok(entry.link_target.clone())
            }
            State::Image(FileKind::Symlink) => match self.read.get(path) {
                Some(file) => Ok(file.link_target.clone()),
                None => Err(()),
            },
            _ => Ok(None),
        }
    }

    /// The bytes of the regular file at `path` after the update: `Err(true)` when they are
    /// still to be read from a package, `Err(false)` from the image.
    fn bytes(&self, path: &str) -> Result<Option<&'a [u8]>, bool> {
        match self.state(path) {
            State::Packaged(entry) if entry.kind == FileKind::File => self
                .packaged
                .get(path)
                .map(|file| file.content.as_deref())
                .ok_or(true),
            State::Image(FileKind::File) => self
                .read
                .get(path)
                .map(|file| file.content.as_deref())
                .ok_or(false),
            _ => Ok(None),
        }
    }
}

/// Reproduces `run` on the image as the update leaves it (`removed`: the paths the update
/// removes), or says what to read first.
pub fn reproduce(
    run: Run,
    request: &InstallRequest,
    removed: &BTreeSet<String>,
) -> Result<Outcome, NativeError> {
    let unsupported = NativeError::Unsupported;
    let after = After::new(request, removed);
    let mut reads = FileReads {
        image: Vec::new(),
        packaged: Vec::new(),
        statuses: Vec::new(),
    };
    if !after.listed() {
        for folder in BIN_FOLDERS {
            reads.statuses.push(folder.to_string());
            reads.statuses.push(format!("{folder}/*"));
        }
        reads.statuses.push(BBSUID.to_string());
        reads.statuses.push(BUSYBOX_EXTRAS.to_string());
        reads.statuses.push(BUSYBOX.to_string());
        if run.post_upgrade {
            reads.image.extend([PASSWD.to_string(), GROUP.to_string()]);
        }
        return Ok(Outcome::Read(reads));
    }
    for folder in BIN_FOLDERS {
        if after.kind(folder) == Some(FileKind::Symlink) {
            return Err(unsupported(format!(
                "{folder} is a link (a merged-/usr layout), where busybox's scripts are not \
                 reproduced"
            )));
        }
    }
    // The programs whose applets are linked, in the order the scripts run them.
    let mut programs: Vec<&str> = Vec::new();
    if run.post_upgrade {
        programs.push(BUSYBOX);
    }
    if run.trigger == Some(true) {
        if after.kind(BBSUID) != Some(FileKind::Missing) {
            return Err(unsupported(format!(
                "busybox's trigger would run {BBSUID} --install, which native installation does \
                 not reproduce"
            )));
        }
        if after.kind(BUSYBOX_EXTRAS) != Some(FileKind::Missing) {
            programs.push(BUSYBOX_EXTRAS);
        }
    }
    if run.trigger.is_some() && !programs.contains(&BUSYBOX) {
        programs.push(BUSYBOX);
    }
    let mut tables: Vec<(&str, Vec<Applet>)> = Vec::new();
    for program in &programs {
        match after.bytes(program) {
            Ok(Some(binary)) => {
                let applets = busybox::applets(binary).map_err(|reason| {
                    unsupported(format!(
                        "busybox's scripts would run {program} --install -s, and its applets \
                         cannot be read from it: {reason}"
                    ))
                })?;
                tables.push((program, applets));
            }
            Ok(None) => {
                return Err(unsupported(format!(
                    "busybox's scripts would run {program}, which is not a regular file after \
                     the update"
                )));
            }
            Err(true) => reads.packaged.push(program.to_string()),
            Err(false) => reads.image.push(program.to_string()),
        }
    }
    // Applets linked at `/` have no listed folder: their statuses are asked one by one.
    for (_, applets) in &tables {
        for applet in applets {
            if after.kind(&applet.path).is_none() {
                reads.statuses.push(applet.path.clone());
            }
        }
    }
    let mut links_read: Vec<String> = Vec::new();
    let mut removals: Vec<String> = Vec::new();
    let new_busybox = tables
        .iter()
        .find(|(program, _)| *program == BUSYBOX)
        .map(|(_, applets)| applets);
    if run.post_upgrade
        && let Some(applets) = new_busybox
    {
        check_klogd(&after)?;
        let listed: BTreeSet<&str> = applets.iter().map(|applet| applet.path.as_str()).collect();
        for link in links_in_bin_folders(&after) {
            if listed.contains(link.as_str()) {
                continue;
            }
            if link.contains(|c: char| c.is_whitespace() || "'\"\\".contains(c)) {
                return Err(unsupported(format!(
                    "busybox's post-upgrade would pass the link {link:?} through xargs, which \
                     splits its name"
                )));
            }
            match after.link_target(&link) {
                Ok(Some(target)) if target == BUSYBOX => removals.push(link),
                Ok(_) => {}
                Err(()) => links_read.push(link),
            }
        }
        for link in PING_LINKS {
            match after.link_target(link) {
                Ok(Some(target)) if target == BBSUID => removals.push(link.to_string()),
                Ok(_) => {}
                Err(()) => links_read.push(link.to_string()),
            }
        }
    }
    reads.image.extend(links_read);
    if !(reads.image.is_empty() && reads.packaged.is_empty() && reads.statuses.is_empty()) {
        return Ok(Outcome::Read(reads));
    }
    let gone: BTreeSet<&str> = removals.iter().map(String::as_str).collect();
    let mut links: Vec<SymbolicLink> = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for (program, applets) in &tables {
        for applet in applets {
            let free = gone.contains(applet.path.as_str())
                || after.kind(&applet.path) == Some(FileKind::Missing);
            let folder = applet
                .path
                .rsplit_once('/')
                .map_or("", |(folder, _)| folder);
            let folder_exists =
                folder.is_empty() || after.kind(folder) == Some(FileKind::Directory);
            if free && folder_exists && taken.insert(applet.path.clone()) {
                links.push(SymbolicLink {
                    path: applet.path.clone(),
                    target: program.to_string(),
                });
            }
        }
    }
    removals.retain(|path| !taken.contains(path));
    Ok(Outcome::Done {
        links,
        removed: removals,
    })
}

/// Every link in the binary folders after the update, as the post-upgrade's `find` lists them.
fn links_in_bin_folders(after: &After) -> Vec<String> {
    let in_bin = |path: &str| {
        path.rsplit_once('/')
            .is_some_and(|(folder, _)| BIN_FOLDERS.contains(&folder))
    };
    let candidates: BTreeSet<&str> = after
        .statuses
        .keys()
        .chain(after.entries.keys())
        .copied()
        .filter(|path| in_bin(path))
        .collect();
    candidates
        .into_iter()
        .filter(|path| after.kind(path) == Some(FileKind::Symlink))
        .map(String::from)
        .collect()
}

/// The post-upgrade's `addgroup`/`adduser` of `klogd` do nothing only when both exist.
fn check_klogd(after: &After) -> Result<(), NativeError> {
    for (path, what) in [(PASSWD, "user"), (GROUP, "group")] {
        let has = after
            .read
            .get(path)
            .and_then(|file| file.content.as_deref())
            .is_some_and(|content| {
                String::from_utf8_lossy(content)
                    .lines()
                    .any(|line| line.starts_with("klogd:"))
            });
        if !has {
            return Err(NativeError::Unsupported(format!(
                "busybox's post-upgrade would add the klogd {what} ({path} has none), which \
                 native installation does not do"
            )));
        }
    }
    Ok(())
}
