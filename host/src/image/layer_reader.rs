//! Reading chosen paths from an image's layers without unpacking the image.
//!
//! Layers are read from the top one down, as a merged view sees them: the first layer that has a
//! path decides it; `.wh.<name>` hides `<name>` in the layers below, `.wh..wh..opq` hides the
//! lower layers' content of its directory, and a file or link replacing a directory hides what
//! lower layers had under it. Reading stops at the first layer where every exact path is
//! decided (patterns with `*` need every layer).
//!
//! Symbolic links are followed inside the image, for the paths asked and for their parent
//! folders (`/lib -> usr/lib`), with absolute targets taken from the image's root; the answer
//! for a path that is a link carries the content of what it leads to and the link's own target.
//! Entries with `..` in their names are ignored: they can never be what a probe asks for.

use super::blob::{normalize, open_layer};
use super::glob::Glob;
use crate::plugin::types::{FileKind, ImageFile};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::PathBuf;
use thiserror::Error;

/// The most links followed for one path before it counts as a loop.
pub(super) const MAX_LINKS: usize = 40;

/// A failure to read an image's layers.
#[derive(Debug, Error)]
pub enum ReadError {
    /// A layer blob could not be read or is not a valid (compressed) tar.
    #[error("cannot read layer {}: {error}", layer.display())]
    Layer {
        /// The blob.
        layer: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The files matched hold more than the read may take in all.
    #[error(
        "the files matching the probe's paths hold more than the {limit} bytes salve reads for a \
         probe in all (by {path} in layer {})",
        layer.display()
    )]
    TooMuch {
        /// The file that went over.
        path: String,
        /// The layer holding it.
        layer: PathBuf,
        /// The cap.
        limit: u64,
    },
    /// A file asked for is larger than the cap.
    #[error(
        "{path} in layer {} is {size} bytes, more than the {limit} bytes salve reads for a probe",
        layer.display()
    )]
    TooLarge {
        /// The path in the image.
        path: String,
        /// The layer holding it.
        layer: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        limit: u64,
    },
}

/// What one layer says about a path.
#[derive(Clone, Debug)]
enum Entry {
    /// A regular file, with its content when it was asked for.
    File(Option<Vec<u8>>),
    /// A directory.
    Directory,
    /// A symbolic link and its target as stored.
    Symlink(String),
    /// A hard link to another path of the image.
    HardLink(String),
}

/// Something an upper layer hides from the layers below.
#[derive(Clone, Debug)]
enum Hidden {
    /// The path and everything under it (a whiteout).
    Subtree(String),
    /// Everything under the directory, not the directory itself (opaque, or replaced by a file).
    Below(String),
}

impl Hidden {
    /// True when this hides `path`.
    fn hides(&self, path: &str) -> bool {
        let under = |dir: &str| {
            path.len() > dir.len() + 1
                && path.starts_with(dir)
                && path.as_bytes()[dir.len()] == b'/'
        };
        match self {
            Hidden::Subtree(dir) => path == dir || under(dir),
            Hidden::Below(dir) => under(dir),
        }
    }
}

/// Reads `patterns` (absolute paths, or patterns with `*` within segments) from `layers`
/// (compressed or plain tar blobs, bottom layer first). Exact paths always get an answer
/// (`missing` when absent); patterns give the files that match.
pub fn read_paths(
    layers: &[PathBuf],
    patterns: &[String],
    max_file_bytes: u64,
) -> Result<Vec<ImageFile>, ReadError> {
    read_paths_within(layers, patterns, max_file_bytes, u64::MAX)
}

/// [`read_paths`], reading at most `max_total_bytes` of file content in all: patterns that match
/// anywhere (`**`) cannot make it hold an image's worth of files.
pub fn read_paths_within(
    layers: &[PathBuf],
    patterns: &[String],
    max_file_bytes: u64,
    max_total_bytes: u64,
) -> Result<Vec<ImageFile>, ReadError> {
    let budget = Budget {
        file: max_file_bytes,
        left: max_total_bytes,
        total: max_total_bytes,
    };
    read_with(layers, patterns, budget)
}

