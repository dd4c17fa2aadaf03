//! Where a package's paths land in the image. dpkg writes through the image's symbolic links at
//! folders (on merged-/usr systems `/lib` is a link to `usr/lib`, and packages still ship files
//! under `/lib`), and it never replaces a link to a folder with a folder; a layer has no such
//! indirection, so every path is resolved through the image's links before it is written, and a
//! folder entry where the image has a link is left out.

use crate::image::{ImageIndex, resolve_link};
use crate::plugin::types::FileKind;

/// How many links deep a path may go.
const MAX_HOPS: usize = 40;

/// Where paths land in an image, by its index.
pub struct Placement<'a> {
    /// Every path of the image, with its kind and link target.
    index: &'a ImageIndex,
}

impl<'a> Placement<'a> {
    /// Placement in the image `index` describes.
    pub fn new(index: &'a ImageIndex) -> Placement<'a> {
        Placement { index }
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
            while let Some(target) = self.index.link_target(&current) {
                hops += 1;
                match resolve_link(&current, target) {
                    Some(resolved) if hops <= MAX_HOPS => current = resolved,
                    _ => break,
                }
            }
        }
        format!("{current}/{name}")
    }

    /// Whether the image has a link at `path` (resolved).
    pub fn is_link(&self, path: &str) -> bool {
        self.index.kind(path) == FileKind::Symlink
    }

    /// Whether the image has a folder (not a link to one) at `path` (resolved).
    pub fn is_folder(&self, path: &str) -> bool {
        self.index.kind(path) == FileKind::Directory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_resolve_through_links_and_names_stay() {
        let index = ImageIndex::of(&[
            ("/lib", FileKind::Symlink, Some("usr/lib")),
            ("/usr/lib", FileKind::Directory, None),
            ("/usr/lib/x", FileKind::Symlink, Some("/opt/x")),
            ("/loop", FileKind::Symlink, Some("loop")),
        ]);
        let placement = Placement::new(&index);
        assert_eq!(
            placement.resolve("/lib/x86_64-linux-gnu/liblzma.so.5"),
            "/usr/lib/x86_64-linux-gnu/liblzma.so.5"
        );
        assert_eq!(placement.resolve("/lib/x/y"), "/opt/x/y");
        assert_eq!(placement.resolve("/lib"), "/lib");
        assert_eq!(placement.resolve("/loop/a"), "/loop/a");
        assert!(placement.is_link("/lib") && !placement.is_folder("/lib"));
        assert!(placement.is_folder("/usr/lib"));
    }
}
