//! The options `salve patch` and `salve generate` share (the image, the report, the engine and
//! how it runs, the run's time and progress), and the run both make of them.

use super::options::PluginOptions;
use super::registry_options::RegistryArgs;
use crate::cancel::Cancel;
use crate::engine::buildkit::Daemon;
use crate::engine::buildkit::address::{Address, TlsFiles};
use crate::engine::native::NativeOptions;
use crate::engine::spec::StepLimits;
use crate::engine::{EngineChoice, LocalOptions};
use crate::mirror::Mirrors;
use crate::patch::source_policy::SourcePolicy;
use crate::patch::{Delivery, PatchOptions, PatchOutcome, patch};
use crate::progress::Progress;
use crate::quantity::{parse_bytes, parse_duration};
use crate::transport::Transport;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// What a patch run reads and where it runs.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The image to patch (`REF`, `docker://REF`, `oci:DIR[:TAG]`, `oci-archive:…`,
    /// `docker-archive:…`, `docker-daemon:REF`).
    #[arg(short, long, value_name = "IMAGE")]
    pub image: Transport,

    /// The scanner report, or a folder with one report per platform; without it every package
    /// the repositories can upgrade is updated.
    #[arg(short, long, value_name = "FILE|DIR")]
    report: Option<PathBuf>,

    /// Report packages that stay below their fixed version instead of failing; they are left
    /// out of the VEX document.
    #[arg(long)]
    ignore_errors: bool,

    /// Time allowed for the whole patch.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,

    /// Platforms of a multi-platform image to patch (`linux/amd64,linux/arm64`) [default: all].
    #[arg(long, value_name = "PLATFORMS", value_delimiter = ',')]
    platform: Vec<String>,

    /// The scanner plugin that reads the report [default: the one that recognises it].
    #[arg(short, long, value_name = "NAME")]
    scanner: Option<String>,

    /// How progress is shown.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    progress: ProgressMode,

    /// Where the plan runs: this machine (`local`, the default without --addr), a BuildKit
    /// daemon (`buildkit`, the default with --addr), or nowhere: `native` installs the updates
    /// by file operations, running nothing of the image (any architecture, no root needed);
    /// `auto` is native when it can make the update, else local.
    #[arg(long, value_name = "ENGINE")]
    engine: Option<EngineKind>,

    /// The BuildKit daemon: `unix:///PATH`, `tcp://HOST:PORT`, or `docker://[PATH]` for
    /// Docker's built-in BuildKit [default with --engine buildkit:
    /// unix:///run/buildkit/buildkitd.sock].
    #[arg(short, long, value_name = "ADDR")]
    addr: Option<String>,

    /// TLS to a tcp:// daemon.
    #[command(flatten)]
    tls: TlsArgs,

    /// On BuildKit, run the steps that need the network on the daemon's host network
    /// (entitlement network.host) rather than its sandbox network.
    #[arg(long)]
    buildkit_host_network: bool,

    /// On the local engine, where steps that need the network run: `sandbox` (a network
    /// namespace of their own behind slirp4netns, without the host's loopback services) or
    /// `host` (this machine's network, loopback included: for a repository or proxy on
    /// 127.0.0.1).
    #[arg(long, value_name = "MODE", default_value = "sandbox")]
    network: NetworkMode,

    /// On the local engine, the most processes a plan's steps may have at once.
    #[arg(long, value_name = "N", default_value_t = StepLimits::default().processes)]
    step_processes: u64,

    /// On the local engine, the most memory one process of a step may use.
    #[arg(long, value_name = "SIZE", default_value = "8GiB", value_parser = parse_bytes)]
    step_memory: u64,

    /// The tooling image for images without a package manager, instead of the plugin's choice
    /// (copa's EXPERIMENTAL_BUILDKIT_SOURCE_POLICY also applies).
    #[arg(long, value_name = "IMAGE")]
    tooling_image: Option<String>,

    /// Fetch packages from a mirror for this run: `ORIGIN=URL`, ORIGIN a repository URL prefix
    /// (`http://deb.debian.org/debian`; without a scheme, both http and https) or one of
    /// debian, debian-security, ubuntu, ubuntu-ports, alpine, pypi. Repeatable; the patched
    /// image keeps its own sources.
    #[arg(long, value_name = "ORIGIN=URL")]
    mirror: Vec<String>,

    /// How registries are reached.
    #[command(flatten)]
    registry: RegistryArgs,
}

/// The TLS files of a tcp:// BuildKit daemon.
#[derive(Debug, Args)]
pub(super) struct TlsArgs {
    /// The CA bundle that signed the tcp:// daemon's certificate (turns TLS on).
    #[arg(long, value_name = "PATH")]
    cacert: Option<PathBuf>,

