//! Python wheels: zip archives of a distribution's files, paths relative to the environment's
//! site-packages folder, with one `<name>-<version>.dist-info/` folder. Listed for the plugin
//! (every entry at `/` and its name, each file's SHA-256; the `.dist-info` files as control
//! members) and streamed into the patch layer as a tar archive made from the zip, whose
//! entries the plugin places (the host writes nothing of a wheel where its name says).

use super::package::{CONTROL_MEMBER_CAP, DataEntry, EntryKind, Format, Listing, PackageError};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::Path;

/// The most the files of one wheel may hold, decompressed (a zip bomb stops here).
const WHEEL_CAP: u64 = 8 << 30;

/// Lists a wheel's `.dist-info` files and entries.
pub fn list(file: &Path) -> Result<Listing, PackageError> {
    let mut archive = open(file)?;
    let dist_info = dist_info(file, &archive)?;
    let mut control = Vec::new();
    let mut entries = Vec::new();
    let mut total = 0u64;
    for at in 0..archive.len() {
        let mut member = archive
            .by_index(at)
            .map_err(|error| zip_error(file, error))?;
        let (path, kind, mode) = describe(file, &member)?;
        let mut digest = None;
        let mut size = 0;
        if kind == EntryKind::File {
            let mut hasher = Sha256::new();
            let mut bytes = Vec::new();
            let keep = path.starts_with(&format!("/{dist_info}/"));
            let copied = copy_capped(file, &mut member, &mut total, |chunk| {
                hasher.update(chunk);
                if keep && (bytes.len() as u64) < CONTROL_MEMBER_CAP {
                    bytes.extend_from_slice(chunk);
                }
            })?;
            if keep {
                if copied > CONTROL_MEMBER_CAP {
                    return Err(format_error(file, &format!("{path} is too large")));
                }
                control.push((path[dist_info.len() + 2..].to_string(), bytes));
            }
            digest = Some(hex::encode(hasher.finalize()));
            size = copied;
        }
        entries.push(DataEntry {
            path,
            kind,
            mode,
            size,
            uid: 0,
            gid: 0,
            link_target: None,
            digest,
        });
    }
    Ok(Listing { control, entries })
}

/// The wheel's entries as a tar archive (made afresh in an unnamed temporary file).
pub fn data(file: &Path) -> Result<Box<dyn Read>, PackageError> {
    let io_error = PackageError::io(file);
    let mut archive = open(file)?;
    let mut copy = tempfile::tempfile().map_err(&io_error)?;
    {
        let mut builder = tar::Builder::new(io::BufWriter::new(&mut copy));
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut total = 0u64;
        for at in 0..archive.len() {
            let mut member = archive
                .by_index(at)
                .map_err(|error| zip_error(file, error))?;
            let (path, kind, mode) = describe(file, &member)?;
            let mut header = tar::Header::new_gnu();
            header.set_mode(mode);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(mtime);
            let relative = path.trim_start_matches('/');
            if kind == EntryKind::Directory {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{relative}/"), io::empty())
                    .map_err(&io_error)?;
                continue;
            }
            let mut bytes = Vec::new();
            copy_capped(file, &mut member, &mut total, |chunk| {
                bytes.extend_from_slice(chunk)
            })?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(bytes.len() as u64);
            builder
                .append_data(&mut header, relative, bytes.as_slice())
                .map_err(&io_error)?;
        }
        builder
            .into_inner()
            .map_err(&io_error)?
            .flush()
            .map_err(&io_error)?;
    }
    copy.rewind().map_err(&io_error)?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, copy)))
}

/// The zip archive of a wheel file.
fn open(file: &Path) -> Result<zip::ZipArchive<BufReader<File>>, PackageError> {
    let handle = File::open(file).map_err(PackageError::io(file))?;
    zip::ZipArchive::new(BufReader::new(handle)).map_err(|error| zip_error(file, error))
}

/// The name of the wheel's one `.dist-info` folder at its top.
fn dist_info(
    file: &Path,
    archive: &zip::ZipArchive<BufReader<File>>,
) -> Result<String, PackageError> {
    let mut folders: Vec<String> = Vec::new();
    for name in archive.file_names() {
        let name = name.map_err(|error| zip_error(file, error))?;
        if let Some((folder, _)) = name.split_once('/')
            && folder.ends_with(".dist-info")
        {
            folders.push(folder.to_string());
        }
    }
    folders.sort();
    folders.dedup();
    match folders.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format_error(file, "it has no .dist-info folder")),
        _ => Err(format_error(
            file,
            &format!("it has {} .dist-info folders", folders.len()),
        )),
    }
}

