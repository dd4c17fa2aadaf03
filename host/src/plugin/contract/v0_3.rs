//! Version 0.3 of the plugin contract: bindings generated from `wit/v0.3/`. Its `types`
//! interface is 0.1's (the same file), so every version shares one set of Rust types; native
//! installation reads the packages' files and image paths' statuses, and writes links.

/// The WIT package version these bindings were generated from.
pub const VERSION: &str = "0.3.0";

/// The `scanner-plugin` world.
mod scanner_world {
    wasmtime::component::bindgen!({
        path: "../wit/v0.3",
        world: "scanner-plugin",
        with: { "salve:plugin/types": super::super::v0_1::types },
    });
}

/// The `ecosystem-plugin` world.
mod ecosystem_world {
    wasmtime::component::bindgen!({
        path: "../wit/v0.3",
        world: "ecosystem-plugin",
        with: { "salve:plugin/types": super::super::v0_1::types },
        additional_derives: [PartialEq, Eq, Hash],
    });
}

pub use super::v0_1::types;
pub use ecosystem_world::exports::salve::plugin::ecosystem as native;
pub use ecosystem_world::{EcosystemPlugin, EcosystemPluginIndices};
pub use scanner_world::{ScannerPlugin, ScannerPluginIndices};
