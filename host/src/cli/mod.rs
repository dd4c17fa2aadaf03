//! The command line: argument parsing and one module per command.

mod bulk;
mod cache;
mod copy;
mod generate;
mod options;
mod patch;
mod plugins;
mod registry_options;
mod report;
mod run_args;
mod table;
mod versions;

use crate::display_safe::{Lines, escape_controls};
use crate::plugin::contract::{ContractVersion, WIT_PACKAGE, supported_versions};
use clap::{Parser, Subcommand, ValueEnum};
use options::PluginOptions;
use std::process::ExitCode;
use std::sync::LazyLock;

/// `salve --version`: the version, the plugin ABI it loads, and the runtime.
static LONG_VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}\nplugin ABI: {WIT_PACKAGE}@{} (loads {})\nruntime: wasmtime 48",
        env!("CARGO_PKG_VERSION"),
        ContractVersion::LATEST.package_version(),
        supported_versions()
    )
});

/// Patch vulnerable packages inside container images; every ecosystem and scanner format is a
/// sandboxed WebAssembly plugin.
#[derive(Debug, Parser)]
#[command(name = "salve", version, long_version = LONG_VERSION.as_str(), max_term_width = 100)]
pub struct Cli {
    /// Where plugins come from and the limits they run under.
    #[command(flatten)]
    plugin_options: PluginOptions,

    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// salve's commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Patch an image's vulnerable packages: from a scanner report, or every package the
    /// repositories can upgrade; write the image and, with -o, an OpenVEX document.
    Patch(Box<patch::PatchArgs>),
    /// Patch as `patch` does, but write a Docker build context (a Dockerfile FROM the image and
    /// the patch layer's files) instead of an image, for `docker build`.
    Generate(Box<generate::GenerateArgs>),
    /// Patch many images at once from copa's bulk configuration (`kind: PatchConfig`): every
    /// tag it names or its rules find, each as a `salve patch`; print what each did.
    Bulk(Box<bulk::BulkArgs>),
    /// Read a scanner report (Trivy, Grype, copa manifest, or any scanner plugin's format) and
    /// print the updates it asks for.
    Report(report::ReportArgs),
    /// Copy an image between registries, OCI layouts, archives and the Docker daemon, and
    /// print the digest written.
    Copy(Box<copy::CopyArgs>),
    /// Compare versions by an ecosystem's rules.
    Versions {
        /// What to do with versions.
        #[command(subcommand)]
        command: versions::VersionsCommand,
    },
    /// Show the cache folder's size by kind, and prune it.
    Cache {
        /// What to do with the cache.
        #[command(subcommand)]
        command: cache::CacheCommand,
    },
    /// List and inspect plugins.
    Plugins {
        /// What to do with plugins.
        #[command(subcommand)]
        command: plugins::PluginsCommand,
    },
}

/// How a command prints its result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
}

/// Runs salve with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            // Errors quote plugins, reports and the output of an image's programs: shown with
            // their control characters escaped, their lines kept.
            let text = format!("{error:#}");
            eprintln!("error: {}", escape_controls(&text, Lines::Keep));
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command line.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Bulk(args) => bulk::run(*args, &cli.plugin_options),
        Command::Report(args) => {
            report::run(args, &cli.plugin_options)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Patch(args) => {
            patch::run(*args, &cli.plugin_options)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => {
            generate::run(*args, &cli.plugin_options)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Copy(args) => {
            copy::run(*args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Versions { command } => {
            versions::run(command, &cli.plugin_options)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cache { command } => {
            cache::run(command, &cli.plugin_options)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugins { command } => plugins::run(command, &cli.plugin_options),
    }
}

/// Writes a command's output to stdout; a reader that went away (`salve ... | head`) ends the
/// output quietly instead of failing.
pub fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes a value to stdout as pretty JSON and a newline, serialised straight into a buffered
/// stdout (a manifest near the plugin output cap is never held a second time as text); a reader
/// that went away ends the output quietly, as [`emit`] does.
pub fn emit_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Whether log lines carry colour codes: only on a terminal, and not when `NO_COLOR` is set to
/// anything but the empty string (no-color.org).
fn colour_wanted(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Logs to stderr, coloured only on a terminal without `NO_COLOR`; `SALVE_LOG` sets the filter
/// (default: warnings and errors).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SALVE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_wanted(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_target(false)
        .without_time()
        .init();
}

#[cfg(test)]
mod tests {
    use super::colour_wanted;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
    }
}
