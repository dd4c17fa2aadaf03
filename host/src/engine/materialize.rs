//! Making an overlay upper folder written with `metacopy=on` and `redirect_dir=on` stand on its
//! own, so it can be written as a layer.
//!
//! With those options overlayfs copies only metadata when a lower file is hard-linked,
//! `chmod`ed or `chown`ed (the data stays in the lower folder, the upper file is marked
//! `trusted.overlay.metacopy` and may name its lower file in `trusted.overlay.redirect`), and a
//! renamed lower folder becomes an upper folder whose lower content is found through its
//! `redirect` attribute. That saves copying whole files up (dpkg hard-links every file it
//! replaces as a backup), but a layer needs the data: each metadata-only file gets its lower
//! data (hard links between them kept), and each redirected folder gets the lower entries it
//! shows and becomes opaque.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown};
use std::path::{Path, PathBuf};

/// Marks a metadata-only upper file.
const METACOPY: &str = "trusted.overlay.metacopy";
/// Names the lower file or folder an upper entry stands for.
const REDIRECT: &str = "trusted.overlay.redirect";
/// Marks a folder that hides the lower one.
const OPAQUE: &str = "trusted.overlay.opaque";

/// Fills in every metadata-only file and redirected folder of `upper` from `lower`.
pub fn materialize(upper: &Path, lower: &Path) -> io::Result<()> {
    let mut linked: HashMap<(u64, u64), PathBuf> = HashMap::new();
    walk(upper, lower, Path::new(""), &mut linked)
}

/// Handles the folder `upper/relative`, whose lower content is at `lower_dir` (image path).
fn walk(
    upper: &Path,
    lower: &Path,
    lower_dir: &Path,
    linked: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    let dir = upper.join(lower_dir.strip_prefix("/").unwrap_or(lower_dir));
    walk_dir(&dir, lower, lower_dir, linked)
}

/// Handles the entries of an upper folder `dir` whose lower counterpart is `lower_dir`.
fn walk_dir(
    dir: &Path,
    lower: &Path,
    lower_dir: &Path,
    linked: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let metadata = fs::symlink_metadata(&path)?;
        let default_source = lower_dir.join(&name);
        let source = match xattr::get(&path, REDIRECT)? {
            Some(redirect) => redirected(lower_dir, &redirect)?,
            None => default_source,
        };
        if metadata.is_dir() {
            if xattr::get(&path, REDIRECT)?.is_some() {
                let lower_source = lower.join(source.strip_prefix("/").unwrap_or(&source));
                if lower_source.is_dir() {
                    copy_missing(&lower_source, &path)?;
                }
                xattr::set(&path, OPAQUE, b"y")?;
                xattr::remove(&path, REDIRECT)?;
            }
            walk_dir(&path, lower, &source, linked)?;
        } else if metadata.is_file() && xattr::get(&path, METACOPY)?.is_some() {
            let key = (metadata.dev(), metadata.ino());
            if let Some(first) = linked.get(&key) {
                replace_with_link(first, &path)?;
            } else {
                let lower_source = lower.join(source.strip_prefix("/").unwrap_or(&source));
                fill_data(&path, &lower_source, &metadata)?;
                linked.insert(key, path.clone());
            }
        }
    }
    Ok(())
}

/// The image path a `redirect` value names: absolute, or relative to the parent's lower path;
/// a value with `..` is refused, so nothing outside the lower folder is ever read.
fn redirected(lower_dir: &Path, redirect: &[u8]) -> io::Result<PathBuf> {
    let text = String::from_utf8_lossy(redirect);
    if text.split('/').any(|part| part == "..") {
        return Err(io::Error::other(format!(
            "overlay redirect {text:?} leaves the image"
        )));
    }
    Ok(if text.starts_with('/') {
        PathBuf::from(text.as_ref())
    } else {
        lower_dir.join(text.as_ref())
    })
}

