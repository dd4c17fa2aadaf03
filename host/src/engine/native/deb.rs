//! Debian package files: an `ar` archive of `debian-binary`, a control archive and a data
//! archive, each tar compressed with gzip, xz or zstd (or not at all). Read twice: once to list
//! the control members and the data entries for the plugin, once to stream the data into the
//! patch layer. The data archive is decompressed once: listing keeps it, plain, beside the
//! package file (`<file>.data.tar`, written whole or not at all, its SHA-256 recorded beside it),
//! and every later read of the data, in this run or the next, takes that; listing checks the
//! copy against its SHA-256 and decompresses again when it differs.

use super::package::{self, DataEntry, Format, Listing, PackageError};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Lists a package file's control members and data entries.
pub fn list(file: &Path) -> Result<Listing, PackageError> {
    let io_error = PackageError::io(file);
    let members = members(file)?;
    let control = package::control_members(
        file,
        Format::Deb,
        open_member(file, find(file, &members, "control.tar")?)?,
    )?;
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
        if let Ok(entries) = entries(file, &mut reader)
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
        let entries = entries(file, &mut decompressed)?;
        return Ok(Listing { control, entries });
    };
    let copy = temporary.reopen().map_err(&io_error)?;
    let mut reader = Digesting {
        inner: Tee {
            inner: decompressed,
            copy: io::BufWriter::with_capacity(1 << 16, copy),
        },
        hasher: Sha256::new(),
    };
    let entries = entries(file, &mut reader)?;
    drop(reader.inner);
    let digest = hex::encode(reader.hasher.finalize());
    if temporary.persist(&plain).is_ok() {
        let _ = crate::image::layout::write_file_atomically(&digest_file, digest.as_bytes());
    }
    Ok(Listing { control, entries })
}

/// The entries of a data archive read from `data`, to its end.
fn entries(file: &Path, data: &mut dyn Read) -> Result<Vec<DataEntry>, PackageError> {
    package::data_entries(file, Format::Deb, data)
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

/// The data archive of a package file, decompressed: the plain copy [`list`] kept when there is
/// one.
pub fn data(file: &Path) -> Result<Box<dyn Read>, PackageError> {
    Ok(match File::open(plain_data(file)) {
        Ok(handle) => Box::new(BufReader::with_capacity(1 << 16, handle)),
        Err(_) => open_member(file, find(file, &members(file)?, "data.tar")?)?,
    })
}

/// One member of the `ar` archive: its name and where its bytes are.
struct Member {
    name: String,
    offset: u64,
    size: u64,
}

/// The members of a package's `ar` archive.
fn members(file: &Path) -> Result<Vec<Member>, PackageError> {
    let io_error = PackageError::io(file);
    let mut reader = BufReader::new(File::open(file).map_err(&io_error)?);
    let mut magic = [0u8; 8];
    reader.read_exact(&mut magic).map_err(&io_error)?;
    if &magic != b"!<arch>\n" {
        return Err(format_error(file, "it does not start with an ar header"));
    }
    let length = reader.get_ref().metadata().map_err(&io_error)?.len();
    let mut offset = 8u64;
    let mut members = Vec::new();
    while offset + 60 <= length {
        let mut header = [0u8; 60];
        reader.read_exact(&mut header).map_err(&io_error)?;
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
        reader.seek(SeekFrom::Start(offset)).map_err(&io_error)?;
    }
    if members.first().map(|member| member.name.as_str()) != Some("debian-binary") {
        return Err(format_error(file, "its first member is not debian-binary"));
    }
    Ok(members)
}

/// The member whose name starts with `stem` (`control.tar`, `data.tar`).
fn find<'a>(file: &Path, members: &'a [Member], stem: &str) -> Result<&'a Member, PackageError> {
    members
        .iter()
        .find(|member| member.name.starts_with(stem))
        .ok_or_else(|| format_error(file, &format!("it has no {stem} member")))
}

/// A reader of a member's decompressed bytes.
fn open_member(file: &Path, member: &Member) -> Result<Box<dyn Read>, PackageError> {
    let io_error = PackageError::io(file);
    let mut handle = File::open(file).map_err(&io_error)?;
    handle
        .seek(SeekFrom::Start(member.offset))
        .map_err(&io_error)?;
    let raw = BufReader::with_capacity(1 << 16, handle.take(member.size));
    let suffix = member
        .name
        .rsplit_once(".tar")
        .map_or("", |(_, suffix)| suffix);
    Ok(match suffix {
        "" => Box::new(raw),
        ".gz" => Box::new(flate2::bufread::GzDecoder::new(raw)),
        ".xz" => Box::new(liblzma::bufread::XzDecoder::new(raw)),
        ".zst" => Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(&io_error)?),
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
fn format_error(file: &Path, reason: &str) -> PackageError {
    PackageError::format(file, Format::Deb, reason)
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
            listing.entries[0].digest.as_deref(),
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
        let downloaded = package::Downloaded {
            file: deb.clone(),
            format: Format::Deb,
        };
        package::each_data_entry(&downloaded, |path, _, entry| {
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
        assert!(matches!(list(&deb), Err(PackageError::Format { .. })));
        let bytes = std::fs::read(&deb).unwrap();
        std::fs::write(&deb, &bytes[..bytes.len() / 2]).unwrap();
        assert!(list(&deb).is_err());
        // Nothing kept of a package that could not be read.
        assert!(!plain_data(&deb).exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(&deb, b"not a package").unwrap();
        assert!(matches!(list(&deb), Err(PackageError::Format { .. })));
    }
}
