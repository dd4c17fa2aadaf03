//! Calling a scanner plugin: `sniff` and `parse`.

use super::error::PluginError;
use super::exports::{Exports, ScannerExports};
use super::runtime::Plugin;
use super::types::UpdateManifest;

/// How much of a report `sniff` is given: its first 64 KiB, as the WIT contract says.
pub const SNIFF_WINDOW: usize = 64 * 1024;

/// A loaded plugin that exports `salve:plugin/scanner`.
#[derive(Clone, Copy)]
pub struct Scanner<'a> {
    /// The plugin.
    plugin: &'a Plugin,
    /// Its scanner exports.
    exports: &'a ScannerExports,
}

impl Plugin {
    /// This plugin as a scanner, if it is one.
    pub fn as_scanner(&self) -> Option<Scanner<'_>> {
        match self.exports() {
            Exports::Scanner(exports) => Some(Scanner {
                plugin: self,
                exports,
            }),
            Exports::Ecosystem(_) => None,
        }
    }
}

impl<'a> Scanner<'a> {
    /// The plugin underneath.
    pub fn plugin(&self) -> &'a Plugin {
        self.plugin
    }

    /// How sure the plugin is (0 to 100) that the report is in its format; above 100 counts as
    /// 100. Only the first [`SNIFF_WINDOW`] bytes are passed.
    pub fn sniff(&self, report: &[u8]) -> Result<u8, PluginError> {
        let head = &report[..report.len().min(SNIFF_WINDOW)];
        self.plugin
            .caller()
            .call(self.exports, "sniff", head.len() as u64, |plugin, store| {
                plugin.sniff(store, head)
            })
            .map(|certainty| certainty.min(100))
    }

    /// Turns the report into an update manifest.
    pub fn parse(&self, report: &[u8]) -> Result<UpdateManifest, PluginError> {
        let caller = self.plugin.caller();
        caller
            .call(
                self.exports,
                "parse",
                report.len() as u64,
                |plugin, store| plugin.parse(store, report),
            )?
            .map_err(|message| caller.rejected("parse", message))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sniff_window_is_the_one_the_sdk_documents() {
        assert_eq!(super::SNIFF_WINDOW, salve_plugin_sdk::sniff::SNIFF_WINDOW);
    }
}
