//! salve: patches vulnerable packages inside container images, with every package ecosystem
//! and scanner format a sandboxed WebAssembly plugin.
//!
//! This crate is the host: the `salve` binary ([`cli`]) and the library it is a thin shell over.

pub mod cli;
pub mod display_safe;
pub mod engine;
pub mod image;
pub mod patch;
pub mod plugin;
pub mod registry;
pub mod report;
