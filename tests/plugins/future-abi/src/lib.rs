//! A scanner plugin for `salve:plugin@0.9.0`: this salve must refuse it and say which versions it
//! supports.

wit_bindgen::generate!({ path: "wit", world: "scanner-plugin" });

use exports::salve::plugin::scanner::{Guest, ScannerInfo};

/// The plugin from the future.
struct FutureAbi;

impl Guest for FutureAbi {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            name: "future-abi".into(),
            version: "0.9.0".into(),
        }
    }
}

export!(FutureAbi);
