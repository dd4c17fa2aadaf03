//! Alpine package files as apk-tools 2 writes them: gzip streams one after another, an optional
//! signature stream (a tar of `.SIGN.*` files), the control stream (a tar of `.PKGINFO` and
//! scripts, its end blocks cut) and the data stream (the files). A signed index gives the
//! control stream's SHA-1 (its `C:` field); the control's `.PKGINFO` gives the data stream's
//! SHA-256 (`datahash`). Both digests are of the compressed bytes, as apk-tools checks them.

use super::package::{self, Format, Listing, PackageError};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

/// The most a signature stream may hold, decompressed.
const SIGNATURE_CAP: u64 = 1 << 20;

/// Where a package file's streams are, in compressed bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Streams {
    /// The control stream.
    pub control: Range<u64>,
    /// The data stream (to the end of the file: apk-tools reads several data streams as one).
    pub data: Range<u64>,
}

/// Why a package is not the one the index names.
#[derive(Debug, thiserror::Error)]
pub enum ApkMismatch {
    /// The package file could not be read.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// A digest differs.
    #[error("its {what} is {found}, not {expected}")]
    Digest {
        /// Which digest.
        what: &'static str,
        /// What the bytes have.
        found: String,
        /// What the signed chain says.
        expected: String,
    },
}

/// Checks a package file against the signed chain: its control stream's SHA-1 is `control_sha1`
/// (lower-case hex, from the index), and its data stream's SHA-256 is the `datahash` its
/// control names.
pub fn verify(file: &Path, control_sha1: &str) -> Result<(), ApkMismatch> {
    let streams = streams(file)?;
    let found = hex::encode(digest_of::<Sha1>(file, &streams.control)?);
    if found != control_sha1 {
        return Err(ApkMismatch::Digest {
            what: "control stream's SHA-1",
            found,
            expected: control_sha1.to_string(),
        });
    }
    let control = control_of(file, &streams)?;
    let expected = data_hash(&control)
        .ok_or_else(|| {
            format_error(
                file,
                "its .PKGINFO has no datahash, so nothing signed checks its files (apk-tools 3 \
                 no longer installs such packages)",
            )
        })?
        .to_ascii_lowercase();
    let found = hex::encode(digest_of::<Sha256>(file, &streams.data)?);
    if found != expected {
        return Err(ApkMismatch::Digest {
            what: "data stream's SHA-256",
            found,
            expected,
        });
    }
    Ok(())
}

/// Lists a package file's control members and data entries (with each file's SHA-1).
pub fn list(file: &Path) -> Result<Listing, PackageError> {
    let streams = streams(file)?;
    let control = control_of(file, &streams)?;
    let entries = package::data_entries(file, Format::Apk, &mut *data(file)?)?;
    Ok(Listing { control, entries })
}

/// The data stream of a package file, decompressed.
pub fn data(file: &Path) -> Result<Box<dyn Read>, PackageError> {
    let streams = streams(file)?;
    Ok(Box::new(flate2::bufread::MultiGzDecoder::new(
        BufReader::with_capacity(1 << 16, range_of(file, &streams.data)?),
    )))
}

/// The control stream's members.
fn control_of(file: &Path, streams: &Streams) -> Result<Vec<(String, Vec<u8>)>, PackageError> {
    let compressed = BufReader::new(range_of(file, &streams.control)?);
    package::control_members(
        file,
        Format::Apk,
        flate2::bufread::GzDecoder::new(compressed)
            .take(package::CONTROL_MEMBER_CAP.saturating_mul(4)),
    )
}

/// The `datahash` line of a control stream's `.PKGINFO`.
fn data_hash(control: &[(String, Vec<u8>)]) -> Option<String> {
    let (_, info) = control.iter().find(|(name, _)| name == ".PKGINFO")?;
    String::from_utf8_lossy(info).lines().find_map(|line| {
        line.strip_prefix("datahash = ")
            .map(|value| value.trim().to_string())
    })
}

