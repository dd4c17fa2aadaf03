//! How much disk a file or a folder tree takes, as `du` counts it: allocated blocks, each file
//! with several links counted once.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Counts disk usage across several trees, so that a file linked from two of them counts once.
#[derive(Debug, Default)]
pub struct DiskUsage {
    /// Device and inode of every file with more than one link already counted.
    linked: HashSet<(u64, u64)>,
}

impl DiskUsage {
    /// The bytes allocated to `path` and, for a folder, to everything under it (symbolic links
    /// are counted, not followed). What cannot be read is left out of the count.
    pub fn of(&mut self, path: &Path) -> u64 {
        let mut total = 0;
        let mut pending = vec![path.to_path_buf()];
        while let Some(path) = pending.pop() {
            let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            total += self.counted(&metadata);
            if metadata.is_dir()
                && let Ok(entries) = std::fs::read_dir(&path)
            {
                pending.extend(entries.flatten().map(|entry| entry.path()));
            }
        }
        total
    }

    /// The bytes of one file, or zero when another link to it was counted already.
    fn counted(&mut self, metadata: &std::fs::Metadata) -> u64 {
        if metadata.nlink() > 1
            && !metadata.is_dir()
            && !self.linked.insert((metadata.dev(), metadata.ino()))
        {
            return 0;
        }
        metadata.blocks() * 512
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_counts_its_blocks_and_each_linked_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("sub")).unwrap();
        std::fs::write(tree.join("sub/big"), vec![7u8; 1 << 20]).unwrap();
        std::fs::hard_link(tree.join("sub/big"), tree.join("again")).unwrap();
        std::os::unix::fs::symlink("/nowhere", tree.join("link")).unwrap();
        let bytes = DiskUsage::default().of(&tree);
        assert!((1 << 20..(1 << 20) + 64 * 1024).contains(&bytes), "{bytes}");
    }

    #[test]
    fn links_between_trees_count_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("one"), vec![1u8; 1 << 20]).unwrap();
        std::fs::hard_link(dir.path().join("one"), dir.path().join("two")).unwrap();
        let mut usage = DiskUsage::default();
        assert!(usage.of(&dir.path().join("one")) >= 1 << 20);
        assert_eq!(usage.of(&dir.path().join("two")), 0);
        assert_eq!(usage.of(&dir.path().join("missing")), 0);
    }
}
