//! Unpacking layers into a folder, safely, for the local engine's root filesystem.
//!
//! Every path is opened through `cap-std`, relative to the target folder, so no entry can write
//! outside it: not with `..` in its name (refused, naming the layer and entry), not through a
//! symbolic link a lower layer planted (cap-std refuses to follow a link out of the folder), and
//! not with a hard link to a file outside (its source is resolved inside the folder too).
//! Whiteouts and opaque folders are applied as the layers stack. As root, owners are restored,
//! and device nodes too outside a user namespace; unprivileged, files belong to the user; device
//! nodes not made are skipped (counted in the report). A cap on the bytes written stops a layer whose headers claim more
//! data than any real image holds (a sparse-file bomb).

use super::blob::{normalize, open_layer};
use cap_std::fs::{Dir, OpenOptions, Permissions};
use rustix::fs::{AtFlags, FileType, Mode};
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Options for unpacking.
#[derive(Clone, Copy, Debug)]
pub struct UnpackOptions {
    /// The most bytes of file content written for all layers together.
    pub max_bytes: u64,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            max_bytes: 64 << 30,
        }
    }
}

/// What unpacking did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnpackReport {
    /// Entries created.
    pub entries: usize,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Device nodes skipped because salve is not running as root.
    pub skipped_devices: usize,
}

/// A failure to unpack.
#[derive(Debug, Error)]
pub enum UnpackError {
    /// A layer could not be read, or an entry could not be created.
    #[error("cannot unpack layer {}: {what}: {error}", layer.display())]
    Io {
        /// The layer.
        layer: PathBuf,
        /// The entry or step.
        what: String,
        /// Why.
        error: io::Error,
    },
    /// An entry's name leads outside the image.
    #[error(
        "layer {} has an entry named {name:?}, which leads outside the image; salve refuses to \
         unpack it (the image is broken or hostile)",
        layer.display()
    )]
    Escape {
        /// The layer.
        layer: PathBuf,
        /// The entry's name as stored.
        name: String,
    },
    /// The layers hold more bytes than the cap.
    #[error(
        "layer {} would write more than {limit} bytes; no real image is that large, so salve stops \
         (the layer may claim a huge sparse file)",
        layer.display()
    )]
    TooLarge {
        /// The layer.
        layer: PathBuf,
        /// The cap.
        limit: u64,
    },
}

/// Unpacks `layers` (bottom first) into the folder `target`, which must exist.
pub fn unpack_layers(
    layers: &[PathBuf],
    target: &Path,
    options: UnpackOptions,
) -> Result<UnpackReport, UnpackError> {
    let root = Dir::open_ambient_dir(target, cap_std::ambient_authority()).map_err(|error| {
        UnpackError::Io {
            layer: target.to_path_buf(),
            what: "opening the target folder".into(),
            error,
        }
    })?;
    let mut unpacker = Unpacker {
        root,
        as_root: rustix::process::geteuid().is_root(),
        devices: rustix::process::geteuid().is_root() && in_initial_user_namespace(),
        report: UnpackReport::default(),
        options,
    };
    for layer in layers {
        unpacker.layer(layer)?;
    }
    Ok(unpacker.report)
}

/// True when this process is in the machine's initial user namespace (not in a container's or
/// salve's rootless one, where even root makes no device nodes).
pub fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
}

/// The state of one unpacking.
struct Unpacker {
    /// The target folder, the only place anything is written.
    root: Dir,
    /// Whether owners and device nodes can be restored.
    as_root: bool,
    /// Whether device nodes can be made (not in a user namespace, even as its root).
    devices: bool,
    /// What was done so far.
    report: UnpackReport,
    /// The caps.
    options: UnpackOptions,
}

impl Unpacker {
    /// Applies one layer.
    fn layer(&mut self, layer: &Path) -> Result<(), UnpackError> {
        let io_error = |what: &str, error| UnpackError::Io {
            layer: layer.to_path_buf(),
            what: what.to_string(),
            error,
        };
        let mut archive = tar::Archive::new(open_layer(layer).map_err(|e| io_error("opening", e))?);
        let mut created: HashSet<String> = HashSet::new();
        for entry in archive.entries().map_err(|e| io_error("reading", e))? {
            let mut entry = entry.map_err(|e| io_error("reading an entry", e))?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(path) = normalize(&raw) else {
                if raw.split('/').any(|part| part == "..") {
                    return Err(UnpackError::Escape {
                        layer: layer.to_path_buf(),
                        name: raw,
                    });
                }
                continue;
            };
            let relative = path.trim_start_matches('/').to_string();
            let (parent, name) = relative.rsplit_once('/').unwrap_or(("", &relative));
            if name == ".wh..wh..opq" {
                self.clear_below(parent, &created).map_err(|e| {
                    io_error(&format!("applying the opaque marker in /{parent}"), e)
                })?;
                continue;
            }
            if let Some(removed) = name.strip_prefix(".wh.") {
                let victim = join(parent, removed);
                self.remove(&victim)
                    .map_err(|e| io_error(&format!("applying the whiteout of /{victim}"), e))?;
                continue;
            }
            self.entry(&mut entry, &relative)
                .map_err(|error| match error {
                    EntryError::Io(e) => io_error(&format!("creating {path}"), e),
                    EntryError::TooLarge => UnpackError::TooLarge {
                        layer: layer.to_path_buf(),
                        limit: self.options.max_bytes,
                    },
                })?;
            created.insert(relative);
        }
        Ok(())
    }

