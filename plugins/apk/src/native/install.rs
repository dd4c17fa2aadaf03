//! Installing apk packages as file operations, as apk-tools 2 commits an upgrade: the new
//! versions' files written (in protected folders, `/etc` by default, a file the image changed
//! is left and the new one written beside it as `.apk-new`), the old versions' files they no
//! longer ship removed (changed protected files kept), and the database rewritten:
//! `/lib/apk/db/installed` (sorted by name, each package's index fields, then its folders and
//! files with owners, modes and SHA-1s), `scripts.tar` (every installed package's scripts) and
//! `triggers`. The scripts, triggers and commit hooks apk would run are judged by
//! [`scripts::judge`] (busybox's reproduced by [`applet_links`], ca-certificates' trigger found
//! to change nothing by [`certificates`]); files another installed package owns are refused,
//! naming it.

use super::applet_links;
use super::certificates;
use super::scripts::{self, Judgement};
use super::stanza::{self, Stanza};
use super::tar::{self, Member};
use super::{PROTECTED_PATHS, SCRIPTS, TRIGGERS, WORLD, hex, text};
use crate::database::INSTALLED;
use base64::Engine as _;
use salve_plugin_sdk::{
    FileKind, FileReads, ImageFile, InstallRequest, InstallStep, NativeError, PackageCheck,
    UnpackedPackage, WrittenFile,
};
use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, BTreeSet};

/// apk's script types, in the order its scripts database lists them.
const SCRIPT_TYPES: [&str; 7] = [
    "pre-install",
    "post-install",
    "pre-deinstall",
    "post-deinstall",
    "pre-upgrade",
    "post-upgrade",
    "trigger",
];

/// apk's protected paths before `/etc/apk/protected_paths.d`.
const DEFAULT_PROTECTED: &str = "+etc\n@etc/init.d\n!etc/apk\n";

/// How the programs apk would run are judged ([`scripts::judge`]).
type Judge = fn(&InstallRequest, &[Stanza], &BTreeSet<&str>) -> Result<Judgement, NativeError>;

/// One round of installation: the protected files to compare first (and what busybox's scripts
/// read), then the operations.
pub fn install(request: &InstallRequest) -> Result<InstallStep, NativeError> {
    install_judged(request, scripts::judge)
}

