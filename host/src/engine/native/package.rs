//! Downloaded package files, whichever their format: listed for the plugin (control members,
//! data entries with owners and digests) and streamed into the patch layer. [`deb`](super::deb)
//! and [`apk`](super::apk) know where each format keeps its control and data archives; the tar
//! entries inside are read here, the same way for both.

use super::{apk, deb, wheel};
use crate::plugin::native::PackageCheck;
use md5::{Digest, Md5};
use sha1::Sha1;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The largest control archive member read into memory.
pub const CONTROL_MEMBER_CAP: u64 = 64 << 20;

/// The formats of package files the native engine opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A Debian package (`.deb`).
    Deb,
    /// An Alpine package (`.apk`).
    Apk,
    /// A Python wheel (`.whl`).
    Wheel,
}

impl Format {
    /// The format a package's check names.
    pub fn of(check: &PackageCheck) -> Format {
        match check {
            PackageCheck::Deb(_) => Format::Deb,
            PackageCheck::Apk(_) => Format::Apk,
            PackageCheck::Wheel(_) => Format::Wheel,
        }
    }

    /// What people call a package of this format.
    fn name(self) -> &'static str {
        match self {
            Format::Deb => "Debian package",
            Format::Apk => "apk package",
            Format::Wheel => "Python wheel",
        }
    }
}

/// A downloaded package file and its format.
#[derive(Clone, Debug)]
pub struct Downloaded {
    /// The file in the store.
    pub file: PathBuf,
    /// Its format.
    pub format: Format,
}

/// Why a package file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Reading failed.
    #[error("{file}: {error}")]
    Io {
        /// The package file.
        file: PathBuf,
        /// The error.
        error: io::Error,
    },
    /// The file is not a package of its format as its tools write them.
    #[error("{file} is not a valid {format}: {reason}")]
    Format {
        /// The package file.
        file: PathBuf,
        /// What it should have been.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl PackageError {
    /// A format error of `file`, a package of `format`.
    pub fn format(file: &Path, format: Format, reason: &str) -> PackageError {
        PackageError::Format {
            file: file.to_path_buf(),
            format: format.name(),
            reason: reason.to_string(),
        }
    }

    /// A reading error of `file`.
    pub fn io(file: &Path) -> impl Fn(io::Error) -> PackageError + '_ {
        move |error| PackageError::Io {
            file: file.to_path_buf(),
            error,
        }
    }
}

/// One entry of the data archive, without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataEntry {
    /// Absolute path (`/` for the archive's root).
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits, with set-user-id, set-group-id and sticky.
    pub mode: u32,
    /// A regular file's size in bytes (0 for other kinds).
    pub size: u64,
    /// The owner's numeric user id.
    pub uid: u32,
    /// The owner's numeric group id.
    pub gid: u32,
    /// A symbolic or hard link's target.
    pub link_target: Option<String>,
    /// A regular file's (or hard link's) digest: MD5 for Debian packages, SHA-1 for apk
    /// packages, SHA-256 for wheels (lower-case hex), as each format's database records it.
    pub digest: Option<String>,
}

/// The kinds of entries a package may ship.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A hard link to an earlier entry.
    HardLink,
    /// A folder.
    Directory,
    /// A symbolic link.
    Symlink,
}

/// What a package holds, listed.
#[derive(Debug)]
pub struct Listing {
    /// The control archive's members (name without `./`, bytes).
    pub control: Vec<(String, Vec<u8>)>,
    /// The data archive's entries, in order.
    pub entries: Vec<DataEntry>,
}

/// Lists a package file's control members and data entries.
pub fn list(package: &Downloaded) -> Result<Listing, PackageError> {
    match package.format {
        Format::Deb => deb::list(&package.file),
        Format::Apk => apk::list(&package.file),
        Format::Wheel => wheel::list(&package.file),
    }
}