/// An entry's path (`/` and its name), kind and mode: as pip extracts it, a file is 0755 when
/// its archive marks it executable, else 0644; names leaving the wheel are errors.
fn describe<R: Read>(
    file: &Path,
    member: &zip::read::ZipFile<'_, R>,
) -> Result<(String, EntryKind, u32), PackageError> {
    let name = member.name().map_err(|error| zip_error(file, error))?;
    let trimmed = name.trim_end_matches('/');
    if trimmed.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || trimmed
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(format_error(
            file,
            &format!("the entry {name:?} leaves the wheel"),
        ));
    }
    if member.is_dir() {
        return Ok((format!("/{trimmed}"), EntryKind::Directory, 0o755));
    }
    let executable = member.unix_mode().is_some_and(|mode| mode & 0o111 != 0);
    let mode = if executable { 0o755 } else { 0o644 };
    Ok((format!("/{trimmed}"), EntryKind::File, mode))
}

/// Reads a member to its end through `each`, counting against the wheel's cap; its size.
fn copy_capped(
    file: &Path,
    member: &mut impl Read,
    total: &mut u64,
    mut each: impl FnMut(&[u8]),
) -> Result<u64, PackageError> {
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let read = member.read(&mut buffer).map_err(PackageError::io(file))?;
        if read == 0 {
            return Ok(size);
        }
        size += read as u64;
        *total += read as u64;
        if *total > WHEEL_CAP {
            return Err(format_error(file, "it decompresses to more than 8 GiB"));
        }
        each(&buffer[..read]);
    }
}

/// A zip error.
fn zip_error(file: &Path, error: zip::result::ZipError) -> PackageError {
    format_error(file, &error.to_string())
}

/// A format error.
fn format_error(file: &Path, reason: &str) -> PackageError {
    PackageError::format(file, Format::Wheel, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::native::package;
    use zip::write::SimpleFileOptions;

    /// A wheel in `dir` of these (name, bytes, unix mode) files.
    fn wheel(dir: &Path, files: &[(&str, &[u8], u32)]) -> std::path::PathBuf {
        let path = dir.join("demo-1.0-py3-none-any.whl");
        let mut writer = zip::ZipWriter::new(File::create(&path).unwrap());
        for (name, bytes, mode) in files {
            writer
                .start_file(*name, SimpleFileOptions::default().unix_permissions(*mode))
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap();
        path
    }

    #[test]
    fn entries_digests_and_dist_info_are_listed_and_streamed_as_tar() {
        let dir = tempfile::tempdir().unwrap();
        let file = wheel(
            dir.path(),
            &[
                ("demo/__init__.py", b"VERSION = 1\n", 0o644),
                ("demo-1.0.data/scripts/demo", b"#!python\nprint(1)\n", 0o755),
                (
                    "demo-1.0.dist-info/METADATA",
                    b"Name: demo\nVersion: 1.0\n",
                    0o644,
                ),
                ("demo-1.0.dist-info/RECORD", b"", 0o644),
            ],
        );
        let listing = list(&file).unwrap();
        let names: Vec<&str> = listing
            .control
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(names, ["METADATA", "RECORD"]);
        assert_eq!(listing.entries[0].path, "/demo/__init__.py");
        assert_eq!(
            listing.entries[0].digest.as_deref(),
            Some(hex::encode(Sha256::digest(b"VERSION = 1\n")).as_str())
        );
        assert_eq!(listing.entries[1].mode, 0o755);
        assert_eq!(listing.entries[0].mode, 0o644);
        let downloaded = package::Downloaded {
            file: file.clone(),
            format: Format::Wheel,
        };
        let mut streamed = Vec::new();
        package::each_data_entry(&downloaded, |path, kind, entry| {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            streamed.push((path.to_string(), kind, bytes));
            Ok(())
        })
        .unwrap();
        assert_eq!(streamed.len(), 4);
        assert_eq!(
            streamed[1],
            (
                "/demo-1.0.data/scripts/demo".to_string(),
                EntryKind::File,
                b"#!python\nprint(1)\n".to_vec()
            )
        );
    }

    #[test]
    fn names_leaving_the_wheel_and_missing_metadata_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let escaping = wheel(
            dir.path(),
            &[
                ("../../etc/passwd", b"x", 0o644),
                ("demo-1.0.dist-info/METADATA", b"", 0o644),
            ],
        );
        let error = list(&escaping).unwrap_err().to_string();
        assert!(error.contains("leaves the wheel"), "{error}");
        let bare = wheel(dir.path(), &[("demo/__init__.py", b"", 0o644)]);
        let error = list(&bare).unwrap_err().to_string();
        assert!(error.contains("no .dist-info folder"), "{error}");
        std::fs::write(&bare, b"not a zip").unwrap();
        assert!(list(&bare).is_err());
    }
}