/// [`install`], the scripts judged by `judge`.
fn install_judged(request: &InstallRequest, judge: Judge) -> Result<InstallStep, NativeError> {
    let failed = NativeError::Failed;
    let database = stanza::parse(
        &text(&request.files, INSTALLED).unwrap_or_default(),
        INSTALLED,
    )
    .map_err(failed)?;
    let replaced: BTreeSet<&str> = request
        .packages
        .iter()
        .filter(|package| package.download.replaces.is_some())
        .map(|package| package.download.name.as_str())
        .collect();
    let judgement = judge(request, &database, &replaced)?;
    let owners = owners(&database, &replaced);
    let new_paths: BTreeSet<String> = request
        .packages
        .iter()
        .flat_map(|package| package.entries.iter())
        .filter(|entry| entry.kind != FileKind::Directory)
        .map(|entry| entry.path.clone())
        .collect();
    for package in &request.packages {
        for entry in &package.entries {
            if entry.kind != FileKind::Directory
                && let Some(owner) = owners.get(entry.path.as_str())
            {
                return Err(failed(format!(
                    "{} {} would overwrite {}, which {owner} owns; apk refuses this too",
                    package.download.name, package.download.version, entry.path
                )));
            }
        }
    }
    let protected = Protection::new(request)?;
    let old_files: Vec<(String, Option<String>)> = database
        .iter()
        .filter(|stanza| replaced.contains(stanza.name()))
        .flat_map(owned_files)
        .collect();
    let recorded: BTreeMap<&str, Option<&str>> = old_files
        .iter()
        .map(|(path, sha1)| (path.as_str(), sha1.as_deref()))
        .collect();
    // The protected paths whose image content decides: new files, and old ones to remove.
    let to_compare: BTreeSet<String> = new_paths
        .iter()
        .chain(old_files.iter().map(|(path, _)| path))
        .filter(|path| protected.covers(path))
        .cloned()
        .collect();
    let busybox = judgement.busybox().then_some(applet_links::Run {
        post_upgrade: judgement.busybox_post_upgrade,
        trigger: judgement.busybox_trigger,
    });
    let Some(read) = &request.read else {
        let mut reads = FileReads {
            image: to_compare.into_iter().collect(),
            packaged: Vec::new(),
            statuses: Vec::new(),
        };
        if let Some(run) = busybox
            && let applet_links::Outcome::Read(more) =
                applet_links::reproduce(run, request, &BTreeSet::new())?
        {
            reads.image.extend(more.image);
            reads.packaged.extend(more.packaged);
            reads.statuses.extend(more.statuses);
        }
        return Ok(InstallStep::Read(reads));
    };
    let image_sha1 = |path: &str| -> Option<String> {
        let file = read.iter().find(|file| file.path == path)?;
        match file.kind {
            FileKind::File => Some(sha1_hex(file.content.as_deref().unwrap_or_default())),
            FileKind::Symlink => Some(sha1_hex(file.link_target.as_deref()?.as_bytes())),
            _ => None,
        }
    };
    let mut installation = salve_plugin_sdk::no_installation();
    for package in &request.packages {
        for entry in &package.entries {
            if entry.kind == FileKind::Directory || !to_compare.contains(&entry.path) {
                continue;
            }
            let Some(current) = image_sha1(&entry.path) else {
                continue;
            };
            let changed = recorded
                .get(entry.path.as_str())
                .copied()
                .flatten()
                .is_none_or(|recorded| recorded != current);
            if !changed {
                continue;
            }
            if entry_sha1(entry).as_deref() == Some(current.as_str()) {
                installation.kept.push(entry.path.clone());
            } else {
                let beside = format!("{}.apk-new", entry.path);
                installation.warnings.push(format!(
                    "{} was changed in the image: {} {}'s version is written beside it as {beside}",
                    entry.path, package.download.name, package.download.version
                ));
                installation.diverted.push((entry.path.clone(), beside));
            }
        }
    }
    for (path, sha1) in &old_files {
        if new_paths.contains(path) || owners.contains_key(path.as_str()) {
            continue;
        }
        if to_compare.contains(path) {
            let current = image_sha1(path);
            if current.is_some() && current.as_deref() != sha1.as_deref() {
                installation.warnings.push(format!(
                    "{path} was changed in the image and is no longer packaged: it is kept"
                ));
                continue;
            }
        }
        installation.removed.push(path.clone());
    }
    if let Some(run) = busybox {
        let removed: BTreeSet<String> = installation.removed.iter().cloned().collect();
        match applet_links::reproduce(run, request, &removed)? {
            applet_links::Outcome::Read(reads) => return Ok(InstallStep::Read(reads)),
            applet_links::Outcome::Done { links, removed } => {
                let linked: BTreeSet<&str> = links.iter().map(|link| link.path.as_str()).collect();
                installation
                    .removed
                    .retain(|path| !linked.contains(path.as_str()));
                installation.warnings.push(format!(
                    "busybox's scripts reproduced: {} applet links made, {} stale links removed",
                    links.len(),
                    removed.len()
                ));
                installation.removed.extend(removed);
                installation.links.extend(links);
            }
        }
    }
    if judgement.ca_certificates_trigger {
        let changed: BTreeSet<String> = new_paths
            .iter()
            .chain(&installation.removed)
            .chain(installation.links.iter().map(|link| &link.path))
            .cloned()
            .collect();
        match certificates::check(request, &changed)? {
            certificates::Outcome::Read(reads) => return Ok(InstallStep::Read(reads)),
            certificates::Outcome::Unchanged(note) => installation.warnings.push(note),
        }
    }
    installation.warnings.extend(judgement.warnings);
    let world = text(&request.files, WORLD).unwrap_or_default();
    let pins = super::repositories::pins(&world).map_err(failed)?;
    let mut blocks: Vec<(String, String, String)> = database
        .iter()
        .filter(|stanza| !replaced.contains(stanza.name()))
        .map(|stanza| {
            (
                stanza.name().to_string(),
                stanza.version().to_string(),
                stanza_text(stanza),
            )
        })
        .collect();
    for package in &request.packages {
        blocks.push((
            package.download.name.clone(),
            package.download.version.clone(),
            installed_block(package, pins.get(&package.download.name))?,
        ));
    }
    blocks.sort_by(|a, b| {
        a.0.to_ascii_lowercase()
            .cmp(&b.0.to_ascii_lowercase())
            .then(a.0.cmp(&b.0))
            .then(crate::version::compare(&a.1, &b.1))
    });
    let database_text: String = blocks.into_iter().map(|(_, _, block)| block).collect();
    installation
        .files
        .push(written(INSTALLED, database_text.into_bytes()));
    let replaced_identities: BTreeSet<&str> = database
        .iter()
        .filter(|stanza| replaced.contains(stanza.name()))
        .filter_map(|stanza| stanza.get('C'))
        .collect();
    if let Some(scripts) = scripts_database(request, &replaced_identities)? {
        installation.files.push(written(SCRIPTS, scripts));
    }
    let triggers = text(&request.files, TRIGGERS).unwrap_or_default();
    let mut kept: String = triggers
        .lines()
        .filter(|line| {
            !replaced_identities.contains(line.split_whitespace().next().unwrap_or_default())
        })
        .map(|line| format!("{line}\n"))
        .collect();
    for package in &request.packages {
        let patterns = scripts::new_triggers(package);
        if let (false, PackageCheck::Apk(control_sha1)) =
            (patterns.is_empty(), &package.download.check)
        {
            kept.push_str(&format!(
                "{} {}\n",
                identity_of(control_sha1),
                patterns.join(" ")
            ));
        }
    }
    if kept != triggers {
        installation
            .files
            .push(written(TRIGGERS, kept.into_bytes()));
    }
    Ok(InstallStep::Done(installation))
}

/// A database file written whole.
fn written(path: &str, content: Vec<u8>) -> WrittenFile {
    WrittenFile {
        path: path.to_string(),
        content,
        mode: 0o644,
    }
}

/// `fnmatch` with `FNM_PATHNAME`: `*` and `?` stay within a path segment.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    fn matches(pattern: &[u8], path: &[u8]) -> bool {
        match (pattern.first(), path.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                matches(&pattern[1..], path)
                    || (path.first().is_some_and(|byte| *byte != b'/')
                        && matches(pattern, &path[1..]))
            }
            (Some(b'?'), Some(byte)) if *byte != b'/' => matches(&pattern[1..], &path[1..]),
            (Some(expected), Some(byte)) if expected == byte => matches(&pattern[1..], &path[1..]),
            _ => false,
        }
    }
    matches(pattern.as_bytes(), path.as_bytes())
}

