//! Files of the packages being installed, read from their data archives for the plugin: what a
//! maintainer script would read at those paths once the packages are unpacked (the last package
//! in installation order that ships a path wins, as on disk).

use super::package::{self, Downloaded, EntryKind};
use crate::plugin::types::{FileKind, ImageFile};
use anyhow::bail;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// The files at `asked` (exact absolute paths) in `packages`, in the order asked; a path no
/// package ships is `missing`. A regular file larger than `file_cap`, or more than `total_cap`
/// bytes in all, is an error.
pub fn read(
    packages: &[Downloaded],
    asked: &[String],
    file_cap: u64,
    total_cap: u64,
) -> anyhow::Result<Vec<ImageFile>> {
    let wanted: BTreeSet<&str> = asked.iter().map(String::as_str).collect();
    let mut found: BTreeMap<String, ImageFile> = BTreeMap::new();
    let mut total = 0u64;
    for package in packages {
        // A hard link's bytes are those of the entry it names, earlier in the same archive.
        let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut hard_links: Vec<(String, String)> = Vec::new();
        package::each_data_entry(package, |path, kind, entry| {
            if !wanted.contains(path) {
                return Ok(());
            }
            let file = match kind {
                EntryKind::File => {
                    let size = entry.header().size()?;
                    if size > file_cap || total + size > total_cap {
                        return Err(std::io::Error::other(format!(
                            "{path} ({size} bytes) is more than the plugin may read"
                        )));
                    }
                    total += size;
                    let mut content = Vec::with_capacity(size as usize);
                    entry.read_to_end(&mut content)?;
                    contents.insert(path.to_string(), content.clone());
                    file(path, FileKind::File, Some(content), None)
                }
                EntryKind::HardLink => {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    let target = String::from_utf8_lossy(&target);
                    let target = format!(
                        "/{}",
                        target.trim_start_matches("./").trim_start_matches('/')
                    );
                    hard_links.push((path.to_string(), target));
                    file(path, FileKind::File, None, None)
                }
                EntryKind::Directory => file(path, FileKind::Directory, None, None),
                EntryKind::Symlink => {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    let target = String::from_utf8_lossy(&target).into_owned();
                    file(path, FileKind::Symlink, None, Some(target))
                }
            };
            found.insert(path.to_string(), file);
            Ok(())
        })?;
        let unread: BTreeSet<String> = hard_links
            .iter()
            .map(|(_, target)| target.clone())
            .filter(|target| !contents.contains_key(target))
            .collect();
        if !unread.is_empty() {
            package::each_data_entry(package, |path, kind, entry| {
                if kind == EntryKind::File && unread.contains(path) {
                    let mut content = Vec::new();
                    entry
                        .by_ref()
                        .take(file_cap.saturating_add(1))
                        .read_to_end(&mut content)?;
                    contents.insert(path.to_string(), content);
                }
                Ok(())
            })?;
        }
        for (path, target) in hard_links {
            let Some(content) = contents.get(&target) else {
                bail!(
                    "{}: the hard link {path} names {target}, which is not an earlier file",
                    package.file.display()
                );
            };
            let size = content.len() as u64;
            if size > file_cap || total + size > total_cap {
                bail!("{path} ({size} bytes) is more than the plugin may read");
            }
            total += size;
            found.insert(
                path.clone(),
                file(&path, FileKind::File, Some(content.clone()), None),
            );
        }
    }
    Ok(asked
        .iter()
        .map(|path| {
            found
                .get(path)
                .cloned()
                .unwrap_or_else(|| file(path, FileKind::Missing, None, None))
        })
        .collect())
}

/// An image file record.
fn file(
    path: &str,
    kind: FileKind,
    content: Option<Vec<u8>>,
    link_target: Option<String>,
) -> ImageFile {
    ImageFile {
        path: path.to_string(),
        kind,
        content,
        link_target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::native::deb::testing::deb_of;

    /// A tar archive of these entries: (path, kind, bytes or link target).
    fn tar_of(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, text) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(0o644);
            if kind.is_symlink() || kind.is_hard_link() {
                header.set_size(0);
                builder.append_link(&mut header, path, text).unwrap();
            } else {
                header.set_size(text.len() as u64);
                builder
                    .append_data(&mut header, path, text.as_bytes())
                    .unwrap();
            }
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn packaged_files_links_and_hard_links_are_read_the_last_package_winning() {
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let control = tar_of(&[("./control", Regular, "Package: a\n")]);
        let old = deb_of(
            first.path(),
            control.clone(),
            tar_of(&[("./etc/x.crt", Regular, "first")]),
        );
        let new = deb_of(
            second.path(),
            control,
            tar_of(&[
                ("./usr/", Directory, ""),
                ("./usr/a.crt", Regular, "certificate"),
                ("./usr/b.crt", Link, "./usr/a.crt"),
                ("./usr/c.crt", Symlink, "a.crt"),
                ("./etc/x.crt", Regular, "second"),
            ]),
        );
        let asked: Vec<String> = ["/usr/b.crt", "/usr/c.crt", "/etc/x.crt", "/usr", "/nope"]
            .map(String::from)
            .into();
        let deb = |file: std::path::PathBuf| Downloaded {
            file,
            format: crate::engine::native::package::Format::Deb,
        };
        let (old, new) = (deb(old), deb(new));
        let files = read(&[old, new.clone()], &asked, 1 << 20, 1 << 20).unwrap();
        let expected = [
            file(
                "/usr/b.crt",
                FileKind::File,
                Some(b"certificate".to_vec()),
                None,
            ),
            file("/usr/c.crt", FileKind::Symlink, None, Some("a.crt".into())),
            file("/etc/x.crt", FileKind::File, Some(b"second".to_vec()), None),
            file("/usr", FileKind::Directory, None, None),
            file("/nope", FileKind::Missing, None, None),
        ];
        assert_eq!(files, expected);
        // More than the plugin may read is an error, not a file cut short.
        let error = read(&[new], &asked, 4, 1 << 20).unwrap_err();
        assert!(
            format!("{error:#}").contains("more than the plugin may read"),
            "{error:#}"
        );
    }
}