/// Replaces a metadata-only file by a full copy of its lower data, with the upper file's
/// metadata and extended attributes (overlay's own left out).
fn fill_data(path: &Path, source: &Path, metadata: &fs::Metadata) -> io::Result<()> {
    let temp = path.with_file_name(format!(
        ".salve-fill-{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    io::copy(&mut File::open(source)?, &mut File::create(&temp)?)?;
    copy_metadata(path, &temp, metadata)?;
    fs::rename(&temp, path)
}

/// Makes `path` a hard link to `first` (an already filled file of the same upper inode).
fn replace_with_link(first: &Path, path: &Path) -> io::Result<()> {
    let temp = path.with_file_name(format!(
        ".salve-link-{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    fs::hard_link(first, &temp)?;
    fs::rename(&temp, path)
}

/// Gives `target` the owner, mode, times and non-overlay extended attributes of `source`.
fn copy_metadata(source: &Path, target: &Path, metadata: &fs::Metadata) -> io::Result<()> {
    for name in xattr::list(source)? {
        let text = name.to_string_lossy();
        if text.starts_with("trusted.overlay.") {
            continue;
        }
        if let Some(value) = xattr::get(source, &name)? {
            xattr::set(target, &name, &value)?;
        }
    }
    lchown(target, Some(metadata.uid()), Some(metadata.gid()))?;
    fs::set_permissions(target, fs::Permissions::from_mode(metadata.mode() & 0o7777))?;
    let times = fs::FileTimes::new()
        .set_accessed(metadata.accessed()?)
        .set_modified(metadata.modified()?);
    File::open(target)?.set_times(times)
}

/// Copies the entries of the lower folder `source` that `target` has no entry for (a whiteout
/// counts as an entry), recursively, with their metadata.
fn copy_missing(source: &Path, target: &Path) -> io::Result<()> {
    for entry in fs::read_dir(source)? {
        let entry = entry?;
        let to = target.join(entry.file_name());
        if fs::symlink_metadata(&to).is_ok() {
            continue;
        }
        copy_tree(&entry.path(), &to)?;
    }
    Ok(())
}

/// Copies a lower entry and everything under it.
fn copy_tree(source: &Path, target: &Path) -> io::Result<()> {
    let metadata = fs::symlink_metadata(source)?;
    let kind = metadata.file_type();
    if kind.is_dir() {
        fs::create_dir(target)?;
        copy_missing(source, target)?;
        copy_metadata(source, target, &metadata)
    } else if kind.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(source)?, target)?;
        lchown(target, Some(metadata.uid()), Some(metadata.gid()))
    } else if kind.is_file() {
        io::copy(&mut File::open(source)?, &mut File::create(target)?)?;
        copy_metadata(source, target, &metadata)
    } else {
        // Device nodes, fifos and sockets under a renamed folder: none in package trees.
        Err(io::Error::other(format!(
            "{}: salve cannot carry this kind of file through a renamed folder",
            source.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{LayerOptions, UnpackOptions, unpack_layers, write_layer};
    use rustix::mount::{MountFlags, UnmountFlags, mount, unmount};
    use std::collections::BTreeMap;

    /// Every entry under `root`: kind, mode, owner and content.
    fn snapshot(root: &Path) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let metadata = fs::symlink_metadata(&path).unwrap();
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                let content = if metadata.is_file() {
                    fs::read_to_string(&path).unwrap()
                } else if metadata.is_dir() {
                    stack.push(path.clone());
                    "dir".into()
                } else {
                    format!("link {}", fs::read_link(&path).unwrap().display())
                };
                let description = format!(
                    "{:o} {}:{} {content}",
                    metadata.mode() & 0o7777,
                    metadata.uid(),
                    metadata.gid()
                );
                out.insert(relative, description);
            }
        }
        out
    }

    #[test]
    fn a_metacopy_upper_becomes_a_layer_equal_to_the_merged_view() {
        let dir = tempfile::tempdir().unwrap();
        let [lower, upper, work, merged] =
            ["lower", "upper", "work", "merged"].map(|name| dir.path().join(name));
        for folder in [&lower, &upper, &work, &merged] {
            fs::create_dir(folder).unwrap();
        }
        for (path, content) in [
            ("a", "A\n"),
            ("b", "B\n"),
            ("keep", "K\n"),
            ("d/x", "X\n"),
            ("d/sub/y", "Y\n"),
        ] {
            let file = lower.join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, content).unwrap();
        }
        let options = std::ffi::CString::new(format!(
            "lowerdir={},upperdir={},workdir={},metacopy=on,redirect_dir=on",
            lower.display(),
            upper.display(),
            work.display()
        ))
        .unwrap();
        mount(
            "overlay",
            &merged,
            "overlay",
            MountFlags::empty(),
            Some(options.as_c_str()),
        )
        .expect("overlay with metacopy (the tests run as root)");
        fs::set_permissions(merged.join("a"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::hard_link(merged.join("a"), merged.join("a2")).unwrap();
        fs::rename(merged.join("d"), merged.join("e")).unwrap();
        fs::write(merged.join("e/z"), "Z\n").unwrap();
        fs::remove_file(merged.join("b")).unwrap();
        lchown(merged.join("keep"), Some(1), Some(1)).unwrap();
        let expected = snapshot(&merged);
        unmount(&merged, UnmountFlags::empty()).unwrap();
        assert!(
            xattr::get(upper.join("a"), METACOPY).unwrap().is_some(),
            "the kernel made a metadata-only copy"
        );

        materialize(&upper, &lower).unwrap();
        let layer_options = LayerOptions::default();
        let lower_blob = dir.path().join("lower.blob");
        write_layer(&lower, File::create(&lower_blob).unwrap(), &layer_options).unwrap();
        let upper_blob = dir.path().join("upper.blob");
        write_layer(&upper, File::create(&upper_blob).unwrap(), &layer_options).unwrap();
        let applied = dir.path().join("applied");
        fs::create_dir(&applied).unwrap();
        unpack_layers(
            &[lower_blob, upper_blob],
            &applied,
            UnpackOptions::default(),
        )
        .unwrap();
        assert_eq!(snapshot(&applied), expected);
        assert_eq!(
            fs::metadata(applied.join("a")).unwrap().ino(),
            fs::metadata(applied.join("a2")).unwrap().ino(),
            "the hard link survives"
        );
    }
}