/// Every file installed packages other than the replaced ones own, with its owner.
fn owners(database: &[Stanza], replaced: &BTreeSet<&str>) -> BTreeMap<String, String> {
    database
        .iter()
        .filter(|stanza| !replaced.contains(stanza.name()))
        .flat_map(|stanza| {
            owned_files(stanza)
                .into_iter()
                .map(move |(path, _)| (path, format!("{} {}", stanza.name(), stanza.version())))
        })
        .collect()
}

/// The files a database stanza owns (absolute paths), each with its recorded SHA-1 (hex).
pub fn owned_files(stanza: &Stanza) -> Vec<(String, Option<String>)> {
    let mut files: Vec<(String, Option<String>)> = Vec::new();
    let mut folder = String::new();
    for (key, value) in &stanza.fields {
        match key {
            'F' => folder = value.clone(),
            'R' if folder.is_empty() => files.push((format!("/{value}"), None)),
            'R' => files.push((format!("/{folder}/{value}"), None)),
            'Z' => {
                if let Some(last) = files.last_mut() {
                    last.1 = decode_identity(value);
                }
            }
            _ => {}
        }
    }
    files
}

/// The folders a database stanza owns, rooted (`/usr/bin`).
pub fn owned_folders(stanza: &Stanza) -> Vec<String> {
    stanza
        .fields
        .iter()
        .filter(|(key, value)| *key == 'F' && !value.is_empty())
        .map(|(_, value)| format!("/{value}"))
        .collect()
}

/// The hex SHA-1 of a `Q1` checksum.
fn decode_identity(value: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.strip_prefix("Q1")?)
        .ok()?;
    Some(hex(&bytes))
}

