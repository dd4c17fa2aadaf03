//! Image content: layer blobs, their compression and digests, reading files from them,
//! unpacking them safely, writing and merging patch layers, assembling patched images, and the
//! working OCI layout every part reads and writes.

pub mod assemble;
pub mod blob;
pub mod compression;
pub mod config;
pub mod convert;
pub mod digest;
pub mod glob;
pub mod layer_reader;
pub mod layer_writer;
pub mod layout;
pub mod manifest;
pub mod platform_image;
pub mod rootfs_cache;
pub mod sink;
pub mod squash;
pub mod tar_end;
pub mod tree_reader;
pub mod unpack;

pub use compression::Compression;
pub use layer_reader::{
    ImageIndex, KEPT_FILE_BYTES, ReadError, Status, read_paths, read_paths_indexed,
    read_paths_within, resolve_link,
};
pub use layer_writer::{LayerOptions, write_layer};
pub use layout::{LayoutError, OciLayout};
pub use platform_image::{ImageError, ImageLayers, PlatformImage};
pub use rootfs_cache::{CacheError, CachedRootfs, RootfsCache};
pub use sink::WrittenLayer;
pub use squash::squash;
pub use tree_reader::{TreeReadError, read_tree_paths_within};
pub use unpack::{UnpackError, UnpackOptions, UnpackReport, unpack_layers};