    /// Creates one entry at `relative`, replacing what a lower layer had there.
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        relative: &str,
    ) -> Result<(), EntryError> {
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().map_err(EntryError::Io)? & 0o7777;
        // An empty owner field is read as root, as Go's archive/tar (and so Docker) reads it.
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let (parent, name) = relative.rsplit_once('/').unwrap_or(("", relative));
        if !parent.is_empty() {
            self.root.create_dir_all(parent).map_err(|error| {
                if error.kind() == io::ErrorKind::AlreadyExists {
                    io::Error::other(format!(
                        "/{parent} is not a folder but a link or file in a lower layer, and salve \
                         never follows links while unpacking"
                    ))
                } else {
                    error
                }
            })?;
        }
        let existing = self.root.symlink_metadata(relative).ok();
        if kind.is_dir() {
            match existing {
                Some(metadata) if metadata.is_dir() => {}
                Some(_) => {
                    self.root.remove_file(relative)?;
                    self.root.create_dir(relative)?;
                }
                None => self.root.create_dir(relative)?,
            }
        } else {
            if existing.is_some() {
                self.remove(relative)?;
            }
            if kind.is_symlink() {
                let target = entry
                    .link_name()
                    .map_err(EntryError::Io)?
                    .unwrap_or_default();
                self.root.symlink_contents(&*target, relative)?;
            } else if kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(EntryError::Io)?
                    .unwrap_or_default();
                let source = normalize(&target.to_string_lossy()).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        "hard link leads outside the image",
                    )
                })?;
                self.root
                    .hard_link(source.trim_start_matches('/'), &self.root, relative)?;
            } else if kind.is_file() || kind == tar::EntryType::Continuous {
                let mut file = self
                    .root
                    .open_with(relative, OpenOptions::new().write(true).create_new(true))?;
                self.copy(entry, &mut file)?;
            } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                if !self.devices && !kind.is_fifo() {
                    self.report.skipped_devices += 1;
                    return Ok(());
                }
                let file_type = if kind.is_character_special() {
                    FileType::CharacterDevice
                } else if kind.is_block_special() {
                    FileType::BlockDevice
                } else {
                    FileType::Fifo
                };
                let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                let parent_dir = self.parent(parent)?;
                rustix::fs::mknodat(
                    &parent_dir,
                    name,
                    file_type,
                    Mode::from_raw_mode(mode),
                    rustix::fs::makedev(major, minor),
                )
                .map_err(io::Error::from)?;
            } else {
                // Other entry kinds (GNU long-name records are handled by the tar reader) carry
                // nothing to create.
                return Ok(());
            }
        }
        if !kind.is_symlink() && !kind.is_hard_link() {
            self.root.set_permissions(
                relative,
                Permissions::from_std(std::fs::Permissions::from_mode(mode)),
            )?;
        }
        if self.as_root {
            let parent_dir = self.parent(parent)?;
            rustix::fs::chownat(
                &parent_dir,
                name,
                Some(rustix::fs::Uid::from_raw(uid as u32)),
                Some(rustix::fs::Gid::from_raw(gid as u32)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(io::Error::from)?;
            if kind.is_file() && mode & 0o6000 != 0 {
                // chown clears set-id bits; put them back.
                self.root.set_permissions(
                    relative,
                    Permissions::from_std(std::fs::Permissions::from_mode(mode)),
                )?;
            }
        }
        self.report.entries += 1;
        Ok(())
    }

    /// Copies a file's content, within the byte cap.
    fn copy(&mut self, from: &mut impl Read, to: &mut impl Write) -> Result<(), EntryError> {
        let mut buffer = vec![0u8; 1 << 16];
        loop {
            let read = from.read(&mut buffer)?;
            if read == 0 {
                return Ok(());
            }
            self.report.bytes += read as u64;
            if self.report.bytes > self.options.max_bytes {
                return Err(EntryError::TooLarge);
            }
            to.write_all(&buffer[..read])?;
        }
    }

    /// The folder holding an entry, opened inside the target.
    fn parent(&self, parent: &str) -> io::Result<Dir> {
        if parent.is_empty() {
            self.root.try_clone()
        } else {
            self.root.open_dir(parent)
        }
    }

    /// Removes whatever is at `relative` (a file, link or whole folder), if anything.
    fn remove(&self, relative: &str) -> io::Result<()> {
        match self.root.symlink_metadata(relative) {
            Ok(metadata) if metadata.is_dir() => self.root.remove_dir_all(relative),
            Ok(_) => self.root.remove_file(relative),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Empties a folder of what lower layers put there (an opaque marker), keeping what this
    /// layer already created.
    fn clear_below(&self, folder: &str, created: &HashSet<String>) -> io::Result<()> {
        let entries = match self
            .root
            .read_dir(if folder.is_empty() { "." } else { folder })
        {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        for entry in entries {
            let name = entry?.file_name();
            let child = join(folder, &name.to_string_lossy());
            if !created.contains(&child) {
                self.remove(&child)?;
            }
        }
        Ok(())
    }
}

/// Why one entry could not be created.
enum EntryError {
    /// A filesystem error (including cap-std refusing a path that would leave the target).
    Io(io::Error),
    /// The byte cap was reached.
    TooLarge,
}

impl From<io::Error> for EntryError {
    fn from(error: io::Error) -> EntryError {
        EntryError::Io(error)
    }
}

/// `parent/name`, or `name` at the top.
fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}
