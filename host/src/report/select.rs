//! Choosing the scanner plugin for a report: the one named, or the one whose `sniff` is surest.

use super::error::ReportError;
use crate::plugin::{LoadedPlugins, Plugin, PluginError, Scanner};
use std::path::Path;

/// The scanner plugins a run may use.
pub struct Scanners<'a> {
    /// The scanner named with `--scanner`, or every scanner plugin that loaded.
    plugins: Vec<&'a Plugin>,
    /// True when one was named: it reads every report, unasked.
    named: bool,
}

impl<'a> Scanners<'a> {
    /// The named scanner, or every scanner plugin the run loaded.
    pub fn of(plugins: &'a LoadedPlugins, name: Option<&str>) -> Result<Scanners<'a>, ReportError> {
        if let Some(name) = name {
            let plugin = plugins.named(name)?;
            if plugin.as_scanner().is_none() {
                return Err(ReportError::Scanner(PluginError::Load {
                    plugin: name.to_string(),
                    reason: format!(
                        "it is an {} plugin, not a scanner; --scanner takes one of the scanner \
                         plugins that `salve plugins list` shows",
                        plugin.kind()
                    ),
                }));
            }
            return Ok(Scanners {
                plugins: vec![plugin],
                named: true,
            });
        }
        Ok(Scanners {
            plugins: plugins.scanners().collect(),
            named: false,
        })
    }

    /// The scanner for one report.
    pub fn choose(&self, file: &Path, report: &[u8]) -> Result<Scanner<'_>, ReportError> {
        if self.named {
            return Ok(self.plugins[0].as_scanner().expect("checked at load"));
        }
        let mut ranked = Vec::new();
        let mut tried = Vec::new();
        for plugin in &self.plugins {
            let scanner = plugin.as_scanner().expect("only scanners are kept");
            match scanner.sniff(report) {
                Ok(certainty) => {
                    tried.push(format!("{} {certainty}/100", plugin.name()));
                    if certainty > 0 {
                        ranked.push((certainty, scanner));
                    }
                }
                Err(error) => {
                    tracing::warn!("{}", crate::display_safe::one_line(&error.to_string()));
                    tried.push(format!("{} failed", plugin.name()));
                }
            }
        }
        ranked.sort_by_key(|(certainty, _)| std::cmp::Reverse(*certainty));
        match ranked.as_slice() {
            [] => Err(ReportError::Unrecognised {
                file: file.to_path_buf(),
                tried: if tried.is_empty() {
                    "no scanner plugin is loaded".into()
                } else {
                    tried.join(", ")
                },
            }),
            [(first, a), (second, b), ..] if first == second => Err(ReportError::Ambiguous {
                file: file.to_path_buf(),
                first: a.plugin().name().to_string(),
                second: b.plugin().name().to_string(),
                certainty: *first,
            }),
            [(_, best), ..] => Ok(*best),
        }
    }
}
