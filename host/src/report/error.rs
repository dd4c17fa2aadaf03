//! What can go wrong turning reports into update manifests.

use crate::plugin::PluginError;
use crate::quantity::format_bytes;
use std::path::PathBuf;
use thiserror::Error;

/// An error reading, recognising, parsing or checking a report.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The report file or directory could not be read.
    #[error("cannot read report {}: {error}", file.display())]
    Read {
        /// The file or directory.
        file: PathBuf,
        /// Why.
        error: std::io::Error,
    },

    /// A report directory holds no report.
    #[error("report directory {} holds no report files", .0.display())]
    EmptyDirectory(PathBuf),

    /// The report is larger than the plugins' input cap.
    #[error(
        "report {} is {}, more than the plugin input cap of {}; raise it with --plugin-max-input \
         if the report is genuine",
        file.display(), format_bytes(*size), format_bytes(*limit)
    )]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        limit: u64,
    },

    /// No scanner plugin is available, or the one named is not a scanner.
    #[error(transparent)]
    Scanner(#[from] PluginError),

    /// No scanner plugin is named and none recognises the report.
    #[error(
        "no scanner plugin recognises report {} (tried: {tried}); name its format with --scanner, \
         or add a plugin for it with --plugin",
        file.display()
    )]
    Unrecognised {
        /// The file.
        file: PathBuf,
        /// Each scanner tried, with its certainty or error.
        tried: String,
    },

    /// Two scanner plugins are equally sure.
    #[error(
        "scanner plugins {first} and {second} are equally sure ({certainty}/100) that they read \
         report {}; choose one with --scanner",
        file.display()
    )]
    Ambiguous {
        /// The file.
        file: PathBuf,
        /// One plugin.
        first: String,
        /// The other.
        second: String,
        /// Their certainty.
        certainty: u8,
    },

    /// The scanner plugin failed or rejected the report.
    #[error("report {}: {error}", file.display())]
    Plugin {
        /// The file.
        file: PathBuf,
        /// The plugin's error.
        error: PluginError,
    },

    /// The manifest has findings that are not safe to act on.
    #[error(
        "report {} (read by {scanner}) has findings salve will not act on:\n  {}\nthe report may be \
         corrupt or crafted; fix or regenerate it",
        file.display(), problems.join("\n  ")
    )]
    Unsafe {
        /// The file.
        file: PathBuf,
        /// The plugin that read it.
        scanner: String,
        /// One line per problem, naming the finding.
        problems: Vec<String>,
    },

    /// A report in a directory of reports names no platform.
    #[error(
        "report {} names no platform; in a directory of reports each must name its platform \
         (Trivy: Metadata.ImageConfig.architecture)",
        .0.display()
    )]
    NoPlatform(PathBuf),

    /// Two reports in a directory name the same platform.
    #[error(
        "reports {} and {} are both for platform {platform}; a report directory holds one \
         report per platform",
        first.display(), second.display()
    )]
    DuplicatePlatform {
        /// The platform.
        platform: String,
        /// The first report for it.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
}

impl ReportError {
    /// Why the run stopped, when a scanner plugin could not be loaded or called because of the
    /// run's cancellation (`--timeout` running out, or Ctrl-C).
    pub fn cancelled(&self) -> Option<crate::cancel::Cancelled> {
        match self {
            ReportError::Scanner(error) | ReportError::Plugin { error, .. } => error.cancelled(),
            _ => None,
        }
    }
}
