//! Engines run an ecosystem plugin's plan against an image and return exactly one new layer's
//! worth of changes. The local engine (here, the default) needs no daemon.

pub mod init;
pub mod local;
pub mod materialize;
pub mod paths;
pub mod sandbox;
pub mod spec;

pub use local::{Executed, Execution, ImageLayers};
