//! Calling a scanner plugin: `sniff` and `parse`.

use super::contract::PluginKind;
use super::error::PluginError;
use super::runtime::Plugin;
use super::types::UpdateManifest;

/// How much of a report `sniff` is given: its first 64 KiB, as the WIT contract says.
pub const SNIFF_WINDOW: usize = 64 * 1024;

/// A loaded plugin that exports `salve:plugin/scanner`.
#[derive(Clone, Copy)]
pub struct Scanner<'a>(&'a Plugin);

impl Plugin {
    /// This plugin as a scanner, if it is one.
    pub fn as_scanner(&self) -> Option<Scanner<'_>> {
        (self.kind() == PluginKind::Scanner).then_some(Scanner(self))
    }
}

impl<'a> Scanner<'a> {
    /// The plugin underneath.
    pub fn plugin(&self) -> &'a Plugin {
        self.0
    }

    /// How sure the plugin is (0 to 100) that the report is in its format; above 100 counts as
    /// 100. Only the first [`SNIFF_WINDOW`] bytes are passed.
    pub fn sniff(&self, report: &[u8]) -> Result<u8, PluginError> {
        let head = &report[..report.len().min(SNIFF_WINDOW)];
        self.0
            .sandbox()
            .call::<(&[u8],), (u8,)>("sniff", (head,), head.len() as u64)
            .map(|(certainty,)| certainty.min(100))
    }

    /// Turns the report into an update manifest.
    pub fn parse(&self, report: &[u8]) -> Result<UpdateManifest, PluginError> {
        let (result,) = self
            .0
            .sandbox()
            .call::<(&[u8],), (Result<UpdateManifest, String>,)>(
                "parse",
                (report,),
                report.len() as u64,
            )?;
        result.map_err(|message| self.0.sandbox().rejected("parse", message))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sniff_window_is_the_one_the_sdk_documents() {
        assert_eq!(super::SNIFF_WINDOW, salve_plugin_sdk::sniff::SNIFF_WINDOW);
    }
}
