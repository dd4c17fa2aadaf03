//! A scanner plugin for `salve:plugin@0.1.0` whose `parse` has another signature: salve must
//! refuse it when it loads, naming the function, not fail on the first call.

wit_bindgen::generate!({ path: "wit", world: "scanner-plugin" });

use exports::salve::plugin::scanner::{Guest, ScannerInfo};

/// The plugin with the wrong `parse`.
struct WrongSignature;

impl Guest for WrongSignature {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            name: "wrong-signature".into(),
            version: "0.1.0".into(),
            summary: "parse takes a string".into(),
        }
    }

    fn sniff(_head: Vec<u8>) -> u8 {
        0
    }

    fn parse(report: String) -> Result<String, String> {
        Ok(report)
    }
}

export!(WrongSignature);
