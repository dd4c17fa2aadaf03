//! Guest bindings generated from `wit/` for the two plugin worlds.
//!
//! Both worlds share one set of generated types (`types`), so a plugin author sees one
//! `Finding`, one `OsInfo`, and so on, whichever world the plugin exports.

/// Bindings for the `scanner-plugin` world; also the home of the shared types.
pub mod scanner_world {
    wit_bindgen::generate!({
        path: "wit/v0.4",
        world: "scanner-plugin",
        pub_export_macro: true,
        export_macro_name: "export_scanner_world",
        default_bindings_module: "salve_plugin_sdk::__private::scanner_world",
        additional_derives: [PartialEq, Eq],
    });
}

/// Bindings for the `ecosystem-plugin` world, reusing the scanner world's types.
pub mod ecosystem_world {
    wit_bindgen::generate!({
        path: "wit/v0.4",
        world: "ecosystem-plugin",
        pub_export_macro: true,
        export_macro_name: "export_ecosystem_world",
        default_bindings_module: "salve_plugin_sdk::__private::ecosystem_world",
        additional_derives: [PartialEq, Eq],
        with: {
            "salve:plugin/types@0.4.0": crate::bindings::types,
        },
    });
}

pub use ecosystem_world::exports::salve::plugin::ecosystem as native;
pub use scanner_world::salve::plugin::types;
