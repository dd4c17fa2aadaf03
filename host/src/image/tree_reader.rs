//! Reading chosen paths from an image already unpacked into a folder (the root filesystem
//! cache), giving the answers [`super::layer_reader`] gives from the layers themselves, without
//! decompressing them.
//!
//! The folder is what the layers make when stacked (whiteouts applied), so the lookups are
//! those of a merged view: every folder on the way to an asked path is examined without
//! following links, and a symbolic link (at the path or above it) is followed inside the image,
//! absolute targets from the image's root, at most [`MAX_LINKS`] times. Patterns with `*` are
//! matched by walking the folder without following links, entering only folders under which a
//! pattern can still match. Only regular files are opened, never through a link, and never one
//! that would block (a FIFO); content is read within the same caps as from layers.
//!
//! Two answers differ from the layer reader's, both for the better: a hard link is a regular
//! file here, so a pattern matching one gets its content; a folder no layer has an entry for
//! (implied by the paths under it) is a folder here, where the layer reader says it is missing.

use super::blob::normalize;
use super::glob::Glob;
use super::layer_reader::{MAX_LINKS, resolve_link};
use crate::plugin::types::{FileKind, ImageFile};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A failure to read an unpacked image: the caller reads the layers instead, which say why
/// in their own terms when they fail too.
#[derive(Debug, Error)]
pub enum TreeReadError {
    /// A path of the folder could not be examined or read.
    #[error("cannot read {} of the unpacked image: {error}", path.display())]
    Io {
        /// The path on disk.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A file is over the cap for one file, or the files read are over the cap for all.
    #[error("{path} would take the probe over its cap on the bytes read")]
    OverCap {
        /// The path in the image.
        path: String,
    },
}

/// What one path of the folder is, not following a link at it.
enum Node {
    /// Nothing there.
    Missing,
    /// A regular file.
    File,
    /// A folder.
    Directory,
    /// A symbolic link and its target.
    Symlink(String),
    /// A device node, FIFO or socket.
    Special,
}

/// How much file content the read may still take.
struct Budget {
    /// The most for one file.
    file: u64,
    /// What is left of the total.
    left: u64,
}

/// Reads `patterns` (absolute paths, or patterns with `*` within segments) from the unpacked
/// image at `root`, as [`super::read_paths_within`] reads them from its layers: exact paths
/// always get an answer (`missing` when absent), patterns give the paths that match.
pub fn read_tree_paths_within(
    root: &Path,
    patterns: &[String],
    max_file_bytes: u64,
    max_total_bytes: u64,
) -> Result<Vec<ImageFile>, TreeReadError> {
    let mut budget = Budget {
        file: max_file_bytes,
        left: max_total_bytes,
    };
    let globs: Vec<Glob> = patterns
        .iter()
        .map(|pattern| Glob::new(pattern))
        .filter(|glob| !glob.is_exact())
        .collect();
    let mut answers: BTreeMap<String, ImageFile> = BTreeMap::new();
    for pattern in patterns {
        if !Glob::new(pattern).is_exact() {
            continue;
        }
        let Some(path) = normalize(pattern) else {
            continue;
        };
        if let Entry::Vacant(slot) = answers.entry(path) {
            let answer = look_up(root, slot.key(), &mut budget)?;
            slot.insert(answer);
        }
    }
    if !globs.is_empty() {
        for (path, on_disk, node) in walk(root, &globs)? {
            if answers.contains_key(&path) {
                continue;
            }
            let answer = answer(&path, &on_disk, node, None, &mut budget)?;
            answers.insert(path, answer);
        }
    }
    Ok(answers.into_values().collect())
}

/// The answer for the asked `path`, its links followed.
fn look_up(root: &Path, asked: &str, budget: &mut Budget) -> Result<ImageFile, TreeReadError> {
    let mut current = asked.to_string();
    let mut own_target = None;
    let mut hops = 0;
    loop {
        let next = match above(root, &current)? {
            Above::Link(folder, target) => {
                let rest = &current[folder.len()..];
                resolve_link(&folder, &target).map(|base| format!("{base}{rest}"))
            }
            Above::Broken => None,
            Above::Folders => {
                let on_disk = on_disk(root, &current);
                match node(&on_disk)? {
                    Node::Symlink(target) => {
                        if hops == 0 {
                            own_target = Some(target.clone());
                        }
                        resolve_link(&current, &target)
                    }
                    node => return answer(asked, &on_disk, node, own_target, budget),
                }
            }
        };
        hops += 1;
        match next {
            Some(next) if hops <= MAX_LINKS => current = next,
            _ => {
                return answer(asked, Path::new(""), Node::Missing, own_target, budget);
            }
        }
    }
}

/// What is on the way to a path.
enum Above {
    /// Every folder above it is a real folder.
    Folders,
    /// The first folder above it that is a symbolic link, and the link's target.
    Link(String, String),
    /// A folder above it is missing or is not a folder.
    Broken,
}

/// What is on the way to `path`, outermost folder first.
fn above(root: &Path, path: &str) -> Result<Above, TreeReadError> {
    let Some((parent, _)) = path.rsplit_once('/') else {
        return Ok(Above::Folders);
    };
    let mut folder = String::new();
    for part in parent.split('/').filter(|part| !part.is_empty()) {
        folder.push('/');
        folder.push_str(part);
        match node(&on_disk(root, &folder))? {
            Node::Directory => {}
            Node::Symlink(target) => return Ok(Above::Link(folder, target)),
            _ => return Ok(Above::Broken),
        }
    }
    Ok(Above::Folders)
}

/// The folder's path for the image's `path`.
fn on_disk(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// What is at `on_disk`, not following a link there.
fn node(on_disk: &Path) -> Result<Node, TreeReadError> {
    let io_error = |error| TreeReadError::Io {
        path: on_disk.to_path_buf(),
        error,
    };
    let kind = match fs::symlink_metadata(on_disk) {
        Ok(metadata) => metadata.file_type(),
        Err(error)
            if error.kind() == io::ErrorKind::NotFound
                || error.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            return Ok(Node::Missing);
        }
        Err(error) => return Err(io_error(error)),
    };
    Ok(if kind.is_symlink() {
        let target = fs::read_link(on_disk).map_err(io_error)?;
        Node::Symlink(target.to_string_lossy().into_owned())
    } else if kind.is_dir() {
        Node::Directory
    } else if kind.is_file() {
        Node::File
    } else {
        Node::Special
    })
}

/// The answer for `path`, whose entry is `node` at `on_disk`; a regular file's content is read.
fn answer(
    path: &str,
    on_disk: &Path,
    node: Node,
    link_target: Option<String>,
    budget: &mut Budget,
) -> Result<ImageFile, TreeReadError> {
    let (kind, content, stored_target) = match node {
        Node::Missing => (FileKind::Missing, None, None),
        Node::Directory => (FileKind::Directory, None, None),
        Node::Symlink(target) => (FileKind::Symlink, None, Some(target)),
        Node::Special => (FileKind::File, None, None),
        Node::File => (FileKind::File, Some(content(path, on_disk, budget)?), None),
    };
    Ok(ImageFile {
        path: path.to_string(),
        kind,
        content,
        link_target: link_target.or(stored_target),
    })
}

/// The content of the regular file at `on_disk`, within the budget.
fn content(path: &str, on_disk: &Path, budget: &mut Budget) -> Result<Vec<u8>, TreeReadError> {
    let io_error = |error| TreeReadError::Io {
        path: on_disk.to_path_buf(),
        error,
    };
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(on_disk)
        .map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(io_error(io::Error::other("no longer a regular file")));
    }
    let size = metadata.len();
    if size > budget.file || size > budget.left {
        return Err(TreeReadError::OverCap {
            path: path.to_string(),
        });
    }
    budget.left -= size;
    let mut content = Vec::with_capacity(size as usize);
    file.take(size)
        .read_to_end(&mut content)
        .map_err(io_error)?;
    Ok(content)
}

/// Every path under `root` that one of `globs` matches, with its place on disk and what it
/// is; folders are entered only where a glob may match below them, links never followed.
fn walk(root: &Path, globs: &[Glob]) -> Result<Vec<(String, PathBuf, Node)>, TreeReadError> {
    let mut found = Vec::new();
    let mut folders: Vec<(String, PathBuf)> = vec![(String::new(), root.to_path_buf())];
    while let Some((folder, folder_on_disk)) = folders.pop() {
        let io_error = |error| TreeReadError::Io {
            path: folder_on_disk.clone(),
            error,
        };
        for entry in fs::read_dir(&folder_on_disk).map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let path = format!("{folder}/{}", entry.file_name().to_string_lossy());
            let on_disk = entry.path();
            let is_dir = entry.file_type().map_err(io_error)?.is_dir();
            if globs.iter().any(|glob| glob.matches(&path)) {
                found.push((path.clone(), on_disk.clone(), node(&on_disk)?));
            }
            if is_dir && globs.iter().any(|glob| glob.may_match_below(&path)) {
                folders.push((path, on_disk));
            }
        }
    }
    Ok(found)
}
