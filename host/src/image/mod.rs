//! Image content: layer blobs, their compression and digests.

pub mod compression;
pub mod digest;
pub mod layer_writer;

pub use compression::Compression;
pub use layer_writer::{LayerOptions, WrittenLayer, write_layer};
