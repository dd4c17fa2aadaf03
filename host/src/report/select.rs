//! Choosing the scanner plugin for a report: the one named, or the one whose `sniff` is surest.

use super::error::ReportError;
use crate::plugin::{Plugin, PluginCatalog, PluginError, Scanner};
use std::path::Path;

/// The scanner plugins a run may use.
pub struct Scanners {
    /// The scanner named with `--scanner`, or every scanner plugin that loaded.
    plugins: Vec<Plugin>,
    /// True when one was named: it reads every report, unasked.
    named: bool,
}

impl Scanners {
    /// Loads the named scanner, or every scanner plugin in the catalog.
    pub fn load(catalog: &PluginCatalog, name: Option<&str>) -> Result<Scanners, ReportError> {
        if let Some(name) = name {
            let plugin = catalog.load(name)?;
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
        let mut scanners = Vec::new();
        for loaded in catalog.load_all() {
            match loaded.plugin {
                Ok(plugin) if plugin.as_scanner().is_some() => scanners.push(plugin),
                Ok(_) => {}
                // The run's time is over: no other plugin would load either.
                Err(error) if error.is_run_over() => return Err(ReportError::Scanner(error)),
                Err(error) => tracing::warn!(
                    "skipping a plugin that failed to load: {}",
                    crate::display_safe::one_line(&error.to_string())
                ),
            }
        }
        Ok(Scanners {
            plugins: scanners,
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
