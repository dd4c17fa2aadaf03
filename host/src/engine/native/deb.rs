//! Debian package files: an `ar` archive of `debian-binary`, a control archive and a data
//! archive, each tar compressed with gzip, xz or zstd (or not at all). Read twice: once to list
//! the control members and the data entries for the plugin, once to stream the data into the
//! patch layer. The data archive is decompressed once: listing keeps it, plain, beside the
//! package file (`<file>.data.tar`, written whole or not at all, its SHA-256 recorded beside it),
//! and every later read of the data, in this run or the next, takes that; listing checks the
//! copy against its SHA-256 and decompresses again when it differs.

use md5::{Digest, Md5};
use sha2::Sha256;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The largest control archive member read into memory.
const CONTROL_MEMBER_CAP: u64 = 64 << 20;

/// Why a package file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    /// Reading failed.
    #[error("{file}: {error}")]
    Io {
        /// The package file.
        file: PathBuf,
        /// The error.
        error: io::Error,
    },
    /// The file is not a Debian package as dpkg writes them.
    #[error("{file} is not a Debian package: {reason}")]
    Format {
        /// The package file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One entry of the data archive, without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataEntry {
    /// Absolute path (`/` for the archive's root).
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// A symbolic link's target.
    pub link_target: Option<String>,
    /// A regular file's MD5 (lower-case hex).
    pub md5: Option<String>,
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
pub fn list(file: &Path) -> Result<Listing, DebError> {
    let io_error = |error| DebError::Io {
        file: file.to_path_buf(),
        error,
    };
    let members = members(file)?;
    let control_member = find(file, &members, "control.tar")?;
    let mut control = Vec::new();
    let mut archive = tar::Archive::new(open_member(file, control_member)?);
    for entry in archive.entries().map_err(io_error)? {
        let mut entry = entry.map_err(io_error)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes())
            .trim_start_matches("./")
            .to_string();
        if entry.size() > CONTROL_MEMBER_CAP {
            return Err(format_error(
                file,
                &format!("control member {name} is too large"),
            ));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(io_error)?;
        control.push((name, bytes));
    }
    let plain = plain_data(file);
    let digest_file = plain_digest(file);
    // The kept plain copy, when its SHA-256 is the one recorded when it was written; a copy
    // damaged since (or half of one) is dropped, and the data decompressed again.
    if let Ok(recorded) = std::fs::read_to_string(&digest_file)
        && let Ok(handle) = File::open(&plain)
    {
        let mut reader = Digesting {
            inner: BufReader::with_capacity(1 << 16, handle),
            hasher: Sha256::new(),
        };
        if let Ok(entries) = data_entries(file, &mut reader)
            && hex::encode(reader.hasher.finalize()) == recorded.trim()
        {
            return Ok(Listing { control, entries });
        }
    }
    let _ = std::fs::remove_file(&digest_file);
    let _ = std::fs::remove_file(&plain);
    let mut decompressed = open_member(file, find(file, &members, "data.tar")?)?;
    let folder = file.parent().unwrap_or(Path::new("."));
    let Ok(temporary) = tempfile::NamedTempFile::new_in(folder) else {
        // A store that cannot be written to: the data is decompressed again later.
        let entries = data_entries(file, &mut decompressed)?;
        return Ok(Listing { control, entries });
    };
    let copy = temporary.reopen().map_err(io_error)?;
    let mut reader = Digesting {
        inner: Tee {
            inner: decompressed,
            copy: io::BufWriter::with_capacity(1 << 16, copy),
        },
        hasher: Sha256::new(),
    };
    let entries = data_entries(file, &mut reader)?;
    drop(reader.inner);
    let digest = hex::encode(reader.hasher.finalize());
    if temporary.persist(&plain).is_ok() {
        let _ = crate::image::layout::write_file_atomically(&digest_file, digest.as_bytes());
    }
    Ok(Listing { control, entries })
}

/// The entries of a data archive read from `data`, which is read to its end (the archive's
/// end blocks too).
fn data_entries(file: &Path, data: &mut dyn Read) -> Result<Vec<DataEntry>, DebError> {
    let io_error = |error| DebError::Io {
        file: file.to_path_buf(),
        error,
    };
    let mut entries = Vec::new();
    let mut archive = tar::Archive::new(&mut *data);
    for entry in archive.entries().map_err(io_error)? {
        let mut entry = entry.map_err(io_error)?;
        let (path, kind) = describe(file, &entry)?;
        let link_target = match kind {
            EntryKind::Symlink | EntryKind::HardLink => Some(
                entry
                    .link_name_bytes()
                    .map(|name| String::from_utf8_lossy(&name).into_owned())
                    .ok_or_else(|| format_error(file, &format!("{path} links to nothing")))?,
            ),
            _ => None,
        };
        let md5 = if kind == EntryKind::File {
            let mut hasher = Md5::new();
            io::copy(&mut entry, &mut hasher).map_err(io_error)?;
            Some(hex::encode(hasher.finalize()))
        } else {
            None
        };
        entries.push(DataEntry {
            path,
            kind,
            mode: entry.header().mode().map_err(io_error)? & 0o7777,
            link_target,
            md5,
        });
    }
    let rest = archive.into_inner();
    io::copy(rest, &mut io::sink()).map_err(io_error)?;
    Ok(entries)
}

/// Where the SHA-256 of the kept plain data archive is recorded.
fn plain_digest(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".data.tar.sha256");
    file.with_file_name(name)
}

