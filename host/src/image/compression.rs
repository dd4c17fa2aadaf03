//! How layers are compressed: gzip (in parallel blocks, like pigz) or zstd (multi-threaded).

use std::io::{self, Write};
use std::str::FromStr;

/// The compression of a layer blob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// gzip, the format every registry and runtime reads.
    #[default]
    Gzip,
    /// zstd: smaller and faster, read by containerd 1.5+, Docker 23+, podman.
    Zstd,
    /// No compression.
    None,
}

impl Compression {
    /// The OCI media type of a layer with this compression.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
        }
    }

    /// A writer that compresses into `out` with `threads` threads; `finish` flushes the format's
    /// trailer and returns `out`.
    pub fn encoder<W: Write + Send + 'static>(
        self,
        out: W,
        threads: usize,
    ) -> io::Result<Box<dyn Encoder<W>>> {
        Ok(match self {
            Compression::Gzip => Box::new(GzipEncoder(
                gzp::ZBuilder::<gzp::deflate::Gzip, W>::new()
                    .num_threads(threads.max(1))
                    .compression_level(gzp::Compression::new(6))
                    .from_writer(out),
            )),
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, 3)?;
                encoder.multithread(threads.max(1) as u32)?;
                Box::new(ZstdEncoder(encoder))
            }
            Compression::None => Box::new(Plain(out)),
        })
    }
}

/// A compression name salve does not know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown compression {0:?}: use gzip, zstd or none")]
pub struct UnknownCompression(pub String);

impl FromStr for Compression {
    type Err = UnknownCompression;

    fn from_str(text: &str) -> Result<Compression, UnknownCompression> {
        match text {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "none" => Ok(Compression::None),
            other => Err(UnknownCompression(other.to_string())),
        }
    }
}

/// A compressing writer that can be finished.
pub trait Encoder<W>: Write {
    /// Writes the trailer and returns the inner writer.
    fn finish(self: Box<Self>) -> io::Result<W>;
}

/// gzip in parallel blocks.
struct GzipEncoder<W>(Box<dyn gzp::ZWriter<W>>);

impl<W> Write for GzipEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W> Encoder<W> for GzipEncoder<W> {
    fn finish(mut self: Box<Self>) -> io::Result<W> {
        self.0.finish().map_err(io::Error::other)
    }
}

/// Multi-threaded zstd.
struct ZstdEncoder<W: Write>(zstd::stream::write::Encoder<'static, W>);

impl<W: Write> Write for ZstdEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> Encoder<W> for ZstdEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<W> {
        self.0.finish()
    }
}

/// No compression.
struct Plain<W>(W);

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> Encoder<W> for Plain<W> {
    fn finish(self: Box<Self>) -> io::Result<W> {
        Ok(self.0)
    }
}