    /// salve's client certificate for the tcp:// daemon (with --key).
    #[arg(long, value_name = "PATH")]
    cert: Option<PathBuf>,

    /// The private key of --cert.
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
}

impl TlsArgs {
    /// The files these flags name.
    pub(super) fn files(&self) -> TlsFiles {
        TlsFiles {
            ca: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }

    /// These flags as command-line arguments, for a salve process this one starts.
    pub(super) fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut args = Vec::new();
        for (flag, path) in [
            ("--cacert", &self.cacert),
            ("--cert", &self.cert),
            ("--key", &self.key),
        ] {
            if let Some(path) = path {
                args.extend([flag.into(), path.clone().into_os_string()]);
            }
        }
        args
    }
}

/// Progress modes.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProgressMode {
    /// On a terminal, a line per stage finished with its duration; else plain lines.
    Auto,
    /// One line per stage on stderr.
    Plain,
    /// JSON events on stdout.
    Json,
}

/// Engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum EngineKind {
    /// Run the plan on this machine (Linux, as root).
    Local,
    /// Run the plan on a BuildKit daemon.
    Buildkit,
    /// Install by file operations, nothing of the image run.
    Native,
    /// Native when it can make the update, else local (saying why).
    Auto,
}

/// Networks of the local engine's steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum NetworkMode {
    /// A network namespace of their own behind slirp4netns.
    Sandbox,
    /// This machine's network namespace.
    Host,
}

/// BuildKit's own default socket.
const BUILDKITD_SOCKET: &str = "unix:///run/buildkit/buildkitd.sock";

/// Checks that the engine options go together, as `salve patch`, `generate` and `bulk` take
/// them, and says whether they choose BuildKit: `--engine buildkit` or a daemon address.
/// `host_network` is `--network host`; `buildkit_options` is any TLS file or
/// `--buildkit-host-network`.
pub(super) fn chooses_buildkit(
    engine: Option<EngineKind>,
    has_addr: bool,
    host_network: bool,
    buildkit_options: bool,
) -> anyhow::Result<bool> {
    match engine {
        Some(kind @ (EngineKind::Local | EngineKind::Native | EngineKind::Auto)) if has_addr => {
            bail!(
                "--addr names a BuildKit daemon, which --engine {} does not use",
                kind.to_possible_value().expect("a value").get_name()
            )
        }
        Some(EngineKind::Native) if buildkit_options || host_network => {
            bail!("--network and the BuildKit options are not for --engine native")
        }
        Some(EngineKind::Auto) if buildkit_options => {
            bail!("the BuildKit options are not for --engine auto")
        }
        _ => {}
    }
    let buildkit = matches!(engine, Some(EngineKind::Buildkit)) || has_addr;
    if buildkit && host_network {
        bail!("--network is for the local engine; on BuildKit use --buildkit-host-network");
    }
    if !buildkit && buildkit_options {
        bail!(
            "--cacert, --cert, --key and --buildkit-host-network are for the BuildKit engine; \
             give --addr"
        );
    }
    Ok(buildkit)
}

/// The engine the arguments choose; `data_dir` holds the native engine's package store.
fn engine_of(args: &RunArgs, data_dir: &std::path::Path) -> anyhow::Result<EngineChoice> {
    let tls = args.tls.files();
    let buildkit = chooses_buildkit(
        args.engine,
        args.addr.is_some(),
        args.network == NetworkMode::Host,
        tls.any() || args.buildkit_host_network,
    )?;
    match args.engine {
        Some(EngineKind::Native) => return Ok(EngineChoice::Native(native_options(data_dir))),
        Some(EngineKind::Auto) => {
            return Ok(EngineChoice::Auto {
                native: native_options(data_dir),
                local: local_options(args),
            });
        }
        _ => {}
    }
    if !buildkit {
        return Ok(EngineChoice::Local(local_options(args)));
    }
    let addr = args.addr.as_deref().unwrap_or(BUILDKITD_SOCKET);
    Ok(EngineChoice::Buildkit(Daemon {
        address: Address::parse(addr)?,
        tls,
        host_network: args.buildkit_host_network,
        auth_file: args.registry.options().auth_file,
    }))
}

/// The native engine's options: its package store in the data folder.
fn native_options(data_dir: &std::path::Path) -> NativeOptions {
    NativeOptions {
        store: crate::cache::Kind::Packages.folder(data_dir),
    }
}

/// The local engine's options.
fn local_options(args: &RunArgs) -> LocalOptions {
    LocalOptions {
        host_network: args.network == NetworkMode::Host,
        limits: StepLimits {
            processes: args.step_processes,
            memory: args.step_memory,
        },
    }
}

