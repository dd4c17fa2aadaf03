//! Where a layer's tar goes: hashed (the diff id), compressed, hashed again (the digest) and
//! written to a file, in one pass.

use super::compression::{Compression, Encoder};
use super::digest::{Described, HashingWriter};
use std::fs::File;
use std::io;

/// A written layer: its blob's digest and size, its diff id, and its media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenLayer {
    /// The compressed blob: digest and size.
    pub blob: Described,
    /// The uncompressed tar: its digest is the layer's diff id.
    pub tar: Described,
    /// The OCI media type of the blob.
    pub media_type: &'static str,
    /// How many entries the tar holds.
    pub entries: usize,
}

/// The writer a layer's tar is built on.
pub type TarWriter = HashingWriter<Box<dyn Encoder<HashingWriter<File>>>>;

/// Starts a layer blob in `out`: returns the writer to build the tar on.
pub fn start(out: File, compression: Compression, threads: usize) -> io::Result<TarWriter> {
    let encoder = compression.encoder(HashingWriter::new(out), threads)?;
    Ok(HashingWriter::new(encoder))
}

/// Finishes a layer blob from the tar's finished writer: flushes the compression, syncs the file,
/// and describes both the tar and the blob.
pub fn finish(
    tar: TarWriter,
    compression: Compression,
    entries: usize,
) -> io::Result<WrittenLayer> {
    let (encoder, tar_described) = tar.finish();
    let (file, blob_described) = encoder.finish()?.finish();
    file.sync_all()?;
    Ok(WrittenLayer {
        blob: blob_described,
        tar: tar_described,
        media_type: compression.oci_media_type(),
        entries,
    })
}