/// Streams the data archive of a package to `each` (path, kind, entry).
pub fn each_data_entry(
    package: &Downloaded,
    each: impl FnMut(&str, EntryKind, &mut tar::Entry<'_, Box<dyn Read>>) -> io::Result<()>,
) -> Result<(), PackageError> {
    let data = match package.format {
        Format::Deb => deb::data(&package.file)?,
        Format::Apk => apk::data(&package.file)?,
        Format::Wheel => wheel::data(&package.file)?,
    };
    entries_of(&package.file, package.format, data, each)
}

/// Streams the tar archive `data` of the package `file` to `each`.
fn entries_of(
    file: &Path,
    format: Format,
    data: Box<dyn Read>,
    mut each: impl FnMut(&str, EntryKind, &mut tar::Entry<'_, Box<dyn Read>>) -> io::Result<()>,
) -> Result<(), PackageError> {
    let io_error = PackageError::io(file);
    let mut archive = tar::Archive::new(data);
    for entry in archive.entries().map_err(&io_error)? {
        let mut entry = entry.map_err(&io_error)?;
        let (path, kind) = describe(file, format, &entry)?;
        each(&path, kind, &mut entry).map_err(&io_error)?;
    }
    Ok(())
}

/// The control archive's regular files (name without `./`, bytes) read from `control`, a tar
/// archive that may lack its end blocks (apk cuts them).
pub fn control_members(
    file: &Path,
    format: Format,
    control: impl Read,
) -> Result<Vec<(String, Vec<u8>)>, PackageError> {
    let io_error = PackageError::io(file);
    let mut members = Vec::new();
    let mut archive = tar::Archive::new(control);
    for entry in archive.entries().map_err(&io_error)? {
        let mut entry = entry.map_err(&io_error)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes())
            .trim_start_matches("./")
            .to_string();
        if entry.size() > CONTROL_MEMBER_CAP {
            return Err(PackageError::format(
                file,
                format,
                &format!("control member {name} is too large"),
            ));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(&io_error)?;
        members.push((name, bytes));
    }
    Ok(members)
}

/// The entries of a data archive read from `data`, which is read to its end (the archive's
/// end blocks too), each regular file's bytes hashed as `format`'s database records them. An
/// apk entry's own SHA-1 (its `APK-TOOLS.checksum.SHA1` record) must be its bytes'.
pub fn data_entries(
    file: &Path,
    format: Format,
    data: &mut dyn Read,
) -> Result<Vec<DataEntry>, PackageError> {
    let io_error = PackageError::io(file);
    let mut entries: Vec<DataEntry> = Vec::new();
    let mut archive = tar::Archive::new(&mut *data);
    for entry in archive.entries().map_err(&io_error)? {
        let mut entry = entry.map_err(&io_error)?;
        let (path, kind) = describe(file, format, &entry)?;
        let link_target = match kind {
            EntryKind::Symlink | EntryKind::HardLink => Some(
                entry
                    .link_name_bytes()
                    .map(|name| String::from_utf8_lossy(&name).into_owned())
                    .ok_or_else(|| {
                        PackageError::format(file, format, &format!("{path} links to nothing"))
                    })?,
            ),
            _ => None,
        };
        let recorded_sha1 = recorded_sha1(&mut entry).map_err(&io_error)?;
        let digest = match (kind, format) {
            (EntryKind::File, Format::Deb) => {
                let mut hasher = Md5::new();
                io::copy(&mut entry, &mut hasher).map_err(&io_error)?;
                Some(hex::encode(hasher.finalize()))
            }
            (EntryKind::File, Format::Apk) => {
                let mut hasher = Sha1::new();
                io::copy(&mut entry, &mut hasher).map_err(&io_error)?;
                let sha1 = hex::encode(hasher.finalize());
                if recorded_sha1
                    .as_ref()
                    .is_some_and(|recorded| *recorded != sha1)
                {
                    return Err(PackageError::format(
                        file,
                        format,
                        &format!("{path}'s bytes are not the SHA-1 its entry records"),
                    ));
                }
                Some(sha1)
            }
            // A hard link's bytes, and so its digest, are those of the earlier entry it names.
            (EntryKind::HardLink, _) => link_target.as_deref().and_then(|target| {
                let target = format!(
                    "/{}",
                    target.trim_start_matches("./").trim_start_matches('/')
                );
                entries
                    .iter()
                    .rev()
                    .find(|earlier| earlier.path == target)
                    .and_then(|earlier| earlier.digest.clone())
            }),
            _ => None,
        };
        let header = entry.header();
        // An empty owner field (some archivers write none) is root's; an id beyond 32 bits
        // becomes the largest id, never root.
        let id =
            |value: io::Result<u64>| value.map_or(0, |id| u32::try_from(id).unwrap_or(u32::MAX));
        entries.push(DataEntry {
            path,
            kind,
            mode: header.mode().map_err(&io_error)? & 0o7777,
            size: if kind == EntryKind::File {
                entry.size()
            } else {
                0
            },
            uid: id(header.uid()),
            gid: id(header.gid()),
            link_target,
            digest,
        });
    }
    let rest = archive.into_inner();
    io::copy(rest, &mut io::sink()).map_err(&io_error)?;
    Ok(entries)
}

/// The SHA-1 an apk data entry records for its bytes (a PAX record), when it has one.
fn recorded_sha1<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Option<String>> {
    let Some(extensions) = entry.pax_extensions()? else {
        return Ok(None);
    };
    for extension in extensions {
        let extension = extension?;
        if extension.key_bytes() == b"APK-TOOLS.checksum.SHA1" {
            return Ok(Some(
                String::from_utf8_lossy(extension.value_bytes()).to_ascii_lowercase(),
            ));
        }
    }
    Ok(None)
}

/// An entry's absolute path and kind; devices, FIFOs and unsafe names are errors.
fn describe<R: Read>(
    file: &Path,
    format: Format,
    entry: &tar::Entry<'_, R>,
) -> Result<(String, EntryKind), PackageError> {
    let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let trimmed = raw
        .trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/');
    if trimmed.split('/').any(|part| part == "..") {
        return Err(PackageError::format(
            file,
            format,
            &format!("the entry {raw:?} leaves the root"),
        ));
    }
    let path = if trimmed.is_empty() || trimmed == "." {
        "/".to_string()
    } else {
        format!("/{trimmed}")
    };
    let kind = match entry.header().entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
        tar::EntryType::Link => EntryKind::HardLink,
        tar::EntryType::Directory => EntryKind::Directory,
        tar::EntryType::Symlink => EntryKind::Symlink,
        other => {
            return Err(PackageError::format(
                file,
                format,
                &format!("{path} is a {other:?} entry, which salve does not install"),
            ));
        }
    };
    Ok((path, kind))
}
