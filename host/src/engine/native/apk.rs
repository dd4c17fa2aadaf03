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
