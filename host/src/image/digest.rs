//! Digests: `sha256:<hex>` of bytes, and writers that hash what passes through them, so a
//! layer's diff id and digest come from the same pass that writes it.

use sha2::{Digest, Sha256};
use std::io::{self, Write};

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An OCI digest: `sha256:<hex>`, with the size of the content it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    /// `sha256:<64 hex digits>`.
    pub digest: String,
    /// The content's size in bytes.
    pub size: u64,
}

/// Passes bytes through to `inner`, hashing and counting them.
pub struct HashingWriter<W> {
    /// Where the bytes go.
    inner: W,
    /// The running hash.
    hasher: Sha256,
    /// Bytes written so far.
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The inner writer, and the digest and size of everything written through.
    pub fn finish(self) -> (W, Described) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (
            self.inner,
            Described {
                digest,
                size: self.size,
            },
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_counts_what_passes() {
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(b"hello ").unwrap();
        writer.write_all(b"world").unwrap();
        let (bytes, described) = writer.finish();
        assert_eq!(bytes, b"hello world");
        assert_eq!(described.size, 11);
        assert_eq!(
            described.digest,
            "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
    }
}
