//! A scanner plugin that imports `wasi:filesystem/preopens`: salve must refuse to load it and
//! name the import.

wit_bindgen::generate!({ path: "wit", world: "wasi-import", generate_all });

use exports::salve::plugin::scanner::{Guest, ScannerInfo, UpdateManifest};

/// The plugin that wants the filesystem.
struct WasiImport;

impl Guest for WasiImport {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            name: "wasi-import".into(),
            version: "0.1.0".into(),
            summary: "imports wasi:filesystem (test plugin)".into(),
        }
    }

    fn sniff(_report: Vec<u8>) -> u8 {
        0
    }

    fn parse(_report: Vec<u8>) -> Result<UpdateManifest, String> {
        let directories = wasi::filesystem::preopens::get_directories();
        Err(format!("saw {} directories", directories.len()))
    }
}

export!(WasiImport);
