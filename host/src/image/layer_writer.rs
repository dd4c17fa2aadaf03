//! Turning a directory of changes (an overlay upper directory) into an OCI layer blob.
//!
//! - Overlay whiteouts (character devices 0:0) become `.wh.<name>` entries; directories marked
//!   opaque (`trusted.overlay.opaque` or `user.overlay.opaque` = `y`) get a `.wh..wh..opq` entry.
//! - The output is deterministic: entries in byte order of their paths, no user or group names,
//!   modification times clamped to a given time, overlay's own attributes dropped; the same
//!   directory gives the same bytes.
//! - Hard links inside the directory stay hard links; other extended attributes (file
//!   capabilities, say) are kept as PAX records.
//! - The diff id (sha256 of the tar) and the digest (sha256 of the compressed blob) are computed
//!   in the same pass that writes the blob.

use super::compression::Compression;
use super::sink::{self, WrittenLayer};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Options for writing a layer.
#[derive(Clone, Debug)]
pub struct LayerOptions {
    /// The blob's compression.
    pub compression: Compression,
    /// Compression threads.
    pub threads: usize,
    /// Modification times later than this (seconds since the epoch) are clamped to it.
    pub clamp_mtime: Option<u64>,
}

impl Default for LayerOptions {
    fn default() -> Self {
        LayerOptions {
            compression: Compression::Gzip,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            clamp_mtime: None,
        }
    }
}

/// Marks a whiteout in an OCI layer.
const WHITEOUT_PREFIX: &str = ".wh.";

/// Marks an opaque directory in an OCI layer.
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// The extended attributes overlayfs uses to mark opaque directories.
const OPAQUE_XATTRS: [&str; 2] = ["trusted.overlay.opaque", "user.overlay.opaque"];

/// Writes the changes in `upper` as a layer blob into `out`.
pub fn write_layer(upper: &Path, out: File, options: &LayerOptions) -> io::Result<WrittenLayer> {
    let mut tar = tar::Builder::new(sink::start(out, options.compression, options.threads)?);
    tar.follow_symlinks(false);
    let mut walker = Walker {
        upper,
        options,
        tar: &mut tar,
        hard_links: HashMap::new(),
        entries: 0,
    };
    walker.directory(Path::new(""))?;
    let entries = walker.entries;
    sink::finish(tar.into_inner()?, options.compression, entries)
}

/// Walks the upper directory in sorted order, appending tar entries.
struct Walker<'a, W: Write> {
    /// The directory of changes.
    upper: &'a Path,
    /// How to write.
    options: &'a LayerOptions,
    /// The tar being written.
    tar: &'a mut tar::Builder<W>,
    /// The first path seen for each (device, inode) with more than one link.
    hard_links: HashMap<(u64, u64), PathBuf>,
    /// Entries written so far.
    entries: usize,
}