/// What every path of an image is, as the layers stacked show it: its kind, mode and owners and,
/// for a link, its target as stored; and the content of its small configuration files (regular files under
/// [`KEPT_FOLDER`], each at most [`KEPT_FILE_BYTES`], [`KEPT_TOTAL_BYTES`] in all), which
/// package managers read when they install (dpkg's configuration files).
#[derive(Debug, Default)]
pub struct ImageIndex {
    /// Path to what it is.
    entries: BTreeMap<String, Indexed>,
    /// Path to content, for the small configuration files.
    kept: BTreeMap<String, Vec<u8>>,
    /// The bytes in `kept`.
    kept_bytes: u64,
}

/// One path of an [`ImageIndex`].
#[derive(Debug)]
struct Indexed {
    /// What the path is.
    kind: FileKind,
    /// A link's target, as stored.
    link_target: Option<String>,
    /// Its mode and owners.
    status: Status,
}

/// A path's permission bits (with set-user-id, set-group-id and sticky) and numeric owners.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Permission bits.
    pub mode: u32,
    /// The owner's user id.
    pub uid: u32,
    /// The owner's group id.
    pub gid: u32,
}

/// A tar header's owner id as a Linux id; one beyond 32 bits (which no file system stores) is
/// the largest, never a small id such as root's.
fn owner_id(id: u64) -> u32 {
    u32::try_from(id).unwrap_or(u32::MAX)
}

/// The folder whose small files the index keeps.
pub const KEPT_FOLDER: &str = "/etc/";

/// The largest file the index keeps.
pub const KEPT_FILE_BYTES: u64 = 256 << 10;

/// The most the index keeps in all; files after that are indexed without their content.
pub const KEPT_TOTAL_BYTES: u64 = 16 << 20;

impl ImageIndex {
    /// The content of the regular file at `path` when the index kept it.
    pub fn kept(&self, path: &str) -> Option<&[u8]> {
        self.kept.get(path).map(Vec::as_slice)
    }

    /// Whether a regular file at `path` of `size` bytes is one to keep.
    fn keeps(&self, path: &str, size: u64) -> bool {
        path.starts_with(KEPT_FOLDER)
            && size <= KEPT_FILE_BYTES
            && self.kept_bytes + size <= KEPT_TOTAL_BYTES
    }

    /// The kind of `path` (not following a link at `path` itself); `Missing` when absent.
    pub fn kind(&self, path: &str) -> FileKind {
        self.entries
            .get(path)
            .map_or(FileKind::Missing, |indexed| indexed.kind)
    }

    /// The mode and owners of `path` (not following a link at `path` itself); `None` when
    /// absent.
    pub fn status(&self, path: &str) -> Option<Status> {
        self.entries.get(path).map(|indexed| indexed.status)
    }

    /// Every indexed path `glob` matches, in order.
    pub fn matching<'a>(&'a self, glob: &'a Glob) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .keys()
            .map(String::as_str)
            .filter(|path| glob.matches(path))
    }

    /// The target of the link at `path`, as stored.
    pub fn link_target(&self, path: &str) -> Option<&str> {
        self.entries
            .get(path)
            .and_then(|indexed| indexed.link_target.as_deref())
    }

    /// An index of the given entries, for tests.
    #[cfg(test)]
    pub(crate) fn of(entries: &[(&str, FileKind, Option<&str>)]) -> ImageIndex {
        ImageIndex {
            entries: entries
                .iter()
                .map(|(path, kind, target)| {
                    let indexed = Indexed {
                        kind: *kind,
                        link_target: target.map(String::from),
                        status: Status::default(),
                    };
                    (path.to_string(), indexed)
                })
                .collect(),
            ..ImageIndex::default()
        }
    }
}

