//! Layer blobs on disk: opening them as tar streams, and the paths of their entries.

use super::tar_end::CompleteTar;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// A layer blob as a tar stream, decompressed by its magic bytes (gzip, zstd or none), with
/// missing final padding and end blocks supplied (see `tar_end`).
pub fn open_layer(path: &Path) -> io::Result<Box<dyn Read>> {
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
    let head = reader.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(CompleteTar::new(flate2::bufread::MultiGzDecoder::new(
            reader,
        )))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(CompleteTar::new(zstd::stream::read::Decoder::with_buffer(
            reader,
        )?))
    } else {
        Box::new(CompleteTar::new(reader))
    })
}

/// An absolute, clean path (`/a/b`) from a tar entry or a query, or `None` for the root, for
/// names with `..`, and for empty names.
pub fn normalize(name: &str) -> Option<String> {
    let mut out = String::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => {
                out.push('/');
                out.push_str(part);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_and_parents_refused() {
        assert_eq!(
            normalize("./etc/os-release").as_deref(),
            Some("/etc/os-release")
        );
        assert_eq!(normalize("etc/").as_deref(), Some("/etc"));
        assert_eq!(normalize("./"), None);
        assert_eq!(normalize("../etc/passwd"), None);
        assert_eq!(normalize("a/../../b"), None);
    }
}
