//! Fuzzes the osv scanner's `sniff` and `parse` natively: any input must give a certainty or an
//! error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use salve_plugin_sdk::Scanner;

fuzz_target!(|report: &[u8]| {
    let _ = salve_plugin_osv::Osv::sniff(report);
    let _ = salve_plugin_osv::Osv::parse(report);
});
