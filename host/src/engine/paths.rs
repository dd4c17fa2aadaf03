//! Paths a plan names (database paths, with `*` matching within one segment) resolved inside a
//! folder: the target after the steps, the copies made from it, the results folder the steps
//! wrote. A plan comes from a plugin and the folder's contents from the image's programs, so
//! every path is resolved as in a chroot (`openat2` with `RESOLVE_IN_ROOT`): `..` and absolute
//! symbolic links stop at the folder, a link that leads out lands inside it, and `/proc`-style
//! magic links are refused. Reads are capped: a file's size is checked before it is read, and
//! reading stops at what is left of the cap even if the file grows meanwhile.

use crate::image::glob::Glob;
use crate::quantity::format_bytes;
use rustix::fs::{Dir, FileType, Mode, OFlags, ResolveFlags, fstat, openat2};
use rustix::io::Errno;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

/// A folder that plan paths are resolved inside.
pub struct Root {
    /// The folder, opened as a path handle.
    dir: OwnedFd,
}

/// How many bytes may still be read back, shared by every file of one read-back.
#[derive(Clone, Copy, Debug)]
pub struct ReadBudget {
    /// The whole budget: the plugin input cap.
    cap: u64,
    /// What is left of it.
    left: u64,
}

impl ReadBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: u64) -> ReadBudget {
        ReadBudget { cap, left: cap }
    }

    /// The error for a file that does not fit.
    fn exceeded(&self, path: &str, size: u64) -> io::Error {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "the database file {path:?} ({}) does not fit in what is left of the plugin \
                 input cap of {} (--plugin-max-input / SALVE_PLUGIN_MAX_INPUT); it was not read",
                format_bytes(size),
                format_bytes(self.cap)
            ),
        )
    }
}

impl Root {
    /// Opens `folder` as the root paths are resolved in.
    pub fn open(folder: &Path) -> io::Result<Root> {
        let dir = rustix::fs::open(
            folder,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { dir })
    }

    /// Opens an image path inside the root.
    fn open_at(&self, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
        let relative = path.trim_start_matches('/');
        let relative = if relative.is_empty() { "." } else { relative };
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        Ok(openat2(
            &self.dir,
            relative,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        )?)
    }

    /// What an image path is, after links (inside the root); `None` if it cannot be reached.
    fn file_type(&self, path: &str) -> Option<FileType> {
        let fd = self.open_at(path, OFlags::PATH).ok()?;
        Some(FileType::from_raw_mode(fstat(&fd).ok()?.st_mode))
    }

