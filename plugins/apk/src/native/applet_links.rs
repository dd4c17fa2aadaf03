//! busybox's scripts reproduced on the image as the update leaves it: the post-upgrade's
//! removal of links to `/bin/busybox` that no applet has any more (what its
//! `find | sort | uniq -u | stat | awk | rm` pipeline removes: links in `/bin`, `/sbin`,
//! `/usr/bin` and `/usr/sbin` whose path is not in the new `busybox --list-full` and whose target
//! is exactly `/bin/busybox`), of `ping` links to `bbsuid`, and its `klogd` user (which must
//! exist); then `busybox-extras --install -s` and `busybox --install -s`, in the order the
//! scripts run them: a link to the program for every applet whose path is free, as `symlink`
//! leaves an existing path alone. On a merged-/usr layout (Alpine 3.23 and later: `/bin` a
//! link to `usr/bin`, `/sbin` to `usr/sbin`) paths resolve through those links as the kernel
//! resolves them, and `--install` links to the program's resolved path (`/usr/bin/busybox`),
//! which is what `/proc/self/exe` names.

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

/// Where each binary folder really is: itself, or the folder its link names.
struct Folders {
    /// (folder, the folder it resolves to).
    resolved: Vec<(&'static str, String)>,
}

impl Folders {
    /// The path `path` lands at: its folder resolved when it is a binary folder.
    fn place(&self, path: &str) -> String {
        let Some((folder, name)) = path.rsplit_once('/') else {
            return path.to_string();
        };
        match self.resolved.iter().find(|(binary, _)| *binary == folder) {
            Some((_, real)) => format!("{real}/{name}"),
            None => path.to_string(),
        }
    }
}

/// The image as the update leaves it, as far as the reads so far show it; every path placed
/// through the binary folders' links.
struct After<'a> {
    /// The new packages' entries by where they land (the last package shipping a path wins).
    entries: BTreeMap<String, &'a PackageEntry>,
    /// Paths the update removes, placed.
    removed: BTreeSet<String>,
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
    fn new(
        request: &'a InstallRequest,
        removed: &BTreeSet<String>,
        folders: &Folders,
    ) -> After<'a> {
        After {
            entries: request
                .packages
                .iter()
                .flat_map(|package| package.entries.iter())
                .map(|entry| (folders.place(&entry.path), entry))
                .collect(),
            removed: removed.iter().map(|path| folders.place(path)).collect(),
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
    /// `Err(())` when the image's path is still to be read.
    fn link_target(&self, path: &str) -> Result<Option<String>, ()> {
        match self.state(path) {
            State::Packaged(entry) if entry.kind == FileKind::Symlink => {
                Ok(entry.link_target.clone())
            }
            State::Image(FileKind::Symlink) => match self.read.get(path) {
                Some(file) => Ok(file.link_target.clone()),
                None => Err(()),
            },
            State::Unknown => Err(()),
            _ => Ok(None),
        }
    }

    /// The path the package whose entry lands at `path` ships it at.
    fn shipped_at(&self, path: &str) -> String {
        self.entries
            .get(path)
            .map_or_else(|| path.to_string(), |entry| entry.path.clone())
    }

    /// The bytes of the regular file at `path` after the update: `Err(true)` when they are
    /// still to be read from a package (by the path it ships them at), `Err(false)` from the
    /// image.
    fn bytes(&self, path: &str) -> Result<Option<&'a [u8]>, bool> {
        match self.state(path) {
            State::Packaged(entry) if entry.kind == FileKind::File => self
                .packaged
                .get(entry.path.as_str())
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
    let mut reads = FileReads {
        image: Vec::new(),
        packaged: Vec::new(),
        statuses: Vec::new(),
    };
    let listed = BIN_FOLDERS
        .iter()
        .all(|folder| request.statuses.iter().any(|status| status.path == *folder));
    if !listed {
        for folder in BIN_FOLDERS {
            reads.statuses.push(folder.to_string());
            reads.statuses.push(format!("{folder}/*"));
            reads.image.push(folder.to_string());
        }
        if run.post_upgrade {
            reads.image.extend([PASSWD.to_string(), GROUP.to_string()]);
        }
        return Ok(Outcome::Read(reads));
    }
    let folders = folders(request)?;
    let after = After::new(request, removed, &folders);
    let [busybox, extras, bbsuid] =
        [BUSYBOX, BUSYBOX_EXTRAS, BBSUID].map(|path| folders.place(path));
    // The programs whose applets are linked, in the order the scripts run them.
    let mut programs: Vec<&str> = Vec::new();
    if run.post_upgrade {
        programs.push(&busybox);
    }
    if run.trigger == Some(true) {
        if after.kind(&bbsuid) != Some(FileKind::Missing) {
            return Err(unsupported(format!(
                "busybox's trigger would run {BBSUID} --install, which native installation does \
                 not reproduce"
            )));
        }
        if after.kind(&extras) != Some(FileKind::Missing) {
            programs.push(&extras);
        }
    }
    if run.trigger.is_some() && !programs.contains(&busybox.as_str()) {
        programs.push(&busybox);
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
            Err(true) => reads.packaged.push(after.shipped_at(program)),
            Err(false) => reads.image.push(program.to_string()),
        }
    }
    // Applets linked at `/` have no listed folder: their statuses are asked one by one.
    for (_, applets) in &tables {
        for applet in applets {
            let placed = folders.place(&applet.path);
            if after.kind(&placed).is_none() {
                reads.statuses.push(placed);
            }
        }
    }
    let mut links_read: Vec<String> = Vec::new();
    let mut removals: Vec<String> = Vec::new();
    let new_busybox = tables
        .iter()
        .find(|(program, _)| *program == busybox)
        .map(|(_, applets)| applets);
    if run.post_upgrade
        && let Some(applets) = new_busybox
    {
        check_klogd(&after)?;
        // `sort | uniq -u` keeps what only one of `find` (links, by the folder it was given)
        // and `busybox --list-all` (applets, by the table's folder) names; `stat` and `rm`
        // then reach each through the folder links.
        let listed: BTreeSet<&str> = applets.iter().map(|applet| applet.path.as_str()).collect();
        let found = links_in_bin_folders(&after, &folders);
        let found_set: BTreeSet<&str> = found.iter().map(String::as_str).collect();
        let once: Vec<&str> = found_set.symmetric_difference(&listed).copied().collect();
        for name in once {
            if name.contains(|c: char| c.is_whitespace() || "'\"\\".contains(c)) {
                return Err(unsupported(format!(
                    "busybox's post-upgrade would pass the link {name:?} through xargs, which \
                     splits its name"
                )));
            }
            let link = folders.place(name);
            match after.link_target(&link) {
                Ok(Some(target)) if target == BUSYBOX && !removals.contains(&link) => {
                    removals.push(link)
                }
                Ok(_) => {}
                Err(()) => links_read.push(link),
            }
        }
        for link in PING_LINKS.map(|path| folders.place(path)) {
            match after.link_target(&link) {
                Ok(Some(target)) if target == BBSUID => removals.push(link),
                Ok(_) => {}
                Err(()) => links_read.push(link),
            }
        }
    }
    reads.image.extend(links_read);
    if !(reads.image.is_empty() && reads.packaged.is_empty() && reads.statuses.is_empty()) {
        return Ok(Outcome::Read(reads));
    }
    if let Some(shipped) = removals
        .iter()
        .find(|path| after.entries.contains_key(*path))
    {
        return Err(unsupported(format!(
            "busybox's post-upgrade would remove {shipped}, a link the update itself installs; \
             native installation does not reproduce that"
        )));
    }
    let gone: BTreeSet<&str> = removals.iter().map(String::as_str).collect();
    let mut links: Vec<SymbolicLink> = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for (program, applets) in &tables {
        for applet in applets {
            let path = folders.place(&applet.path);
            let free = gone.contains(path.as_str()) || after.kind(&path) == Some(FileKind::Missing);
            let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
            let folder_exists =
                folder.is_empty() || after.kind(folder) == Some(FileKind::Directory);
            if free && folder_exists && taken.insert(path.clone()) {
                links.push(SymbolicLink {
                    path,
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

/// Where the binary folders really are: a folder that is a link must name another of them
/// that is a folder (`/bin` -> `usr/bin`).
fn folders(request: &InstallRequest) -> Result<Folders, NativeError> {
    let kind = |path: &str| {
        request
            .statuses
            .iter()
            .find(|status| status.path == path)
            .map_or(FileKind::Missing, |status| status.kind)
    };
    let mut resolved = Vec::new();
    for folder in BIN_FOLDERS {
        if kind(folder) != FileKind::Symlink {
            resolved.push((folder, folder.to_string()));
            continue;
        }
        let target = request
            .read
            .iter()
            .flatten()
            .find(|file| file.path == folder)
            .and_then(|file| file.link_target.clone())
            .unwrap_or_default();
        let absolute = if target.starts_with('/') {
            target.trim_end_matches('/').to_string()
        } else {
            format!("/{}", target.trim_start_matches("./").trim_end_matches('/'))
        };
        if !BIN_FOLDERS.contains(&absolute.as_str()) || kind(&absolute) != FileKind::Directory {
            return Err(NativeError::Unsupported(format!(
                "{folder} is a link to {target:?}, not to another of busybox's folders, where \
                 busybox's scripts are not reproduced"
            )));
        }
        resolved.push((folder, absolute));
    }
    Ok(Folders { resolved })
}

/// Every link the post-upgrade's `find bin sbin usr/bin usr/sbin -maxdepth 1 -type l` lists,
/// absolute: a folder that is a link itself (`find` does not follow it), the links in each
/// folder.
fn links_in_bin_folders(after: &After, folders: &Folders) -> Vec<String> {
    let mut links: Vec<String> = Vec::new();
    for (folder, real) in &folders.resolved {
        if folder != real {
            links.push(folder.to_string());
            continue;
        }
        let inside: BTreeSet<&str> = after
            .statuses
            .keys()
            .copied()
            .chain(after.entries.keys().map(String::as_str))
            .filter(|path| path.rsplit_once('/').map(|(parent, _)| parent) == Some(*folder))
            .collect();
        links.extend(
            inside
                .into_iter()
                .filter(|path| after.kind(path) == Some(FileKind::Symlink))
                .map(String::from),
        );
    }
    links
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
