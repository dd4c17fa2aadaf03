//! Version 0.4 of the plugin contract: bindings generated from `wit/v0.4/`. Its `types`
//! interface is 0.1's (the same file), so every version shares one set of Rust types; native
//! installation checks apk indexes and packages besides Debian's, and package entries carry
//! their owners and SHA-1.

/// The WIT package version these bindings were generated from.
pub const VERSION: &str = "0.4.0";

/// The `scanner-plugin` world.
mod scanner_world {
    wasmtime::component::bindgen!({
        path: "../wit/v0.4",
        world: "scanner-plugin",
        with: { "salve:plugin/types": super::super::v0_1::types },
    });
}

/// The `ecosystem-plugin` world.
mod ecosystem_world {
    wasmtime::component::bindgen!({
        path: "../wit/v0.4",
        world: "ecosystem-plugin",
        with: { "salve:plugin/types": super::super::v0_1::types },
        additional_derives: [PartialEq, Eq, Hash],
    });
}

pub use super::v0_1::types;
pub use ecosystem_world::exports::salve::plugin::ecosystem as native;
pub use ecosystem_world::{EcosystemPlugin, EcosystemPluginIndices};
pub use scanner_world::{ScannerPlugin, ScannerPluginIndices};