/// [`read_paths_within`], and in the same pass over the layers the index of every path.
pub fn read_paths_indexed(
    layers: &[PathBuf],
    patterns: &[String],
    max_file_bytes: u64,
    max_total_bytes: u64,
) -> Result<(Vec<ImageFile>, ImageIndex), ReadError> {
    let budget = Budget {
        file: max_file_bytes,
        left: max_total_bytes,
        total: max_total_bytes,
    };
    let mut index = ImageIndex::default();
    let files = read_with_index(layers, patterns, budget, Some(&mut index))?;
    Ok((files, index))
}

/// [`read_paths_within`] with a budget.
fn read_with(
    layers: &[PathBuf],
    patterns: &[String],
    budget: Budget,
) -> Result<Vec<ImageFile>, ReadError> {
    read_with_index(layers, patterns, budget, None)
}

/// [`read_with`], filling `index` with every path on the first pass.
fn read_with_index(
    layers: &[PathBuf],
    patterns: &[String],
    mut budget: Budget,
    mut index: Option<&mut ImageIndex>,
) -> Result<Vec<ImageFile>, ReadError> {
    let globs: Vec<Glob> = patterns
        .iter()
        .map(|pattern| Glob::new(pattern))
        .filter(|glob| !glob.is_exact())
        .collect();
    let asked: Vec<String> = patterns
        .iter()
        .filter(|pattern| Glob::new(pattern).is_exact())
        .filter_map(|pattern| normalize(pattern))
        .collect();

    // Each asked path leads, through links, to the path whose entry answers it.
    let mut leads: BTreeMap<String, Lead> = asked
        .iter()
        .map(|path| (path.clone(), Lead::new(path)))
        .collect();
    let mut results: Vec<ImageFile> = Vec::new();
    let mut first_pass = true;
    loop {
        let wanted: BTreeSet<String> = leads
            .values()
            .filter(|lead| !lead.done)
            .map(|lead| lead.current.clone())
            .collect();
        let pass_globs: &[Glob] = if first_pass { &globs } else { &[] };
        let pass_index = if first_pass { index.take() } else { None };
        if wanted.is_empty() && pass_globs.is_empty() && pass_index.is_none() {
            break;
        }
        let view = read_view(layers, &wanted, pass_globs, &mut budget, pass_index)?;
        if first_pass {
            for (path, entry) in &view.found {
                if pass_globs.iter().any(|glob| glob.matches(path)) && !leads.contains_key(path) {
                    results.push(image_file(path, Some(entry), None));
                }
            }
            first_pass = false;
        }
        for lead in leads.values_mut().filter(|lead| !lead.done) {
            lead.advance(&view);
        }
    }
    for (path, lead) in &leads {
        results.push(image_file(
            path,
            lead.entry.as_ref(),
            lead.link_target.clone(),
        ));
    }
    results.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(results)
}

/// Where an asked path has got to while its links are followed.
struct Lead {
    /// The path being looked up now.
    current: String,
    /// The asked path's own link target, when it is a link.
    link_target: Option<String>,
    /// The entry that answers it, once found.
    entry: Option<Entry>,
    /// Links followed so far.
    hops: usize,
    /// True once answered (found, missing, or a loop).
    done: bool,
}

impl Lead {
    /// A lead that starts at `path`.
    fn new(path: &str) -> Lead {
        Lead {
            current: path.to_string(),
            link_target: None,
            entry: None,
            hops: 0,
            done: false,
        }
    }

    /// Follows what one pass over the layers found.
    fn advance(&mut self, view: &View) {
        let next = match view.found.get(&self.current) {
            Some(Entry::Symlink(target)) => {
                if self.hops == 0 {
                    self.link_target = Some(target.clone());
                }
                resolve_link(&self.current, target)
            }
            Some(Entry::HardLink(target)) => normalize(target),
            Some(entry) => {
                self.entry = Some(entry.clone());
                self.done = true;
                return;
            }
            None => view
                .ancestor_links
                .iter()
                .filter(|(ancestor, _)| is_under(&self.current, ancestor))
                .max_by_key(|(ancestor, _)| ancestor.len())
                .and_then(|(ancestor, target)| {
                    let rest = &self.current[ancestor.len()..];
                    resolve_link(ancestor, target).map(|base| format!("{base}{rest}"))
                }),
        };
        self.hops += 1;
        match next {
            Some(next) if self.hops <= MAX_LINKS => self.current = next,
            _ => self.done = true,
        }
    }
}