impl<W: Write> Walker<'_, W> {
    /// Appends the entries of one directory (relative to the upper directory), sorted.
    fn directory(&mut self, relative: &Path) -> io::Result<()> {
        let absolute = self.upper.join(relative);
        let mut names: Vec<_> = fs::read_dir(&absolute)?
            .map(|entry| entry.map(|entry| entry.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        if is_opaque(&absolute) && !relative.as_os_str().is_empty() {
            self.marker(&relative.join(OPAQUE_MARKER))?;
        }
        for name in names {
            let path = relative.join(&name);
            let metadata = fs::symlink_metadata(self.upper.join(&path))?;
            let file_type = metadata.file_type();
            if file_type.is_char_device() && metadata.rdev() == 0 {
                let whiteout = format!("{WHITEOUT_PREFIX}{}", name.to_string_lossy());
                self.marker(&relative.join(whiteout))?;
                continue;
            }
            self.entry(&path, &metadata)?;
            if file_type.is_dir() {
                self.directory(&path)?;
            }
        }
        Ok(())
    }

    /// Appends one file, directory, link or device.
    fn entry(&mut self, path: &Path, metadata: &fs::Metadata) -> io::Result<()> {
        let absolute = self.upper.join(path);
        let file_type = metadata.file_type();
        let mut header = tar::Header::new_gnu();
        header.set_mode(metadata.mode() & 0o7777);
        header.set_uid(u64::from(metadata.uid()));
        header.set_gid(u64::from(metadata.gid()));
        let mtime = u64::try_from(metadata.mtime()).unwrap_or(0);
        header.set_mtime(
            self.options
                .clamp_mtime
                .map_or(mtime, |clamp| mtime.min(clamp)),
        );
        self.pax_xattrs(&absolute)?;

        if file_type.is_file() && metadata.nlink() > 1 {
            let key = (metadata.dev(), metadata.ino());
            if let Some(first) = self.hard_links.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                let first = first.clone();
                self.tar.append_link(&mut header, path, first)?;
                self.entries += 1;
                return Ok(());
            }
            self.hard_links.insert(key, path.to_path_buf());
        }

        if file_type.is_file() {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(metadata.len());
            self.tar
                .append_data(&mut header, path, File::open(&absolute)?)?;
        } else if file_type.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            self.tar.append_data(&mut header, path, io::empty())?;
        } else if file_type.is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            let target = fs::read_link(&absolute)?;
            self.tar.append_link(&mut header, path, target)?;
        } else {
            let kind = if file_type.is_char_device() {
                tar::EntryType::Char
            } else if file_type.is_block_device() {
                tar::EntryType::Block
            } else if file_type.is_fifo() {
                tar::EntryType::Fifo
            } else {
                // Sockets cannot be stored in a tar; a running service left one behind.
                return Ok(());
            };
            header.set_entry_type(kind);
            header.set_size(0);
            let rdev = metadata.rdev();
            header.set_device_major(rustix::fs::major(rdev))?;
            header.set_device_minor(rustix::fs::minor(rdev))?;
            self.tar.append_data(&mut header, path, io::empty())?;
        }
        self.entries += 1;
        Ok(())
    }

    /// Appends an empty marker file (a whiteout or an opaque marker).
    fn marker(&mut self, path: &Path) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(self.options.clamp_mtime.unwrap_or(0));
        self.tar.append_data(&mut header, path, io::empty())?;
        self.entries += 1;
        Ok(())
    }

    /// Writes the path's extended attributes (but overlay's own) as a PAX header, if it has any.
    fn pax_xattrs(&mut self, path: &Path) -> io::Result<()> {
        let mut records = Vec::new();
        let Ok(names) = xattr::list(path) else {
            return Ok(());
        };
        let mut names: Vec<_> = names.collect();
        names.sort();
        for name in names {
            let text = name.to_string_lossy();
            if text.starts_with("trusted.overlay.") || text.starts_with("user.overlay.") {
                continue;
            }
            if let Some(value) = xattr::get(path, &name)? {
                records.push((format!("SCHILY.xattr.{text}"), value));
            }
        }
        if !records.is_empty() {
            self.tar.append_pax_extensions(
                records
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_slice())),
            )?;
        }
        Ok(())
    }
}

