//! What can go wrong loading or calling a plugin, each naming the plugin and what to do.

use super::contract::{ContractVersion, supported_versions};
use super::limits::LimitKind;
use crate::cancel::Cancelled;
use crate::display_safe::one_line;
use std::path::PathBuf;
use thiserror::Error;

/// An error from the plugin runtime.
#[derive(Debug, Error)]
pub enum PluginError {
    /// No plugin of that name is known.
    #[error("no plugin named {name:?}; known plugins: {known}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },

    /// A plugin replaces another of its name while overrides are refused.
    #[error(
        "{}, and --no-plugin-override (SALVE_NO_PLUGIN_OVERRIDE) refuses that; remove \
         the file or run without the switch",
        one_line(notice)
    )]
    Override {
        /// Where the plugin comes from and what it replaces.
        notice: String,
    },

    /// An installed plugin's bytes are not the ones its lock entry names.
    #[error("{0}")]
    LockMismatch(Box<LockMismatch>),

    /// The plugin file could not be read.
    #[error("cannot read plugin file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },

    /// A plugin the run asked for by name failed to load when the run loaded its plugins; the
    /// message is that failure's.
    #[error("{message}")]
    Unavailable {
        /// Why it did not load.
        message: String,
    },

    /// The bytes are not a component wasmtime can compile, or fail another load-time check.
    #[error("plugin {plugin} cannot be loaded: {reason}")]
    Load {
        /// The plugin.
        plugin: String,
        /// Why.
        reason: String,
    },

    /// The component imports something; salve plugins may import nothing.
    #[error(
        "plugin {plugin} cannot be loaded: it imports {}; salve grants plugins no imports \
         (no WASI filesystem, network, clock or environment), so rebuild it without them",
        imports.join(", ")
    )]
    Imports {
        /// The plugin.
        plugin: String,
        /// Every import the component declares.
        imports: Vec<String>,
    },

    /// A function of the exported interface has another signature than the contract's.
    #[error(
        "plugin {plugin} cannot be loaded: its functions do not have the signatures of {export} \
         ({reason}); it exports {}",
        functions.join("; ")
    )]
    Signatures {
        /// The plugin.
        plugin: String,
        /// The interface it exports.
        export: String,
        /// What wasmtime found different.
        reason: String,
        /// The functions it exports, with their signatures in WIT-like notation.
        functions: Vec<String>,
    },

    /// The component exports a salve interface of an incompatible WIT version.
    #[error(
        "plugin {plugin} was built for {found}, but this salve supports salve:plugin@{} \
         (built with {}); rebuild the plugin with a matching salve-plugin-sdk, or use a \
         salve release that supports {found}",
        supported_versions(),
        ContractVersion::LATEST.package_version()
    )]
    Version {
        /// The plugin.
        plugin: String,
        /// The package and version it was built for.
        found: String,
    },

    /// The component exports no salve interface at all.
    #[error(
        "plugin {plugin} exports neither salve:plugin/scanner nor salve:plugin/ecosystem \
         (it exports: {}); build it with salve-plugin-sdk's export_scanner! or export_ecosystem!",
        if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
    )]
    NoInterface {
        /// The plugin.
        plugin: String,
        /// What it does export.
        exports: Vec<String>,
    },

    /// A call broke one of the limits.
    #[error(
        "plugin {plugin} was stopped in `{call}`: it exceeded the {limit}{}",
        limit.setting().map(|s| format!("; raise it with {s} if the plugin is trusted")).unwrap_or_default()
    )]
    Limit {
        /// The plugin.
        plugin: String,
        /// The function called.
        call: &'static str,
        /// The limit broken.
        limit: LimitKind,
    },

    /// The run was interrupted (Ctrl-C) before or during the call.
    #[error("plugin {plugin} was stopped in `{call}`: interrupted")]
    Interrupted {
        /// The plugin.
        plugin: String,
        /// The function.
        call: &'static str,
    },

    /// The plugin trapped (a panic, an abort, a bug).
    #[error("plugin {plugin} failed in `{call}`: {message}")]
    Trap {
        /// The plugin.
        plugin: String,
        /// The function called.
        call: &'static str,
        /// What wasmtime reported.
        message: String,
    },

    /// The plugin ran fine and returned an error of its own (a malformed report, say).
    #[error(
        "plugin {plugin} rejected the input in `{call}`: {}",
        one_line(message)
    )]
    Rejected {
        /// The plugin.
        plugin: String,
        /// The function called.
        call: &'static str,
        /// The plugin's message.
        message: String,
    },

    /// The plugin cannot install these updates natively; another engine may.
    #[error("plugin {plugin} cannot install natively: {}", one_line(message))]
    NotNative {
        /// The plugin.
        plugin: String,
        /// The function called.
        call: &'static str,
        /// The plugin's reason.
        message: String,
    },
}

impl PluginError {
    /// Why the run stopped, when the error is the run's cancellation (`--timeout` running out,
    /// or Ctrl-C) rather than the plugin's own failure.
    pub fn cancelled(&self) -> Option<Cancelled> {
        match self {
            PluginError::Limit {
                limit: LimitKind::Run,
                ..
            } => Some(Cancelled::TimedOut),
            PluginError::Interrupted { .. } => Some(Cancelled::Interrupted),
            _ => None,
        }
    }
}

/// A data-folder plugin whose bytes differ from what the lock file names for it.
#[derive(Debug, Error)]
#[error(
    "plugin file {} was changed since it was added from {source_name}: it hashes to {actual}, \
     the lock file names {expected}; add it again (`salve plugins add {source_name}`) or \
     remove it (`salve plugins remove {name}`)",
    path.display()
)]
pub struct LockMismatch {
    /// The plugin's name.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Where it was added from.
    pub source_name: String,
    /// The digest its lock entry names.
    pub expected: String,
    /// The digest of the file.
    pub actual: String,
}