impl RunArgs {
    /// The progress mode asked for.
    pub fn progress(&self) -> Progress {
        match self.progress {
            ProgressMode::Json => Progress::Json,
            ProgressMode::Auto => Progress::auto(),
            ProgressMode::Plain => Progress::Plain,
        }
    }

    /// Re-runs this command in a user namespace when it may use the local engine and salve is
    /// not root (the process then ends with the copy's exit code); otherwise returns the engine.
    pub fn engine_or_reexec(&self, plugin_options: &PluginOptions) -> anyhow::Result<EngineChoice> {
        let engine = engine_of(self, &plugin_options.data_dir())?;
        let may_run_locally = matches!(engine, EngineChoice::Local(_) | EngineChoice::Auto { .. });
        if may_run_locally && !rustix::process::geteuid().is_root() {
            // The local engine as an ordinary user: the same command, in a user namespace.
            std::process::exit(crate::engine::rootless::run_in_namespace()?);
        }
        Ok(engine)
    }

    /// Runs the patch flow on `engine`, writing `delivery`; then keeps the cache under its bound
    /// and names the findings left out under --ignore-errors.
    pub fn execute(
        &self,
        engine: EngineChoice,
        delivery: Delivery,
        plugin_options: &PluginOptions,
    ) -> anyhow::Result<PatchOutcome> {
        let catalog = plugin_options.catalog()?;
        let cancel = Cancel::after(self.timeout);
        cancel
            .interrupt_on_signals()
            .context("installing the Ctrl-C handler")?;
        let options = PatchOptions {
            image: self.image.clone(),
            report: self.report.clone(),
            scanner: self.scanner.clone(),
            delivery,
            ignore_errors: self.ignore_errors,
            platforms: self.platform.clone(),
            registry: self.registry.options(),
            tooling_image: self.tooling_image.clone(),
            mirrors: Mirrors::parse(&self.mirror)?,
            source_policy: SourcePolicy::from_environment()?,
            cache_dir: plugin_options.data_dir(),
            cancel,
            progress: self.progress(),
            engine,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the I/O runtime")?;
        // Every wait of the run obeys its cancellation, so the run ends by itself on Ctrl-C or
        // at the deadline, after cleaning up.
        let outcome = runtime
            .block_on(patch(&catalog, &options))
            .inspect_err(|_| options.progress.failed());
        // Whatever the outcome, the run may have grown the cache: it is brought back under its
        // bound once the run's own holds on it are released.
        super::cache::keep_bounded(
            &options.cache_dir,
            plugin_options.cache_max_size(),
            options.progress,
        );
        let outcome = outcome?;
        let (PatchOutcome::NotWritten { shortfalls }
        | PatchOutcome::Patched { shortfalls, .. }
        | PatchOutcome::Context { shortfalls, .. }) = &outcome;
        if !shortfalls.is_empty() && options.progress != Progress::Json {
            let names: Vec<&str> = shortfalls.iter().map(|s| s.package.as_str()).collect();
            eprintln!(
                "{}",
                crate::display_safe::one_line(&format!(
                    "{} package(s) were not patched or stayed below their fixed version \
                     (--ignore-errors); they are not in the VEX document: {}",
                    shortfalls.len(),
                    names.join(", ")
                ))
            );
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error `chooses_buildkit` gives, as text.
    fn refusal(
        engine: Option<EngineKind>,
        has_addr: bool,
        host_network: bool,
        buildkit_options: bool,
    ) -> String {
        chooses_buildkit(engine, has_addr, host_network, buildkit_options)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn buildkit_is_chosen_by_its_engine_or_an_address() {
        assert!(chooses_buildkit(Some(EngineKind::Buildkit), false, false, true).unwrap());
        assert!(chooses_buildkit(None, true, false, true).unwrap());
        assert!(!chooses_buildkit(None, false, true, false).unwrap());
        assert!(!chooses_buildkit(Some(EngineKind::Native), false, false, false).unwrap());
        assert!(!chooses_buildkit(Some(EngineKind::Auto), false, true, false).unwrap());
    }

    #[test]
    fn options_of_another_engine_are_refused() {
        assert!(refusal(Some(EngineKind::Local), true, false, false).contains("--engine local"));
        assert!(refusal(Some(EngineKind::Native), false, true, false).contains("native"));
        assert!(refusal(Some(EngineKind::Auto), false, false, true).contains("auto"));
        assert!(refusal(None, true, true, false).contains("--buildkit-host-network"));
        assert!(refusal(None, false, false, true).contains("give --addr"));
    }
}
