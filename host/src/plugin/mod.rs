//! The plugin runtime: loads WebAssembly components and runs them in a sandbox.
//!
//! Plugins import nothing; every call runs in a fresh instance under a wall-clock deadline, a
//! fuel budget, a memory cap, and caps on input and output size ([`Limits`]). Compiled code is
//! cached per component and engine ([`cache`]). Plugins come from the binary and from the
//! user's folders ([`sources`]).

pub mod cache;
mod catalog;
pub mod contract;
mod ecosystem;
mod error;
mod exports;
mod json;
pub mod limits;
pub mod lock;
mod memory;
pub mod platform;
mod runtime;
mod scanner;
pub mod sources;
mod store;
mod vm;

pub use contract::latest::native;
pub use contract::latest::types;

pub use catalog::{LoadedEntry, LoadedPlugins, PluginCatalog};
pub use contract::PluginKind;
pub use ecosystem::Ecosystem;
pub use error::PluginError;
pub use limits::{LimitKind, Limits};
pub use runtime::{CacheOutcome, Plugin, PluginInfo, PluginRuntime, RuntimeOptions};
pub use scanner::Scanner;
pub use sources::{PluginEntry, PluginSearch, PluginSource};