    /// The regular files matching the absolute `pattern`, as image paths, sorted. `..` in the
    /// pattern is refused with a clear error (resolution would keep it inside the root anyway).
    pub fn expand(&self, pattern: &str) -> io::Result<Vec<String>> {
        let segments: Vec<&str> = pattern
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        if segments.contains(&"..") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the plan's path {pattern:?} has `..`, which could lead out of the image"),
            ));
        }
        let mut found = Vec::new();
        self.walk(String::new(), &segments, &mut found)?;
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// Matches `segments` below the image path `prefix`.
    fn walk(&self, prefix: String, segments: &[&str], found: &mut Vec<String>) -> io::Result<()> {
        let Some((segment, rest)) = segments.split_first() else {
            return Ok(());
        };
        let names = if segment.contains('*') {
            self.matching_names(&prefix, &Glob::new(segment))?
        } else {
            vec![segment.to_string()]
        };
        for name in names {
            let image_path = format!("{prefix}/{name}");
            match self.file_type(&image_path) {
                Some(FileType::RegularFile) if rest.is_empty() => found.push(image_path),
                Some(FileType::Directory) if !rest.is_empty() => {
                    self.walk(image_path, rest, found)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The names in the folder at `path` that `glob` matches (none if it is not a folder).
    fn matching_names(&self, path: &str, glob: &Glob) -> io::Result<Vec<String>> {
        let fd = match self.open_at(path, OFlags::RDONLY | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(error) if unreachable(&error) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut names = Vec::new();
        for entry in Dir::new(fd)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != "." && name != ".." && glob.matches(&name) {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// Opens the regular file at an image path and checks its size against the budget.
    fn open_within(&self, path: &str, budget: &ReadBudget) -> io::Result<(File, u64)> {
        let file = File::from(self.open_at(path, OFlags::RDONLY)?);
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path:?} is not a regular file"),
            ));
        }
        if metadata.len() > budget.left {
            return Err(budget.exceeded(path, metadata.len()));
        }
        Ok((file, metadata.len()))
    }

    /// Reads the regular file at an image path, taking its size from the budget.
    pub fn read(&self, path: &str, budget: &mut ReadBudget) -> io::Result<Vec<u8>> {
        let (file, size) = self.open_within(path, budget)?;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(budget.left.saturating_add(1))
            .read_to_end(&mut bytes)?;
        take_from(budget, path, bytes.len() as u64)?;
        Ok(bytes)
    }

    /// Copies the regular file at an image path into `out`, taking its size from the budget.
    pub fn copy(
        &self,
        path: &str,
        out: &mut impl Write,
        budget: &mut ReadBudget,
    ) -> io::Result<()> {
        let (file, _) = self.open_within(path, budget)?;
        let copied = io::copy(&mut file.take(budget.left.saturating_add(1)), out)?;
        take_from(budget, path, copied)
    }
}

/// Takes `read` bytes from the budget, failing if the file grew past it while being read.
fn take_from(budget: &mut ReadBudget, path: &str, read: u64) -> io::Result<()> {
    if read > budget.left {
        return Err(budget.exceeded(path, read));
    }
    budget.left -= read;
    Ok(())
}

/// Errors that mean "nothing to match here" while expanding a pattern.
fn unreachable(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error().map(Errno::from_raw_os_error),
        Some(Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::ACCESS)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// A folder with a few image files, a link inside it, and links that lead out of it.
    fn sample() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in [
            "usr/lib/python3.11/site-packages/a-1.dist-info/METADATA",
            "usr/lib/python3.11/site-packages/b-2.dist-info/METADATA",
            "usr/lib/python3.12/site-packages/c-3.dist-info/RECORD",
            "var/lib/dpkg/status",
        ] {
            let file = root.join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, "x").unwrap();
        }
        // An absolute link inside the image: resolved as the image sees it.
        symlink("/var/lib/dpkg/status", root.join("var/lib/status-link")).unwrap();
        // Links that would lead out of the folder on the host.
        symlink("/etc", root.join("usr/lib/python3.13")).unwrap();
        symlink("../../../../../../etc/passwd", root.join("var/lib/escape")).unwrap();
        dir
    }

    #[test]
    fn expands_stars_in_any_segment_inside_the_root() {
        let dir = sample();
        let root = Root::open(dir.path()).unwrap();
        assert_eq!(
            root.expand("/usr/lib/python3*/site-packages/*.dist-info/METADATA")
                .unwrap(),
            vec![
                "/usr/lib/python3.11/site-packages/a-1.dist-info/METADATA",
                "/usr/lib/python3.11/site-packages/b-2.dist-info/METADATA",
            ]
        );
        assert_eq!(
            root.expand("/./var/lib/dpkg/status").unwrap(),
            vec!["/var/lib/dpkg/status"]
        );
        assert!(root.expand("/var/lib/dpkg/status.d/*").unwrap().is_empty());
        assert!(root.expand("/nothing/here").unwrap().is_empty());
        assert_eq!(
            root.expand("/var/lib/../../../etc/passwd")
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn links_are_followed_only_inside_the_root() {
        let dir = sample();
        let root = Root::open(dir.path()).unwrap();
        let mut budget = ReadBudget::new(1 << 20);
        assert_eq!(
            root.read("/var/lib/status-link", &mut budget).unwrap(),
            b"x"
        );
        // `/etc` of the host is `<root>/etc` here, which does not exist.
        assert!(
            root.expand("/usr/lib/python3.13/passwd")
                .unwrap()
                .is_empty()
        );
        assert!(root.read("/var/lib/escape", &mut budget).is_err());
        assert!(
            root.read("/usr/lib/python3.13/hostname", &mut budget)
                .is_err()
        );
    }

    #[test]
    fn reads_stop_at_the_budget_before_reading() {
        let dir = sample();
        let big = dir.path().join("var/lib/big");
        // A sparse gigabyte: refused by its size, without reading a byte of it.
        File::create(&big).unwrap().set_len(1 << 30).unwrap();
        let root = Root::open(dir.path()).unwrap();
        let mut budget = ReadBudget::new(16 << 20);
        let error = root.read("/var/lib/big", &mut budget).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
        assert!(error.to_string().contains("16 MiB"), "{error}");
        // The budget is shared: two files of 1 byte fit in 2, a third does not.
        let mut budget = ReadBudget::new(2);
        root.read("/var/lib/dpkg/status", &mut budget).unwrap();
        let mut copy = Vec::new();
        root.copy("/var/lib/status-link", &mut copy, &mut budget)
            .unwrap();
        assert_eq!(copy, b"x");
        assert!(root.read("/var/lib/dpkg/status", &mut budget).is_err());
    }
}
