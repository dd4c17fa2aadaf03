//! salve: patches vulnerable packages inside container images, with every package ecosystem
//! and scanner format a sandboxed WebAssembly plugin.
//!
//! This crate is the host: the `salve` binary ([`cli`]) and the library it is a thin shell over.
//! Modules lower in this list never import higher ones: [`display_safe`] and [`progress`] serve
//! everyone; [`cache`] keeps the cache folder shared between processes and under its bound;
//! [`plugin`] runs plugins; [`image`] holds image content and the working OCI layout;
//! [`transport`] moves images between the places skopeo names; [`mirror`] says where packages
//! come from for one run; [`report`] reads scanner reports; [`plugin_kit`] makes and builds
//! plugin crates; [`plugin_store`] publishes and installs plugins as registry artifacts;
//! [`engine`] runs a plan's steps; [`patch`] is the flow that uses them all; [`bulk`] runs many
//! patches at once; [`cli`] the commands.

pub mod bulk;
pub mod cache;
pub mod cancel;
pub mod cli;
pub mod display_safe;
pub mod engine;
pub mod image;
pub mod mirror;
pub mod patch;
pub mod plugin;
pub mod plugin_kit;
pub mod plugin_store;
pub mod progress;
pub mod quantity;
pub mod report;
pub mod transport;