/// Where a package file's control and data streams are.
pub fn streams(file: &Path) -> Result<Streams, PackageError> {
    let io_error = PackageError::io(file);
    let handle = File::open(file).map_err(&io_error)?;
    let length = handle.metadata().map_err(&io_error)?.len();
    let members = gzip_members(BufReader::new(handle), length)
        .map_err(|reason| format_error(file, &reason))?;
    let Some(first) = members.first() else {
        return Err(format_error(file, "it holds no gzip stream"));
    };
    let signed = is_signature(file, first)?;
    let control_at = usize::from(signed);
    let (Some(control), Some(data)) = (members.get(control_at), members.get(control_at + 1)) else {
        return Err(format_error(
            file,
            "it lacks a control or a data stream after its signatures",
        ));
    };
    Ok(Streams {
        control: control.clone(),
        data: data.start..length,
    })
}

/// Whether the gzip stream at `range` holds only `.SIGN.*` files.
fn is_signature(file: &Path, range: &Range<u64>) -> Result<bool, PackageError> {
    let io_error = PackageError::io(file);
    let compressed = BufReader::new(range_of(file, range)?);
    let mut archive =
        tar::Archive::new(flate2::bufread::GzDecoder::new(compressed).take(SIGNATURE_CAP));
    let mut any = false;
    for entry in archive.entries().map_err(&io_error)? {
        let entry = entry.map_err(&io_error)?;
        if !entry.path_bytes().starts_with(b".SIGN.") {
            return Ok(false);
        }
        any = true;
    }
    Ok(any)
}

/// The byte ranges of the gzip streams in `reader` (`length` bytes), each decompressed once to
/// find its end; an error says what is wrong.
pub fn gzip_members(reader: impl BufRead, length: u64) -> Result<Vec<Range<u64>>, String> {
    let mut counted = Counted {
        inner: reader,
        at: 0,
    };
    let mut members = Vec::new();
    while counted.at < length {
        let start = counted.at;
        let mut decoder = flate2::bufread::GzDecoder::new(&mut counted);
        io::copy(&mut decoder, &mut io::sink())
            .map_err(|error| format!("the gzip stream at byte {start} is damaged: {error}"))?;
        drop(decoder);
        if counted.at == start {
            break;
        }
        members.push(start..counted.at);
    }
    if counted.at != length {
        return Err(format!(
            "{} bytes follow its last gzip stream",
            length - counted.at
        ));
    }
    Ok(members)
}

/// A buffered reader that counts what was consumed of it.
struct Counted<R: BufRead> {
    /// Where the bytes come from.
    inner: R,
    /// How many bytes were consumed.
    at: u64,
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.at += read as u64;
        Ok(read)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.at += amount as u64;
        self.inner.consume(amount);
    }
}

/// A reader of `range` of `file`.
fn range_of(file: &Path, range: &Range<u64>) -> Result<io::Take<File>, PackageError> {
    let io_error = PackageError::io(file);
    let mut handle = File::open(file).map_err(&io_error)?;
    handle
        .seek(SeekFrom::Start(range.start))
        .map_err(&io_error)?;
    Ok(handle.take(range.end - range.start))
}

/// The digest of `range` of `file`.
fn digest_of<D: Digest + io::Write>(
    file: &Path,
    range: &Range<u64>,
) -> Result<Vec<u8>, PackageError> {
    let mut hasher = D::new();
    io::copy(&mut range_of(file, range)?, &mut hasher).map_err(PackageError::io(file))?;
    Ok(hasher.finalize().to_vec())
}

/// A format error.
fn format_error(file: &Path, reason: &str) -> PackageError {
    PackageError::format(file, Format::Apk, reason)
}

/// apk package files for tests, made as abuild makes them.
#[cfg(test)]
pub(super) mod testing {
    use sha2::{Digest, Sha256};
    use std::io::Write;

