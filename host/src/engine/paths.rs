//! Expanding the plan's database paths (`*` matches within one segment, in any segment) against
//! a folder: in the sandbox against the target, on the host against the copies made from it.

use crate::image::glob::Glob;
use std::fs;
use std::io;
use std::path::Path;

/// The regular files under `root` matching the absolute `pattern`, as absolute image paths,
/// sorted. Symbolic links are not followed and `..` is refused (the pattern comes from a
/// plugin), so nothing outside `root` is reached.
pub fn expand(root: &Path, pattern: &str) -> io::Result<Vec<String>> {
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
    walk(root, String::new(), &segments, &mut found)?;
    found.sort();
    Ok(found)
}

/// Matches `segments` below `dir` (whose image path is `prefix`).
fn walk(dir: &Path, prefix: String, segments: &[&str], found: &mut Vec<String>) -> io::Result<()> {
    let Some((segment, rest)) = segments.split_first() else {
        return Ok(());
    };
    let names: Vec<String> = if segment.contains('*') {
        let glob = Glob::new(segment);
        match fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| glob.matches(name))
                .collect(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(error) if error.kind() == io::ErrorKind::NotADirectory => Vec::new(),
            Err(error) => return Err(error),
        }
    } else {
        vec![segment.to_string()]
    };
    for name in names {
        let path = dir.join(&name);
        let Ok(metadata) = fs::symlink_metadata(&path) else {
            continue;
        };
        let image_path = format!("{prefix}/{name}");
        if rest.is_empty() {
            if metadata.is_file() {
                found.push(image_path);
            }
        } else if metadata.is_dir() {
            walk(&path, image_path, rest, found)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_stars_in_any_segment_without_following_links() {
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
        std::os::unix::fs::symlink("/etc", root.join("usr/lib/python3.13")).unwrap();
        assert_eq!(
            expand(root, "/usr/lib/python3*/site-packages/*.dist-info/METADATA").unwrap(),
            vec![
                "/usr/lib/python3.11/site-packages/a-1.dist-info/METADATA",
                "/usr/lib/python3.11/site-packages/b-2.dist-info/METADATA",
            ]
        );
        assert_eq!(
            expand(root, "/var/lib/dpkg/status").unwrap(),
            vec!["/var/lib/dpkg/status"]
        );
        assert!(expand(root, "/var/lib/dpkg/status.d/*").unwrap().is_empty());
        assert!(expand(root, "/nothing/here").unwrap().is_empty());
        assert_eq!(
            expand(root, "/var/lib/../../../etc/passwd")
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            expand(root, "/./var/lib/dpkg/status").unwrap(),
            vec!["/var/lib/dpkg/status"]
        );
    }
}