/// A reader that hashes what it reads.
struct Digesting<R: Read> {
    /// Where the bytes come from.
    inner: R,
    /// Their SHA-256 so far.
    hasher: Sha256,
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        Ok(read)
    }
}

/// Where the plain data archive of the package file `file` is kept.
fn plain_data(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".data.tar");
    file.with_file_name(name)
}

/// A reader that writes what it reads to `copy`, flushed when it reaches the end.
struct Tee<R: Read, W: io::Write> {
    /// Where the bytes come from.
    inner: R,
    /// Where they are copied.
    copy: W,
}

impl<R: Read, W: io::Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.copy.write_all(&buf[..read])?;
        if read == 0 {
            self.copy.flush()?;
        }
        Ok(read)
    }
}

/// Streams the data archive of a package file to `each` (path, kind, entry), from the plain
/// copy [`list`] kept when there is one.
pub fn each_data_entry(
    file: &Path,
    mut each: impl FnMut(&str, EntryKind, &mut tar::Entry<'_, Box<dyn Read>>) -> io::Result<()>,
) -> Result<(), DebError> {
    let io_error = |error| DebError::Io {
        file: file.to_path_buf(),
        error,
    };
    let data: Box<dyn Read> = match File::open(plain_data(file)) {
        Ok(handle) => Box::new(BufReader::with_capacity(1 << 16, handle)),
        Err(_) => open_member(file, find(file, &members(file)?, "data.tar")?)?,
    };
    let mut archive = tar::Archive::new(data);
    for entry in archive.entries().map_err(io_error)? {
        let mut entry = entry.map_err(io_error)?;
        let (path, kind) = describe(file, &entry)?;
        each(&path, kind, &mut entry).map_err(io_error)?;
    }
    Ok(())
}

/// An entry's absolute path and kind; devices, FIFOs and unsafe names are errors.
fn describe<R: Read>(
    file: &Path,
    entry: &tar::Entry<'_, R>,
) -> Result<(String, EntryKind), DebError> {
    let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let trimmed = raw
        .trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/');
    if trimmed.split('/').any(|part| part == "..") {
        return Err(format_error(
            file,
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
            return Err(format_error(
                file,
                &format!("{path} is a {other:?} entry, which salve does not install"),
            ));
        }
    };
    Ok((path, kind))
}

/// One member of the `ar` archive: its name and where its bytes are.
struct Member {
    name: String,
    offset: u64,
    size: u64,
}

/// The members of a package's `ar` archive.
fn members(file: &Path) -> Result<Vec<Member>, DebError> {
    let io_error = |error| DebError::Io {
        file: file.to_path_buf(),
        error,
    };
    let mut reader = BufReader::new(File::open(file).map_err(io_error)?);
    let mut magic = [0u8; 8];
    reader.read_exact(&mut magic).map_err(io_error)?;
    if &magic != b"!<arch>\n" {
        return Err(format_error(file, "it does not start with an ar header"));
    }
    let length = reader.get_ref().metadata().map_err(io_error)?.len();
    let mut offset = 8u64;
    let mut members = Vec::new();
    while offset + 60 <= length {
        let mut header = [0u8; 60];
        reader.read_exact(&mut header).map_err(io_error)?;
        if &header[58..60] != b"`\n" {
            return Err(format_error(file, "an ar member header is damaged"));
        }
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size: u64 = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .map_err(|_| format_error(file, "an ar member has no size"))?;
        offset += 60;
        if offset + size > length {
            return Err(format_error(file, &format!("member {name} is cut short")));
        }
        members.push(Member { name, offset, size });
        offset += size + size % 2;
        reader.seek(SeekFrom::Start(offset)).map_err(io_error)?;
    }
    if members.first().map(|member| member.name.as_str()) != Some("debian-binary") {
        return Err(format_error(file, "its first member is not debian-binary"));
    }
    Ok(members)
}

/// The member whose name starts with `stem` (`control.tar`, `data.tar`).
fn find<'a>(file: &Path, members: &'a [Member], stem: &str) -> Result<&'a Member, DebError> {
    members
        .iter()
        .find(|member| member.name.starts_with(stem))
        .ok_or_else(|| format_error(file, &format!("it has no {stem} member")))
}

