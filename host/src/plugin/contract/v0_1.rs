//! Version 0.1 of the plugin contract: bindings generated from `wit/v0.1/`.

/// The WIT package version these bindings were generated from.
pub const VERSION: &str = "0.1.0";

/// The `scanner-plugin` world, and the home of the shared `types` interface.
mod scanner_world {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
        world: "scanner-plugin",
        additional_derives: [PartialEq, Eq, Hash],
    });
}

/// The `ecosystem-plugin` world, sharing the scanner world's types.
mod ecosystem_world {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
        world: "ecosystem-plugin",
        with: { "salve:plugin/types": super::scanner_world::salve::plugin::types },
    });
}

pub use ecosystem_world::{EcosystemPlugin, EcosystemPluginIndices};
pub use scanner_world::salve::plugin::types;
pub use scanner_world::{ScannerPlugin, ScannerPluginIndices};
