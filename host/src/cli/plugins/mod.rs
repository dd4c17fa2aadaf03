//! `salve plugins ...`: list and inspect plugins, create and build plugin crates, and share
//! plugins through registries.

mod develop;
mod distribute;
mod show;

use super::OutputFormat;
use super::options::PluginOptions;
use super::registry_options::RegistryArgs;
use crate::plugin::PluginKind;
use crate::plugin_kit::scaffold::SdkSource;
use clap::{Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What to do with plugins.
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List every plugin: built in, in the data folder, on $SALVE_PLUGIN_PATH and from --plugin,
    /// with where it comes from and whether the lock file pins it.
    List {
        /// How to print the list.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Show one plugin's interface, WIT version, functions and the limits its calls run under.
    Inspect {
        /// A plugin's name, or the path of a .wasm file.
        plugin: String,
        /// How to print the details.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Create a plugin crate that builds and passes its tests as it is: a scanner reading a
    /// sample report, or an ecosystem for a toy distribution.
    New {
        /// What the plugin does.
        kind: NewKind,
        /// The plugin's name (lower-case letters, digits, '-' and '_'); the crate is
        /// `salve-plugin-NAME`.
        name: String,
        /// The folder to create [default: ./NAME].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Take the SDK from this folder (a salve checkout's `sdk/`) instead of copying the one
        /// built into salve into the crate.
        #[arg(long, value_name = "DIR", conflicts_with = "sdk_git")]
        sdk_path: Option<PathBuf>,
        /// Take the SDK from this git repository instead of copying the one built into salve.
        #[arg(long, value_name = "URL")]
        sdk_git: Option<String>,
    },
    /// Build a plugin crate into a component (wasm32-unknown-unknown with rustup's target or
    /// Debian's rustc-web), check that it loads as a plugin, and print its path.
    Build {
        /// The crate's folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the component [default: DIR/target/salve/NAME.wasm].
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Publish a plugin component to a registry as an OCI artifact (CNCF Wasm layout); prints
    /// the manifest's digest.
    Push {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Where to: `oci://registry/repository:tag`.
        reference: String,
        /// Also push a signature made with this unencrypted P-256 private key (PEM), in cosign's
        /// format, beside the artifact.
        #[arg(long, value_name = "FILE")]
        sign_key: Option<PathBuf>,
        /// How registries are reached.
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Install plugins from a registry into the data folder and pin their digests in the lock
    /// file; with --lock and no reference, install exactly what that lock file pins.
    Add {
        /// `oci://registry/repository:tag`, or `...@sha256:<digest>` for exactly that artifact.
        references: Vec<String>,
        /// Also pin the plugins in this lock file (a project's), or install what it pins.
        #[arg(long, value_name = "FILE")]
        lock: Option<PathBuf>,
        /// Require a signature (cosign's format, beside the artifact) that verifies with this
        /// P-256 public key (PEM); without it, the digest pinned in the lock file is the trust.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// How registries are reached.
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Remove a plugin added to the data folder, with its lock entry.
    Remove {
        /// The plugin's name.
        name: String,
        /// Also remove it from this lock file.
        #[arg(long, value_name = "FILE")]
        lock: Option<PathBuf>,
    },
}

/// Runs a `plugins` command.
pub fn run(command: PluginsCommand, options: &PluginOptions) -> anyhow::Result<ExitCode> {
    match command {
        PluginsCommand::List { format } => show::list(&options.catalog()?, format),
        PluginsCommand::Inspect { plugin, format } => {
            let catalog = options.catalog()?;
            let path = Path::new(&plugin);
            let plugin = if path.is_file() {
                catalog.load_file(path)?
            } else {
                catalog.load(&plugin)?
            };
            super::emit(&show::inspect(&catalog, &plugin, format)?)?;
            Ok(ExitCode::SUCCESS)
        }
        PluginsCommand::New {
            kind,
            name,
            dir,
            sdk_path,
            sdk_git,
        } => {
            let sdk = match (sdk_path, sdk_git) {
                (Some(path), _) => SdkSource::Path(path),
                (None, Some(url)) => SdkSource::Git(url),
                (None, None) => SdkSource::Vendored,
            };
            develop::new(kind.into(), &name, dir.as_deref(), &sdk)
        }
        PluginsCommand::Build { dir, output } => develop::build(options, &dir, output.as_deref()),
        PluginsCommand::Push {
            file,
            reference,
            sign_key,
            registry,
        } => distribute::push(
            options,
            &file,
            &reference,
            sign_key.as_deref(),
            &registry.options(),
        ),
        PluginsCommand::Add {
            references,
            lock,
            key,
            registry,
        } => distribute::add(
            options,
            &references,
            lock.as_deref(),
            key.as_deref(),
            &registry.options(),
        ),
        PluginsCommand::Remove { name, lock } => distribute::remove(&name, lock.as_deref()),
    }
}

/// The kinds of plugin `plugins new` makes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum NewKind {
    /// Reads a scanner's reports.
    Scanner,
    /// Knows a package ecosystem.
    Ecosystem,
}

impl From<NewKind> for PluginKind {
    fn from(kind: NewKind) -> PluginKind {
        match kind {
            NewKind::Scanner => PluginKind::Scanner,
            NewKind::Ecosystem => PluginKind::Ecosystem,
        }
    }
}
