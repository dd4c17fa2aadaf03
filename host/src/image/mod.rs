//! Image content: layer blobs, their compression and digests, and reading files from them.

pub mod compression;
pub mod digest;
pub mod glob;
pub mod layer_reader;
pub mod layer_writer;

pub use compression::Compression;
pub use layer_reader::{ReadError, read_paths};
pub use layer_writer::{LayerOptions, WrittenLayer, write_layer};
