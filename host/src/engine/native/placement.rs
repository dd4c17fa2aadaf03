//! Where a package's paths land in the image. dpkg writes through the image's symbolic links at
//! folders (on merged-/usr systems `/lib` is a link to `usr/lib`, and packages still ship files
//! under `/lib`), and it never replaces a link to a folder with a folder; a layer has no such
//! indirection, so every path is resolved through the image's links before it is written, and a
//! folder entry where the image has a link is left out.

use crate::image::{ReadError, read_kinds, resolve_link};
use crate::plugin::types::FileKind;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// How many links deep a path may go.
const MAX_HOPS: usize = 40;

/// The image's links at folders above the paths it was made for.
#[derive(Debug, Default)]
pub struct Placement {
    /// Link path to the absolute path it points at.
    links: BTreeMap<String, String>,
    /// Paths (resolved) that are folders in the image.
    folders: BTreeSet<String>,
}

impl Placement {
    /// Reads the links above `paths` (and their kinds) from the image's layers.
    pub fn read<'a>(
        layers: &[PathBuf],
        paths: impl Iterator<Item = &'a str> + Clone,
    ) -> Result<Placement, ReadError> {
        let mut placement = Placement::default();
        let mut asked: BTreeSet<String> = BTreeSet::new();
        for _ in 0..MAX_HOPS {
            let mut wanted: BTreeSet<String> = BTreeSet::new();
            for path in paths.clone() {
                let resolved = placement.resolve(path);
                wanted.extend(ancestors(&resolved).filter(|folder| !asked.contains(folder)));
                if !asked.contains(&resolved) {
                    wanted.insert(resolved);
                }
            }
            if wanted.is_empty() {
                break;
            }
            let wanted: Vec<String> = wanted.into_iter().collect();
            for file in read_kinds(layers, &wanted)? {
                match &file.link_target {
                    Some(target) => {
                        if let Some(resolved) = resolve_link(&file.path, target) {
                            placement.links.insert(file.path.clone(), resolved);
                        }
                    }
                    None if file.kind == FileKind::Directory => {
                        placement.folders.insert(file.path.clone());
                    }
                    None => {}
                }
            }
            asked.extend(wanted);
        }
        Ok(placement)
    }

    /// Where `path` lands: its folders resolved through the image's links, its own name kept.
    pub fn resolve(&self, path: &str) -> String {
        let Some((parent, name)) = path.rsplit_once('/') else {
            return path.to_string();
        };
        let mut current = String::new();
        for segment in parent.split('/').filter(|segment| !segment.is_empty()) {
            current = format!("{current}/{segment}");
            let mut hops = 0;
            while let Some(target) = self.links.get(&current) {
                hops += 1;
                if hops > MAX_HOPS {
                    break;
                }
                current = target.clone();
            }
        }
        format!("{current}/{name}")
    }

    /// Whether the image has a link at `path` (resolved).
    pub fn is_link(&self, path: &str) -> bool {
        self.links.contains_key(path)
    }

    /// Whether the image has a folder (not a link to one) at `path` (resolved).
    pub fn is_folder(&self, path: &str) -> bool {
        self.folders.contains(path) && !self.is_link(path)
    }
}

/// The folders above `path`, outermost first.
fn ancestors(path: &str) -> impl Iterator<Item = String> + '_ {
    path.match_indices('/')
        .filter(|(index, _)| *index > 0)
        .map(|(index, _)| path[..index].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_resolve_through_links_and_names_stay() {
        let placement = Placement {
            links: [
                ("/lib".to_string(), "/usr/lib".to_string()),
                ("/usr/lib/x".to_string(), "/opt/x".to_string()),
            ]
            .into(),
            folders: BTreeSet::new(),
        };
        assert_eq!(
            placement.resolve("/lib/x86_64-linux-gnu/liblzma.so.5"),
            "/usr/lib/x86_64-linux-gnu/liblzma.so.5"
        );
        assert_eq!(placement.resolve("/lib/x/y"), "/opt/x/y");
        assert_eq!(placement.resolve("/lib"), "/lib");
        assert_eq!(placement.resolve("/etc/passwd"), "/etc/passwd");
        assert_eq!(ancestors("/a/b/c").collect::<Vec<_>>(), ["/a", "/a/b"]);
    }
}