/// What one pass over the layers found.
struct View {
    /// The merged view's entry for each path asked or matched.
    found: BTreeMap<String, Entry>,
    /// Links found at folders above the asked paths, with their targets.
    ancestor_links: BTreeMap<String, String>,
}

/// How much file content a read may still take.
struct Budget {
    /// The most for one file.
    file: u64,
    /// What is left of the total.
    left: u64,
    /// The total, for the error.
    total: u64,
}

/// One pass over the layers, top down, for the `wanted` paths and the `globs`.
fn read_view(
    layers: &[PathBuf],
    wanted: &BTreeSet<String>,
    globs: &[Glob],
    budget: &mut Budget,
    mut index: Option<&mut ImageIndex>,
) -> Result<View, ReadError> {
    let mut view = View {
        found: BTreeMap::new(),
        ancestor_links: BTreeMap::new(),
    };
    let mut hidden: Vec<Hidden> = Vec::new();
    for layer in layers.iter().rev() {
        let layer_error = |error| ReadError::Layer {
            layer: layer.clone(),
            error,
        };
        let mut archive = tar::Archive::new(open_layer(layer).map_err(layer_error)?);
        let mut hides: Vec<Hidden> = Vec::new();
        for entry in archive.entries().map_err(layer_error)? {
            let mut entry = entry.map_err(layer_error)?;
            let raw = entry.path_bytes().into_owned();
            let Some(path) = normalize(&String::from_utf8_lossy(&raw)) else {
                continue;
            };
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", &path));
            if name == ".wh..wh..opq" {
                hides.push(Hidden::Below(parent.to_string()));
                continue;
            }
            if let Some(removed) = name.strip_prefix(".wh.") {
                hides.push(Hidden::Subtree(format!("{parent}/{removed}")));
                continue;
            }
            if hidden.iter().any(|hide| hide.hides(&path)) {
                continue;
            }
            let kind = entry.header().entry_type();
            if !kind.is_dir() {
                hides.push(Hidden::Below(path.clone()));
            }
            let link = if kind.is_symlink() || kind.is_hard_link() {
                entry
                    .link_name_bytes()
                    .map(|target| String::from_utf8_lossy(&target).into_owned())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            if kind.is_symlink() && wanted.iter().any(|asked| is_under(asked, &path)) {
                view.ancestor_links
                    .entry(path.clone())
                    .or_insert_with(|| link.clone());
            }
            let regular = kind.is_file() || kind == tar::EntryType::Continuous;
            let mut kept = false;
            if let Some(index) = index.as_deref_mut()
                && !index.entries.contains_key(&path)
            {
                let header = entry.header();
                let status = Status {
                    mode: header.mode().map_err(layer_error)? & 0o7777,
                    uid: owner_id(header.uid().map_err(layer_error)?),
                    gid: owner_id(header.gid().map_err(layer_error)?),
                };
                let (kind, link_target) = if kind.is_symlink() {
                    (FileKind::Symlink, Some(link.clone()))
                } else if kind.is_dir() {
                    (FileKind::Directory, None)
                } else {
                    (FileKind::File, None)
                };
                let indexed = Indexed {
                    kind,
                    link_target,
                    status,
                };
                index.entries.insert(path.clone(), indexed);
                let size = entry.header().size().map_err(layer_error)?;
                if regular && index.keeps(&path, size) {
                    let mut content = Vec::with_capacity(size as usize);
                    entry.read_to_end(&mut content).map_err(layer_error)?;
                    index.kept_bytes += size;
                    index.kept.insert(path.clone(), content);
                    kept = true;
                }
            }
            let asked = wanted.contains(&path) || globs.iter().any(|glob| glob.matches(&path));
            if !asked || view.found.contains_key(&path) {
                continue;
            }
            let found = if kind.is_symlink() {
                Entry::Symlink(link.clone())
            } else if kind.is_hard_link() {
                Entry::HardLink(link.clone())
            } else if kind.is_dir() {
                Entry::Directory
            } else if regular {
                let size = entry.header().size().map_err(layer_error)?;
                if size > budget.file {
                    return Err(ReadError::TooLarge {
                        path,
                        layer: layer.clone(),
                        size,
                        limit: budget.file,
                    });
                }
                if size > budget.left {
                    return Err(ReadError::TooMuch {
                        path,
                        layer: layer.clone(),
                        limit: budget.total,
                    });
                }
                budget.left -= size;
                // The entry's bytes were read into the index already: copied from there.
                let from_index = index
                    .as_deref()
                    .filter(|_| kept)
                    .and_then(|index| index.kept.get(&path));
                let content = match from_index {
                    Some(content) => content.clone(),
                    None => {
                        let mut content = Vec::with_capacity(size as usize);
                        entry.read_to_end(&mut content).map_err(layer_error)?;
                        content
                    }
                };
                Entry::File(Some(content))
            } else {
                Entry::File(None)
            };
            view.found.insert(path, found);
        }
        hidden.extend(hides);
        let decided = |path: &String| {
            view.found.contains_key(path) || hidden.iter().any(|hide| hide.hides(path))
        };
        // The index needs every layer; so do patterns.
        if globs.is_empty() && index.is_none() && wanted.iter().all(decided) {
            break;
        }
    }
    Ok(view)
}

/// True when `path` is strictly under `ancestor`.
fn is_under(path: &str, ancestor: &str) -> bool {
    path.len() > ancestor.len() + 1
        && path.starts_with(ancestor)
        && path.as_bytes()[ancestor.len()] == b'/'
}

/// Where a link at `link` pointing to `target` leads, inside the image: absolute targets from
/// the image's root, relative ones from the link's folder, never above the root.
pub fn resolve_link(link: &str, target: &str) -> Option<String> {
    let base = if target.starts_with('/') {
        String::new()
    } else {
        link.rsplit_once('/')
            .map_or(String::new(), |(parent, _)| parent.to_string())
    };
    let mut parts: Vec<&str> = base.split('/').filter(|part| !part.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| format!("/{}", parts.join("/")))
}

/// The answer for one path.
fn image_file(path: &str, entry: Option<&Entry>, link_target: Option<String>) -> ImageFile {
    let (kind, content, stored_target) = match entry {
        None => (FileKind::Missing, None, None),
        Some(Entry::File(content)) => (FileKind::File, content.clone(), None),
        Some(Entry::Directory) => (FileKind::Directory, None, None),
        Some(Entry::Symlink(target)) => (FileKind::Symlink, None, Some(target.clone())),
        Some(Entry::HardLink(_)) => (FileKind::File, None, None),
    };
    ImageFile {
        path: path.to_string(),
        kind,
        content,
        link_target: link_target.or(stored_target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_image() {
        assert_eq!(
            resolve_link("/etc/os-release", "../usr/lib/os-release").as_deref(),
            Some("/usr/lib/os-release")
        );
        assert_eq!(resolve_link("/lib", "usr/lib").as_deref(), Some("/usr/lib"));
        assert_eq!(resolve_link("/a/b", "/c/d").as_deref(), Some("/c/d"));
        assert_eq!(
            resolve_link("/a/b", "../../../../etc").as_deref(),
            Some("/etc")
        );
    }

    #[test]
    fn hiding_rules() {
        assert!(Hidden::Subtree("/a/b".into()).hides("/a/b"));
        assert!(Hidden::Subtree("/a/b".into()).hides("/a/b/c"));
        assert!(!Hidden::Subtree("/a/b".into()).hides("/a/bc"));
        assert!(!Hidden::Below("/a".into()).hides("/a"));
        assert!(Hidden::Below("/a".into()).hides("/a/x"));
    }
}