    /// A gzip stream of `bytes`.
    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A tar archive of regular files, cut before its end blocks when `cut`.
    pub fn tar_of(files: &[(&str, &[u8])], cut: bool) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header.set_cksum();
            builder.append_data(&mut header, name, *bytes).unwrap();
        }
        let mut archive = builder.into_inner().unwrap();
        if cut {
            archive.truncate(archive.len() - 1024);
        }
        archive
    }

    /// The control and data streams of a package holding `data` (a tar archive), its
    /// `.PKGINFO` naming the data stream's SHA-256.
    pub fn control_and_data(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let data = gzip(data);
        let info = format!(
            "pkgname = demo\npkgver = 1-r0\ndatahash = {}\n",
            hex::encode(Sha256::digest(&data))
        );
        let control = gzip(&tar_of(&[(".PKGINFO", info.as_bytes())], true));
        (control, data)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{control_and_data, gzip, tar_of};
    use super::*;

    /// A package of a signature, control and data stream in `dir`; its control's SHA-1.
    fn package(dir: &Path, name: &str, parts: &[&[u8]]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, parts.concat()).unwrap();
        path
    }

    #[test]
    fn a_package_is_checked_by_its_control_and_data_streams() {
        let dir = tempfile::tempdir().unwrap();
        let signature = gzip(&tar_of(&[(".SIGN.RSA.key.rsa.pub", b"signature")], true));
        let (control, data) = control_and_data(&tar_of(&[("usr/bin/demo", b"demo 1\n")], false));
        let identity = hex::encode(Sha1::digest(&control));
        let good = package(dir.path(), "good.apk", &[&signature, &control, &data]);
        verify(&good, &identity).unwrap();
        let listing = list(&good).unwrap();
        assert_eq!(listing.control[0].0, ".PKGINFO");
        assert_eq!(listing.entries[0].path, "/usr/bin/demo");
        assert_eq!(
            listing.entries[0].digest.as_deref(),
            Some(hex::encode(Sha1::digest(b"demo 1\n")).as_str())
        );
        // Unsigned packages are read too: the index vouches for them.
        verify(
            &package(dir.path(), "unsigned.apk", &[&control, &data]),
            &identity,
        )
        .unwrap();

        // Other files in a valid gzip stream: the data hash the control names differs.
        let other = gzip(&tar_of(&[("usr/bin/demo", b"demo 2\n")], false));
        let swapped = package(dir.path(), "swapped.apk", &[&signature, &control, &other]);
        let error = verify(&swapped, &identity).unwrap_err().to_string();
        assert!(error.contains("data stream's SHA-256"), "{error}");
        // Another control stream: not the package the index names.
        let (other_control, other_data) =
            control_and_data(&tar_of(&[("usr/bin/demo", b"demo 2\n")], false));
        let replaced = package(dir.path(), "replaced.apk", &[&other_control, &other_data]);
        let error = verify(&replaced, &identity).unwrap_err().to_string();
        assert!(error.contains("control stream's SHA-1"), "{error}");
        // A control without a datahash, trailing bytes, a missing data stream.
        let bare = gzip(&tar_of(&[(".PKGINFO", b"pkgname = demo\n")], true));
        let error = verify(
            &package(dir.path(), "bare.apk", &[&bare, &data]),
            &hex::encode(Sha1::digest(&bare)),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("no datahash"), "{error}");
        let trailing = package(dir.path(), "trailing.apk", &[&control, &data, b"junk"]);
        assert!(verify(&trailing, &identity).is_err());
        let short = package(dir.path(), "short.apk", &[&signature, &control]);
        assert!(streams_error(&short).contains("lacks a control or a data stream"));
    }

    fn streams_error(file: &Path) -> String {
        streams(file).unwrap_err().to_string()
    }

    #[test]
    fn a_file_whose_bytes_are_not_its_recorded_sha1_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(6);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_pax_extensions([("APK-TOOLS.checksum.SHA1", "00".repeat(20).as_bytes())])
            .unwrap();
        builder
            .append_data(&mut header, "usr/bin/demo", &b"demo!\n"[..])
            .unwrap();
        let (control, data) = control_and_data(&builder.into_inner().unwrap());
        let file = package(dir.path(), "lying.apk", &[&control, &data]);
        let error = list(&file).unwrap_err().to_string();
        assert!(error.contains("not the SHA-1 its entry records"), "{error}");
    }
}