/// True when overlayfs marked the directory opaque.
fn is_opaque(path: &Path) -> bool {
    OPAQUE_XATTRS.iter().any(|name| {
        xattr::get(path, name)
            .ok()
            .flatten()
            .is_some_and(|value| value == b"y")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::digest::sha256;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    /// An upper directory like overlayfs leaves after a package upgrade: changed files, a new
    /// symlink, a hard link, a removed file (whiteout) and a replaced directory (opaque).
    fn upper_directory() -> tempfile::TempDir {
        assert!(
            rustix::process::geteuid().is_root(),
            "these tests make whiteout devices and trusted xattrs, as overlayfs does: run as root"
        );
        let upper = tempfile::tempdir().unwrap();
        let root = upper.path();
        fs::create_dir_all(root.join("usr/lib/x86_64-linux-gnu")).unwrap();
        fs::write(
            root.join("usr/lib/x86_64-linux-gnu/libssl.so.3"),
            b"new library",
        )
        .unwrap();
        fs::create_dir_all(root.join("usr/bin")).unwrap();
        fs::write(root.join("usr/bin/openssl"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(
            root.join("usr/bin/openssl"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        fs::hard_link(
            root.join("usr/bin/openssl"),
            root.join("usr/bin/openssl-link"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "libssl.so.3",
            root.join("usr/lib/x86_64-linux-gnu/libssl.so"),
        )
        .unwrap();
        fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        fs::write(root.join("var/lib/dpkg/status"), b"Package: libssl3\n").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("var/lib/dpkg/removed-file"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0),
            rustix::fs::makedev(0, 0),
        )
        .unwrap();
        fs::create_dir_all(root.join("etc/ssl/certs")).unwrap();
        fs::write(root.join("etc/ssl/certs/ca.pem"), b"cert").unwrap();
        xattr::set(root.join("etc/ssl/certs"), "trusted.overlay.opaque", b"y").unwrap();
        upper
    }

    /// Writes a layer of `upper` into a fresh file and returns it with the file's path.
    fn write(upper: &Path, options: &LayerOptions) -> (WrittenLayer, tempfile::TempPath) {
        let out = tempfile::NamedTempFile::new().unwrap();
        let file = out.reopen().unwrap();
        let layer = write_layer(upper, file, options).unwrap();
        (layer, out.into_temp_path())
    }

    /// `tar -tv` of an uncompressed tar, by GNU tar.
    fn listing(tar: &[u8]) -> String {
        let mut child = Command::new("tar")
            .args(["-tvf", "-", "--numeric-owner"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(tar).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn whiteouts_opaque_directories_links_and_digests() {
        let upper = upper_directory();
        let options = LayerOptions {
            clamp_mtime: Some(1_700_000_000),
            ..LayerOptions::default()
        };
        let (layer, path) = write(upper.path(), &options);
        let blob = fs::read(&path).unwrap();
        assert_eq!(layer.blob.digest, sha256(&blob));
        assert_eq!(layer.blob.size, blob.len() as u64);
        assert_eq!(
            layer.media_type,
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );

        let output = Command::new("gzip")
            .args(["-dc"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(output.status.success(), "gzip reads the blob");
        let tar = output.stdout;
        assert_eq!(
            layer.tar.digest,
            sha256(&tar),
            "the diff id is the tar's digest"
        );

        let listing = listing(&tar);
        let names: Vec<&str> = listing
            .lines()
            .map(|line| line.split_whitespace().nth(5).unwrap())
            .collect();
        assert_eq!(names.len(), layer.entries);
        let position = |name: &str| {
            names
                .iter()
                .position(|n| *n == name)
                .unwrap_or_else(|| panic!("{name} is not in:\n{listing}"))
        };
        assert!(
            position("etc/ssl/certs") < position("etc/ssl/certs/.wh..wh..opq")
                && position("etc/ssl/certs/.wh..wh..opq") < position("etc/ssl/certs/ca.pem"),
            "the opaque marker follows its directory, before its content:\n{listing}"
        );
        assert!(
            names.contains(&"var/lib/dpkg/.wh.removed-file"),
            "{listing}"
        );
        // Markers carry owners as numbers, which strict tar readers require.
        for entry in tar::Archive::new(tar.as_slice()).entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            let path = entry.path().unwrap().display().to_string();
            assert!(header.uid().is_ok() && header.gid().is_ok(), "{path}");
        }
        assert!(
            !listing.lines().any(|line| line.starts_with('c')),
            "the whiteout device itself is not stored:\n{listing}"
        );
        assert!(
            listing.contains("usr/bin/openssl-link link to usr/bin/openssl"),
            "{listing}"
        );
        assert!(
            listing.contains("usr/lib/x86_64-linux-gnu/libssl.so -> libssl.so.3"),
            "{listing}"
        );
        assert!(listing.contains("-rwxr-xr-x 0/0"), "{listing}");
        assert!(
            listing.contains("2023-11-14"),
            "times are clamped:\n{listing}"
        );
    }

    #[test]
    fn the_same_changes_give_the_same_bytes() {
        let upper = upper_directory();
        let options = LayerOptions {
            clamp_mtime: Some(1_700_000_000),
            ..LayerOptions::default()
        };
        let (first, _a) = write(upper.path(), &options);
        let (second, _b) = write(upper.path(), &options);
        assert_eq!(first, second);
        let single = LayerOptions {
            threads: 1,
            ..options.clone()
        };
        let (one_thread, _c) = write(upper.path(), &single);
        assert_eq!(
            one_thread.tar, first.tar,
            "the tar does not depend on threads"
        );
    }

    #[test]
    fn zstd_and_plain_layers_hold_the_same_tar() {
        let upper = upper_directory();
        let clamp = Some(1_700_000_000);
        let (gzip, _a) = write(
            upper.path(),
            &LayerOptions {
                clamp_mtime: clamp,
                ..LayerOptions::default()
            },
        );
        let (zstd_layer, zstd_path) = write(
            upper.path(),
            &LayerOptions {
                compression: Compression::Zstd,
                clamp_mtime: clamp,
                ..LayerOptions::default()
            },
        );
        let (plain, plain_path) = write(
            upper.path(),
            &LayerOptions {
                compression: Compression::None,
                clamp_mtime: clamp,
                ..LayerOptions::default()
            },
        );
        assert_eq!(zstd_layer.tar, gzip.tar);
        assert_eq!(plain.tar, gzip.tar);
        assert_eq!(plain.blob, plain.tar);
        let decoded = zstd::decode_all(File::open(&zstd_path).unwrap()).unwrap();
        assert_eq!(sha256(&decoded), gzip.tar.digest);
        assert_eq!(fs::read(&plain_path).unwrap(), decoded);
        assert_eq!(
            zstd_layer.media_type,
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
    }
}