/// A reader of a member's decompressed bytes.
fn open_member(file: &Path, member: &Member) -> Result<Box<dyn Read>, DebError> {
    let io_error = |error| DebError::Io {
        file: file.to_path_buf(),
        error,
    };
    let mut handle = File::open(file).map_err(io_error)?;
    handle
        .seek(SeekFrom::Start(member.offset))
        .map_err(io_error)?;
    let raw = BufReader::with_capacity(1 << 16, handle.take(member.size));
    let suffix = member
        .name
        .rsplit_once(".tar")
        .map_or("", |(_, suffix)| suffix);
    Ok(match suffix {
        "" => Box::new(raw),
        ".gz" => Box::new(flate2::bufread::GzDecoder::new(raw)),
        ".xz" => Box::new(liblzma::bufread::XzDecoder::new(raw)),
        ".zst" => Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(io_error)?),
        other => {
            return Err(format_error(
                file,
                &format!(
                    "member {} is compressed as {other:?}, which salve does not read",
                    member.name
                ),
            ));
        }
    })
}

/// A format error.
fn format_error(file: &Path, reason: &str) -> DebError {
    DebError::Format {
        file: file.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Package files for tests, made the way dpkg-deb makes them.
#[cfg(test)]
pub(super) mod testing {
    use std::path::{Path, PathBuf};

    /// A package file in `dir` of a control and a data tar archive (uncompressed).
    pub fn deb_of(dir: &Path, control: Vec<u8>, data: Vec<u8>) -> PathBuf {
        let mut deb = b"!<arch>\n".to_vec();
        for (name, bytes) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control),
            ("data.tar", data),
        ] {
            deb.extend(
                format!(
                    "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    0,
                    0,
                    0,
                    100644,
                    bytes.len()
                )
                .as_bytes(),
            );
            deb.extend(&bytes);
            if bytes.len() % 2 == 1 {
                deb.push(b'\n');
            }
        }
        let path = dir.join("test.deb");
        std::fs::write(&path, deb).unwrap();
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a package file the way dpkg-deb does, with `control` and `data` tar members.
    fn build_deb(dir: &Path, control: &[(&str, &[u8])], data: &[(&str, &[u8])]) -> PathBuf {
        let tar_of = |files: &[(&str, &[u8])]| {
            let mut builder = tar::Builder::new(Vec::new());
            for (name, bytes) in files {
                // The name is written raw, so a test can make names tar would refuse.
                let mut header = tar::Header::new_old();
                header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder.append(&header, *bytes).unwrap();
            }
            builder.into_inner().unwrap()
        };
        testing::deb_of(dir, tar_of(control), tar_of(data))
    }

    #[test]
    fn members_entries_and_digests_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let deb = build_deb(
            dir.path(),
            &[
                ("./control", b"Package: a\n"),
                ("./postinst", b"#!/bin/sh\n"),
            ],
            &[("./usr/bin/a", b"hello")],
        );
        let listing = list(&deb).unwrap();
        assert_eq!(
            listing.control[0],
            ("control".to_string(), b"Package: a\n".to_vec())
        );
        assert_eq!(listing.entries[0].path, "/usr/bin/a");
        assert_eq!(
            listing.entries[0].md5.as_deref(),
            Some("5d41402abc4b2a76b9719d911017c592")
        );
        // The data was kept plain, whole: it is what later reads take, even with the package
        // file's data member unreadable.
        let plain = plain_data(&deb);
        let mut decompressed = Vec::new();
        open_member(
            &deb,
            find(&deb, &members(&deb).unwrap(), "data.tar").unwrap(),
        )
        .unwrap()
        .read_to_end(&mut decompressed)
        .unwrap();
        assert_eq!(std::fs::read(&plain).unwrap(), decompressed);
        // A kept copy damaged since, even cut where a tar reader sees an empty archive, is not
        // taken: the data is decompressed again and kept again.
        std::fs::write(&plain, b"").unwrap();
        assert_eq!(list(&deb).unwrap().entries, listing.entries);
        assert_eq!(std::fs::read(&plain).unwrap(), decompressed);
        std::fs::write(&deb, b"!<arch>\n").unwrap();
        let mut streamed = Vec::new();
        each_data_entry(&deb, |path, _, entry| {
            let mut content = Vec::new();
            entry.read_to_end(&mut content)?;
            streamed.push((path.to_string(), content));
            Ok(())
        })
        .unwrap();
        assert_eq!(streamed, [("/usr/bin/a".to_string(), b"hello".to_vec())]);
    }

    #[test]
    fn names_leaving_the_root_and_damaged_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let deb = build_deb(
            dir.path(),
            &[("./control", b"x")],
            &[("./a/../../etc/x", b"x")],
        );
        assert!(matches!(list(&deb), Err(DebError::Format { .. })));
        let bytes = std::fs::read(&deb).unwrap();
        std::fs::write(&deb, &bytes[..bytes.len() / 2]).unwrap();
        assert!(list(&deb).is_err());
        // Nothing kept of a package that could not be read.
        assert!(!plain_data(&deb).exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(&deb, b"not a package").unwrap();
        assert!(matches!(list(&deb), Err(DebError::Format { .. })));
    }
}