/// A `Q1` checksum of a hex SHA-1.
fn identity_of(sha1_hex: &str) -> String {
    let bytes: Vec<u8> = (0..sha1_hex.len() / 2)
        .filter_map(|at| u8::from_str_radix(&sha1_hex[at * 2..at * 2 + 2], 16).ok())
        .collect();
    format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The SHA-1 (hex) of bytes.
fn sha1_hex(bytes: &[u8]) -> String {
    hex(&Sha1::digest(bytes))
}

/// The SHA-1 apk records for a package entry: a file's bytes', a link's target's.
fn entry_sha1(entry: &salve_plugin_sdk::PackageEntry) -> Option<String> {
    match entry.kind {
        FileKind::Symlink => entry
            .link_target
            .as_deref()
            .map(|target| sha1_hex(target.as_bytes())),
        _ => entry.sha1.clone(),
    }
}

/// A stanza as the database writes it, with its blank line.
fn stanza_text(stanza: &Stanza) -> String {
    let mut text: String = stanza
        .fields
        .iter()
        .map(|(key, value)| format!("{key}:{value}\n"))
        .collect();
    text.push('\n');
    text
}

/// The `key = value` lines of a `.PKGINFO`.
pub fn package_info(package: &UnpackedPackage) -> Result<Vec<(String, String)>, NativeError> {
    let info = package
        .control
        .iter()
        .find(|member| member.path == ".PKGINFO")
        .and_then(|member| member.content.as_deref())
        .ok_or_else(|| {
            NativeError::Failed(format!(
                "{} {} has no .PKGINFO",
                package.download.name, package.download.version
            ))
        })?;
    Ok(String::from_utf8_lossy(info)
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect())
}

/// A new package's block of the installed database (`apk_db_write_fdb`).
fn installed_block(package: &UnpackedPackage, tag: Option<&String>) -> Result<String, NativeError> {
    let info = package_info(package)?;
    let one = |key: &str| {
        info.iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    let all = |key: &str| {
        info.iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let PackageCheck::Apk(control_sha1) = &package.download.check else {
        return Err(NativeError::Failed(format!(
            "{} was not checked as an apk package",
            package.download.name
        )));
    };
    let mut lines = vec![
        format!("C:{}", identity_of(control_sha1)),
        format!("P:{}", package.download.name),
        format!("V:{}", package.download.version),
    ];
    if let Some(arch) = one("arch") {
        lines.push(format!("A:{arch}"));
    }
    lines.push(format!("S:{}", package.download.size));
    lines.push(format!("I:{}", one("size").unwrap_or("0")));
    lines.push(format!("T:{}", one("pkgdesc").unwrap_or_default()));
    lines.push(format!("U:{}", one("url").unwrap_or_default()));
    lines.push(format!("L:{}", one("license").unwrap_or_default()));
    for (key, field) in [
        ("origin", 'o'),
        ("maintainer", 'm'),
        ("builddate", 't'),
        ("commit", 'c'),
    ] {
        if let Some(value) = one(key).filter(|value| !value.is_empty() && *value != "0") {
            lines.push(format!("{field}:{value}"));
        }
    }
    if let Some(priority) = one("provider_priority").filter(|value| *value != "0") {
        lines.push(format!("k:{priority}"));
    }
    for (key, field) in [
        ("depend", 'D'),
        ("provides", 'p'),
        ("install_if", 'i'),
        ("replaces", 'r'),
    ] {
        let values = all(key);
        if !values.is_empty() {
            lines.push(format!("{field}:{values}"));
        }
    }
    if let Some(priority) = one("replaces_priority").filter(|value| *value != "0") {
        lines.push(format!("q:{priority}"));
    }
    if let Some(tag) = tag {
        lines.push(format!("s:{tag}"));
    }
    lines.extend(file_lines(package)?);
    Ok(lines.join("\n") + "\n\n")
}

/// A package's folders and files as the database lists them: each folder (`F:`, with `M:` when
/// not root's 0755) followed by its files (`R:`, `a:` when not root's 0644, `Z:`), folders in
/// the order the archive first names them.
fn file_lines(package: &UnpackedPackage) -> Result<Vec<String>, NativeError> {
    let mut folders: Vec<(String, Option<String>, Vec<String>)> = Vec::new();
    let folder_at = |folders: &mut Vec<(String, Option<String>, Vec<String>)>, name: &str| {
        folders
            .iter()
            .position(|(folder, _, _)| folder == name)
            .unwrap_or_else(|| {
                folders.push((name.to_string(), None, Vec::new()));
                folders.len() - 1
            })
    };
    for entry in &package.entries {
        let relative = entry.path.trim_start_matches('/');
        if relative.is_empty() {
            continue;
        }
        let acl = |default: u32| {
            (entry.mode != default || entry.uid != 0 || entry.gid != 0)
                .then(|| format!("{}:{}:{:o}", entry.uid, entry.gid, entry.mode))
        };
        if entry.kind == FileKind::Directory {
            let at = folder_at(&mut folders, relative);
            folders[at].1 = acl(0o755).map(|acl| format!("M:{acl}"));
            continue;
        }
        let (folder, name) = relative.rsplit_once('/').unwrap_or(("", relative));
        let at = folder_at(&mut folders, folder);
        let mut lines = vec![format!("R:{name}")];
        if let Some(acl) = acl(0o644) {
            lines.push(format!("a:{acl}"));
        }
        let sha1 = entry_sha1(entry).ok_or_else(|| {
            NativeError::Failed(format!(
                "{} {}: the host gave no SHA-1 for {}",
                package.download.name, package.download.version, entry.path
            ))
        })?;
        lines.push(format!("Z:{}", identity_of(&sha1)));
        folders[at].2.extend(lines);
    }
    Ok(folders
        .into_iter()
        .flat_map(|(folder, acl, files)| {
            std::iter::once(format!("F:{folder}"))
                .chain(acl)
                .chain(files)
        })
        .collect())
}

/// The installed packages' scripts (`scripts.tar`'s members); none when the image has no such
/// database.
pub fn installed_scripts(files: &[ImageFile]) -> Result<Vec<Member>, NativeError> {
    match files
        .iter()
        .find(|file| file.path == SCRIPTS && file.kind == FileKind::File)
        .and_then(|file| file.content.as_deref())
    {
        Some(bytes) => {
            tar::read(bytes).map_err(|error| NativeError::Failed(format!("{SCRIPTS}: {error}")))
        }
        None => Ok(Vec::new()),
    }
}

/// The scripts database after the update: the replaced packages' scripts dropped, the new
/// packages' appended (each package's in apk's type order); none when nothing changes.
fn scripts_database(
    request: &InstallRequest,
    replaced_identities: &BTreeSet<&str>,
) -> Result<Option<Vec<u8>>, NativeError> {
    let mut members = installed_scripts(&request.files)?;
    let before = members.len();
    members.retain(|member| {
        !replaced_identities
            .iter()
            .any(|identity| member.name.contains(&format!(".{identity}.")))
    });
    let mut added = false;
    for package in &request.packages {
        let PackageCheck::Apk(control_sha1) = &package.download.check else {
            continue;
        };
        let info = package_info(package)?;
        let built = info
            .iter()
            .find(|(key, _)| key == "builddate")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        for script in SCRIPT_TYPES {
            if let Some(content) = package
                .control
                .iter()
                .find(|member| member.path == format!(".{script}"))
                .and_then(|member| member.content.clone())
            {
                members.push(Member {
                    name: format!(
                        "{}-{}.{}.{script}",
                        package.download.name,
                        package.download.version,
                        identity_of(control_sha1)
                    ),
                    mtime: built,
                    content,
                });
                added = true;
            }
        }
    }
    Ok((added || members.len() != before).then(|| tar::write(&members)))
}

/// Which folders apk protects: its defaults, then `/etc/apk/protected_paths.d/*.list`, each
/// pattern (`+`, `@`, `!` protect; `-` does not) matched segment by segment, a folder taking its
/// parent's protection unless a pattern of its own depth names it.
struct Protection {
    /// (protects, pattern segments), in order.
    rules: Vec<(bool, Vec<String>)>,
}

impl Protection {
    fn new(request: &InstallRequest) -> Result<Protection, NativeError> {
        let mut lists: Vec<&ImageFile> = request
            .files
            .iter()
            .filter(|file| {
                file.kind == FileKind::File
                    && file.path.starts_with(&format!("{PROTECTED_PATHS}/"))
                    && file.path.ends_with(".list")
            })
            .collect();
        lists.sort_by(|a, b| a.path.cmp(&b.path));
        let mut text = DEFAULT_PROTECTED.to_string();
        for list in lists {
            text.push_str(&String::from_utf8_lossy(
                list.content.as_deref().unwrap_or_default(),
            ));
            text.push('\n');
        }
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (protects, pattern) = match line.as_bytes()[0] {
                b'-' => (false, &line[1..]),
                b'+' | b'@' | b'!' => (true, &line[1..]),
                _ => (true, line),
            };
            let segments: Vec<String> = pattern
                .trim_matches('/')
                .split('/')
                .map(String::from)
                .collect();
            rules.push((protects, segments));
        }
        Ok(Protection { rules })
    }

    /// Whether the file at `path` is in a protected folder.
    fn covers(&self, path: &str) -> bool {
        let Some((folder, _)) = path.trim_start_matches('/').rsplit_once('/') else {
            return false;
        };
        let segments: Vec<&str> = folder.split('/').collect();
        let mut protected = false;
        for depth in 1..=segments.len() {
            for (protects, pattern) in &self.rules {
                if pattern.len() == depth
                    && pattern
                        .iter()
                        .zip(&segments[..depth])
                        .all(|(pattern, segment)| glob_matches(pattern, segment))
                {
                    protected = *protects;
                }
            }
        }
        protected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{download, entry, file, os, platform, target, unpacked};
    use salve_plugin_sdk::{PackageDownload, PackageEntry};

    /// A database in apk-tools' own layout: providers with priorities, replaces, folders with
    /// their owners and modes (sticky, group-readable), links.
    const DATABASE: &str = "C:Q1pcfTfDNEbNKQc2s1tia7da05M8Q=\nP:busybox-binsh\nV:1.37.0-r12\n\
A:x86_64\nS:1543\nI:8192\nT:busybox ash /bin/sh\nU:https://busybox.net/\nL:GPL-2.0-only\n\
o:busybox\nt:1699383189\nk:100\nD:busybox=1.37.0-r12\np:/bin/sh cmd:sh=1.37.0-r12\n\
r:busybox-initscripts\nF:bin\nR:sh\na:0:0:777\nZ:Q1pcfTfDNEbNKQc2s1tia7da05M8Q=\n\n\
C:Q1myMNfd7u5v5UTgNHeq1e31qTjZU=\nP:demo\nV:1-r0\nA:x86_64\nS:1\nI:1\nT:demo\nU:\nL:MIT\n\
F:etc\nR:demo.conf\nZ:Q11Q7hNe8QpDS531guqCdrXBzoA/o=\nR:shadow\na:0:42:640\n\
Z:Q1ltrPIAW2zHeDiajsex2Bdmq3uqA=\nF:tmp\nM:0:0:1777\nF:usr/bin\nR:demo\na:0:0:755\n\
Z:Q1YeuSmC7iDbEWrusPzA/zUQF6YSg=\n\n";

    #[test]
    fn database_stanzas_are_written_back_as_read_and_list_their_files() {
        let stanzas = stanza::parse(DATABASE, INSTALLED).unwrap();
        let written: String = stanzas.iter().map(stanza_text).collect();
        assert_eq!(written, DATABASE);
        let files = owned_files(&stanzas[1]);
        let paths: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, ["/etc/demo.conf", "/etc/shadow", "/usr/bin/demo"]);
        assert_eq!(
            files[0].1.as_deref(),
            Some("d50ee135ef10a434b9df582ea8276b5c1ce803fa")
        );
        assert_eq!(
            identity_of(files[0].1.as_deref().unwrap()),
            "Q11Q7hNe8QpDS531guqCdrXBzoA/o="
        );
    }

    #[test]
    fn protection_follows_apk_defaults_and_lists() {
        let mut request = request(Vec::new(), None);
        let protection = Protection::new(&request).unwrap();
        assert!(protection.covers("/etc/demo.conf"));
        assert!(protection.covers("/etc/init.d/demo"));
        assert!(protection.covers("/etc/apk/world"));
        assert!(!protection.covers("/usr/bin/demo"));
        assert!(!protection.covers("/etcetera/x"));
        request.files.push(file(
            &format!("{PROTECTED_PATHS}/demo.list"),
            "-etc/demo\n+usr/share/demo*\n",
        ));
        let protection = Protection::new(&request).unwrap();
        assert!(!protection.covers("/etc/demo/a.conf"));
        assert!(protection.covers("/usr/share/demo-data/x"));
        assert!(glob_matches("usr/share/fonts/*", "usr/share/fonts/misc"));
        assert!(!glob_matches("usr/share/fonts/*", "usr/share/fonts/misc/x"));
    }

    fn upgraded(scripts: &[&str]) -> UnpackedPackage {
        let mut package = unpacked(PackageDownload {
            check: PackageCheck::Apk("00".repeat(20)),
            ..download("demo", "2-r0", Some("1-r0"))
        });
        package
            .control
            .push(file(".PKGINFO", "pkgname = demo\nbuilddate = 7\n"));
        for script in scripts {
            package
                .control
                .push(file(&format!(".{script}"), "#!/bin/sh\n"));
        }
        package.entries = vec![
            entry("/usr", FileKind::Directory),
            PackageEntry {
                sha1: Some("11".repeat(20)),
                mode: 0o755,
                ..entry("/usr/bin/demo", FileKind::File)
            },
        ];
        package
    }

    fn request(packages: Vec<UnpackedPackage>, read: Option<Vec<ImageFile>>) -> InstallRequest {
        InstallRequest {
            os: os("alpine", "3.22.2"),
            platform: platform("amd64"),
            target: target("apk"),
            updates: Vec::new(),
            files: vec![file(INSTALLED, DATABASE)],
            read,
            packages,
            packaged: Vec::new(),
            statuses: Vec::new(),
        }
    }

    #[test]
    fn scripts_apk_would_run_are_refused_by_name_and_the_others_kept() {
        let error = install(&request(
            vec![upgraded(&["post-upgrade"])],
            Some(Vec::new()),
        ));
        assert!(matches!(error, Err(NativeError::Unsupported(message))
            if message.contains("demo 2-r0 has a .post-upgrade script")));
        let Ok(InstallStep::Done(installation)) = install(&request(
            vec![upgraded(&["post-install", "pre-deinstall"])],
            Some(Vec::new()),
        )) else {
            panic!("post-install does not run on an upgrade");
        };
        let scripts = installation
            .files
            .iter()
            .find(|file| file.path == SCRIPTS)
            .unwrap();
        let names: Vec<String> = tar::read(&scripts.content)
            .unwrap()
            .into_iter()
            .map(|member| member.name)
            .collect();
        let identity = identity_of(&"00".repeat(20));
        assert_eq!(
            names,
            [
                format!("demo-2-r0.{identity}.post-install"),
                format!("demo-2-r0.{identity}.pre-deinstall")
            ]
        );
        let database = &installation.files[0];
        let text = String::from_utf8_lossy(&database.content);
        assert!(text.contains("P:demo\nV:2-r0\n"), "{text}");
        assert!(
            text.contains("F:usr\nF:usr/bin\nR:demo\na:0:0:755\n"),
            "{text}"
        );
        // 1-r0's files 2-r0 no longer ships are removed; the other package's are not.
        assert_eq!(installation.removed, ["/etc/demo.conf", "/etc/shadow"]);
    }

    #[test]
    fn triggers_watching_changed_folders_and_files_of_other_packages_are_refused() {
        let mut watched = request(vec![upgraded(&[])], Some(Vec::new()));
        watched.files.push(file(
            TRIGGERS,
            "Q1pcfTfDNEbNKQc2s1tia7da05M8Q= /usr/bin /sbin\n",
        ));
        let error = install(&watched);
        assert!(matches!(error, Err(NativeError::Unsupported(message))
            if message.contains("busybox-binsh 1.37.0-r12's trigger watches /usr/bin")));
        let mut clash = upgraded(&[]);
        clash.entries.push(PackageEntry {
            sha1: Some("22".repeat(20)),
            ..entry("/bin/sh", FileKind::File)
        });
        let error = install(&request(vec![clash], Some(Vec::new())));
        assert!(matches!(error, Err(NativeError::Failed(message))
            if message.contains("/bin/sh, which busybox-binsh 1.37.0-r12 owns")));
    }

    /// An image's paths for the reads a test answers: (path, kind, link target or content).
    type Image = Vec<(String, FileKind, Vec<u8>)>;

    /// One path of an [`Image`].
    fn at(path: &str, kind: FileKind, value: impl AsRef<[u8]>) -> (String, FileKind, Vec<u8>) {
        (path.to_string(), kind, value.as_ref().to_vec())
    }

    /// Answers `reads` as the host would, from `image` and the packages' files `packaged`.
    fn answer(
        request: &mut InstallRequest,
        reads: FileReads,
        image: &Image,
        packaged: &[(&str, Vec<u8>)],
    ) {
        let image_file = |path: &str| match image.iter().find(|(at, _, _)| at == path) {
            Some((_, kind, value)) => ImageFile {
                path: path.to_string(),
                kind: *kind,
                content: (*kind == FileKind::File).then(|| value.clone()),
                link_target: (*kind == FileKind::Symlink)
                    .then(|| String::from_utf8_lossy(value).into_owned()),
            },
            None => salve_plugin_sdk::testing::missing(path),
        };
        let status = |path: &str, kind: FileKind| salve_plugin_sdk::PathStatus {
            path: path.to_string(),
            kind,
            mode: 0o755,
            uid: 0,
            gid: 0,
        };
        let mut read = request.read.take().unwrap_or_default();
        read.extend(reads.image.iter().map(|path| image_file(path)));
        request.read = Some(read);
        for asked in reads.statuses {
            match asked.strip_suffix("/*") {
                Some(folder) => request.statuses.extend(
                    image
                        .iter()
                        .filter(|(path, _, _)| {
                            path.rsplit_once('/').map(|(parent, _)| parent) == Some(folder)
                        })
                        .map(|(path, kind, _)| status(path, *kind)),
                ),
                None => {
                    let kind = image_file(&asked).kind;
                    request.statuses.push(status(&asked, kind));
                }
            }
        }
        for path in reads.packaged {
            request
                .packaged
                .push(match packaged.iter().find(|(at, _)| *at == path) {
                    Some((_, bytes)) => ImageFile {
                        content: Some(bytes.clone()),
                        ..file(&path, "")
                    },
                    None => salve_plugin_sdk::testing::missing(&path),
                });
        }
    }

    /// Rounds of installation answered from `image` until it is done.
    fn install_rounds(
        mut request: InstallRequest,
        image: &Image,
        packaged: &[(&str, Vec<u8>)],
        judge: Judge,
    ) -> Result<salve_plugin_sdk::Installation, NativeError> {
        for _ in 0..6 {
            match install_judged(&request, judge)? {
                InstallStep::Done(installation) => return Ok(installation),
                InstallStep::Read(reads) => answer(&mut request, reads, image, packaged),
            }
        }
        panic!("installation kept asking for reads");
    }

    /// An installation's links, path to target.
    fn links_of(installation: &salve_plugin_sdk::Installation) -> BTreeMap<&str, &str> {
        installation
            .links
            .iter()
            .map(|link| (link.path.as_str(), link.target.as_str()))
            .collect()
    }

    /// busybox 1.36.1-r0 installed, with its applets linked.
    const BUSYBOX_STANZA: &str = "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:busybox\nV:1.36.1-r0\n\
A:x86_64\nS:1\nI:1\nT:busybox\nU:\nL:GPL-2.0-only\nF:bin\nR:busybox\na:0:0:755\n\
Z:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nF:sbin\nF:usr\nF:usr/bin\nF:usr/sbin\n\n";

    /// An image with busybox's folders and links (one stale, one to bbsuid, one elsewhere).
    fn busybox_image() -> Image {
        vec![
            at("/bin", FileKind::Directory, ""),
            at("/sbin", FileKind::Directory, ""),
            at("/usr/bin", FileKind::Directory, ""),
            at("/usr/sbin", FileKind::Directory, ""),
            at("/bin/busybox", FileKind::File, "old"),
            at("/bin/sh", FileKind::Symlink, "/bin/busybox"),
            at("/bin/ls", FileKind::Symlink, "/bin/busybox"),
            at("/bin/retired", FileKind::Symlink, "/bin/busybox"),
            at("/bin/ping", FileKind::Symlink, "/bin/bbsuid"),
            at("/usr/bin/mine", FileKind::Symlink, "/opt/mine"),
            at("/usr/bin/awk", FileKind::File, "gawk"),
            at(
                "/etc/passwd",
                FileKind::File,
                "root:x:0:0::/root:/bin/sh\nklogd:x:100:101::/dev/null:/sbin/nologin\n",
            ),
            at(
                "/etc/group",
                FileKind::File,
                "root:x:0:\nklogd:x:101:klogd\n",
            ),
        ]
    }

    /// busybox upgraded to 1.37.0-r0, with a trigger.
    fn busybox_upgrade() -> InstallRequest {
        let mut package = unpacked(PackageDownload {
            check: PackageCheck::Apk("00".repeat(20)),
            ..download("busybox", "1.37.0-r0", Some("1.36.1-r0"))
        });
        package.control.push(file(
            ".PKGINFO",
            "pkgname = busybox\ntriggers = /bin /usr/bin /sbin /usr/sbin /lib/modules/*\n",
        ));
        package.entries = vec![
            entry("/bin", FileKind::Directory),
            PackageEntry {
                sha1: Some("33".repeat(20)),
                mode: 0o755,
                ..entry("/bin/busybox", FileKind::File)
            },
        ];
        let mut request = request(vec![package], None);
        request.files[0] = file(INSTALLED, format!("{DATABASE}{BUSYBOX_STANZA}"));
        request
    }

    /// What judging finds for a busybox upgrade with salve's reviewed scripts.
    fn busybox_scripts(
        _: &InstallRequest,
        _: &[Stanza],
        _: &BTreeSet<&str>,
    ) -> Result<Judgement, NativeError> {
        Ok(Judgement {
            busybox_post_upgrade: true,
            busybox_trigger: Some(true),
            ..Judgement::default()
        })
    }

    #[test]
    fn a_busybox_upgrade_links_its_new_applets_and_removes_the_links_no_applet_has() {
        let binary = super::super::busybox::testing::busybox(&[]);
        let installation = install_rounds(
            busybox_upgrade(),
            &busybox_image(),
            &[("/bin/busybox", binary)],
            busybox_scripts,
        )
        .unwrap();
        let links = links_of(&installation);
        assert_eq!(links.get("/bin/cat"), Some(&"/bin/busybox"));
        assert_eq!(links.get("/usr/bin/["), Some(&"/bin/busybox"));
        assert_eq!(links.get("/usr/sbin/chroot"), Some(&"/bin/busybox"));
        assert_eq!(links.get("/sbin/ifconfig"), Some(&"/bin/busybox"));
        // What exists stays: links, another package's file.
        for kept in ["/bin/sh", "/bin/ls", "/usr/bin/awk"] {
            assert!(!links.contains_key(kept), "{kept} was linked again");
        }
        assert_eq!(links.len(), busybox_applet_count() - 3);
        assert!(installation.removed.contains(&"/bin/retired".to_string()));
        assert!(installation.removed.contains(&"/bin/ping".to_string()));
        assert!(!installation.removed.contains(&"/usr/bin/mine".to_string()));
        assert!(
            installation
                .warnings
                .iter()
                .any(|warning| warning.contains("busybox's scripts reproduced"))
        );
        let triggers = installation
            .files
            .iter()
            .find(|file| file.path == TRIGGERS)
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&triggers.content),
            format!(
                "{} /bin /usr/bin /sbin /usr/sbin /lib/modules/*\n",
                identity_of(&"00".repeat(20))
            )
        );
    }

    fn busybox_applet_count() -> usize {
        super::super::busybox::testing::with_anchors(&[]).len()
    }

    #[test]
    fn busybox_scripts_are_refused_where_their_effect_is_not_reproduced() {
        let binary = super::super::busybox::testing::busybox(&[]);
        let refusal = |image: Image, packaged: &[(&str, Vec<u8>)]| match install_rounds(
            busybox_upgrade(),
            &image,
            packaged,
            busybox_scripts,
        ) {
            Err(NativeError::Unsupported(message)) => message,
            other => panic!("not refused: {other:?}"),
        };
        let packaged = [("/bin/busybox", binary.clone())];
        let mut no_klogd = busybox_image();
        no_klogd.retain(|(path, _, _)| path != "/etc/group");
        assert!(refusal(no_klogd, &packaged).contains("add the klogd group"));
        let mut merged = busybox_image();
        merged[2] = at("/usr/bin", FileKind::Symlink, "../bin");
        assert!(refusal(merged, &packaged).contains("/usr/bin is a link"));
        let mut suid = busybox_image();
        suid.push(at("/bin/bbsuid", FileKind::File, "suid"));
        assert!(refusal(suid, &packaged).contains("/bin/bbsuid --install"));
        let unreadable = [("/bin/busybox", b"not busybox".to_vec())];
        assert!(refusal(busybox_image(), &unreadable).contains("cannot be read from it"));
        let mut odd_name = busybox_image();
        odd_name.push(at("/bin/two words", FileKind::Symlink, "/bin/busybox"));
        assert!(refusal(odd_name, &packaged).contains("xargs"));
    }

    #[test]
    fn busybox_trigger_alone_links_free_applet_paths_extras_first_and_removes_nothing() {
        // demo 1-r0 shipped /usr/bin/demo; 2-r0 ships /usr/bin/demo2 instead, and `demo` is an
        // applet of busybox-extras and of busybox.
        let mut package = upgraded(&[]);
        package.entries[1].path = "/usr/bin/demo2".into();
        let request = request(vec![package], None);
        let mut image = busybox_image();
        image.push(at("/usr/bin/demo", FileKind::File, "demo 1"));
        let extras = super::super::busybox::testing::binary(&[
            ("[", 3),
            ("ash", 1),
            ("awk", 3),
            ("cat", 1),
            ("chroot", 4),
            ("cp", 1),
            ("demo", 3),
            ("env", 3),
            ("ifconfig", 2),
            ("ls", 1),
            ("telnet", 3),
            ("x00", 3),
            ("x01", 3),
            ("x02", 3),
            ("x03", 3),
            ("x04", 3),
            ("x05", 3),
            ("x06", 3),
            ("x07", 3),
            ("x08", 3),
            ("x09", 3),
            ("x10", 3),
            ("x11", 3),
            ("x12", 3),
            ("x13", 3),
            ("x14", 3),
            ("x15", 3),
            ("x16", 3),
            ("x17", 3),
            ("x18", 3),
            ("x19", 3),
            ("x20", 3),
        ]);
        image.push(at("/bin/busybox-extras", FileKind::File, extras));
        image[4] = at(
            "/bin/busybox",
            FileKind::File,
            super::super::busybox::testing::busybox(&[("demo", 3)]),
        );
        let trigger_only = |_: &InstallRequest,
                            _: &[Stanza],
                            _: &BTreeSet<&str>|
         -> Result<Judgement, NativeError> {
            Ok(Judgement {
                busybox_post_upgrade: false,
                busybox_trigger: Some(true),
                ..Judgement::default()
            })
        };
        let installation = install_rounds(request, &image, &[], trigger_only).unwrap();
        let links = links_of(&installation);
        assert_eq!(links.get("/usr/bin/demo"), Some(&"/bin/busybox-extras"));
        assert_eq!(links.get("/usr/bin/telnet"), Some(&"/bin/busybox-extras"));
        assert_eq!(links.get("/usr/bin/["), Some(&"/bin/busybox-extras"));
        assert_eq!(links.get("/usr/bin/[["), Some(&"/bin/busybox"));
        assert!(!installation.removed.contains(&"/usr/bin/demo".to_string()));
        assert!(!installation.removed.contains(&"/bin/retired".to_string()));
        assert!(!installation.removed.contains(&"/bin/ping".to_string()));
    }

    #[test]
    fn on_a_merged_usr_layout_applets_land_through_the_folder_links_and_point_at_the_real_path() {
        let mut request = busybox_upgrade();
        request.packages[0].entries = vec![
            entry("/usr/bin", FileKind::Directory),
            PackageEntry {
                sha1: Some("33".repeat(20)),
                mode: 0o755,
                ..entry("/usr/bin/busybox", FileKind::File)
            },
        ];
        let image: Image = vec![
            at("/bin", FileKind::Symlink, "usr/bin"),
            at("/sbin", FileKind::Symlink, "usr/sbin"),
            at("/usr/bin", FileKind::Directory, ""),
            at("/usr/sbin", FileKind::Directory, ""),
            at("/usr/bin/busybox", FileKind::File, "old"),
            // Moved by the merge with its old target, and linked since.
            at("/usr/bin/ls", FileKind::Symlink, "/bin/busybox"),
            at("/usr/bin/cp", FileKind::Symlink, "/usr/bin/busybox"),
            at("/usr/bin/retired", FileKind::Symlink, "/bin/busybox"),
            at("/linuxrc", FileKind::Symlink, "/bin/busybox"),
            at(
                "/etc/passwd",
                FileKind::File,
                "klogd:x:100:101::/dev/null:/sbin/nologin\n",
            ),
            at("/etc/group", FileKind::File, "klogd:x:101:klogd\n"),
        ];
        let binary = super::super::busybox::testing::busybox(&[("linuxrc", 0)]);
        let installation = install_rounds(
            request,
            &image,
            &[("/usr/bin/busybox", binary)],
            busybox_scripts,
        )
        .unwrap();
        let links = links_of(&installation);
        // An applet at / is named alike by both: `stat` finds its link to /bin/busybox.
        assert_eq!(links.get("/linuxrc"), Some(&"/usr/bin/busybox"));
        assert!(
            links
                .keys()
                .all(|path| path.starts_with("/usr/") || *path == "/linuxrc"),
            "{links:?}"
        );
        assert!(links.values().all(|target| *target == "/usr/bin/busybox"));
        // `find` lists /usr/bin/ls, which `--list-all` names bin/ls: removed, then linked again.
        assert_eq!(links.get("/usr/bin/ls"), Some(&"/usr/bin/busybox"));
        assert_eq!(links.get("/usr/sbin/ifconfig"), Some(&"/usr/bin/busybox"));
        assert_eq!(links.get("/usr/sbin/chroot"), Some(&"/usr/bin/busybox"));
        assert!(!links.contains_key("/usr/bin/cp"));
        assert!(
            installation
                .removed
                .contains(&"/usr/bin/retired".to_string())
        );
        assert!(!installation.removed.contains(&"/usr/bin/ls".to_string()));
    }
}
