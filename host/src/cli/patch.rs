//! `salve patch`: patch an image's vulnerable packages (copa's flags and defaults, so its users
//! can switch by changing the binary's name).

use super::options::PluginOptions;
use super::registry_options::RegistryArgs;
use crate::cancel::Cancel;
use crate::engine::buildkit::Daemon;
use crate::engine::buildkit::address::{Address, TlsFiles};
use crate::engine::native::NativeOptions;
use crate::engine::spec::StepLimits;
use crate::engine::{EngineChoice, LocalOptions};
use crate::image::Compression;
use crate::patch::source_policy::SourcePolicy;
use crate::patch::{PatchOptions, PatchOutcome, patch};
use crate::progress::Progress;
use crate::quantity::{parse_bytes, parse_duration};
use crate::transport::Transport;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

use std::time::Duration;

/// Arguments of `salve patch`.
#[derive(Debug, Args)]
pub struct PatchArgs {
    /// The image to patch (`REF`, `docker://REF`, `oci:DIR[:TAG]`, `oci-archive:…`,
    /// `docker-archive:…`, `docker-daemon:REF`).
    #[arg(short, long, value_name = "IMAGE")]
    image: Transport,

    /// The scanner report, or a folder with one report per platform; without it every package
    /// the repositories can upgrade is updated.
    #[arg(short, long, value_name = "FILE|DIR")]
    report: Option<PathBuf>,

    /// The patched image's tag (or a full image name) [default: the input's tag with
    /// `-SUFFIX`].
    #[arg(short, long, value_name = "TAG")]
    tag: Option<String>,

    /// The suffix added to the input's tag when --tag is not given.
    #[arg(long, value_name = "SUFFIX", default_value = "patched")]
    tag_suffix: String,

    /// Push the patched image to the input's registry.
    #[arg(long, conflicts_with_all = ["oci_dir", "output_image"])]
    push: bool,

    /// Write the patched image into this OCI layout folder.
    #[arg(long, value_name = "DIR", conflicts_with = "output_image")]
    oci_dir: Option<PathBuf>,

    /// Load the patched image into this engine when neither --push nor --oci-dir is given.
    #[arg(short, long, value_name = "LOADER", default_value = "docker")]
    loader: Loader,

    /// Write the patched image here, in any transport's notation (overrides the naming flags).
    #[arg(long, value_name = "TRANSPORT:REF")]
    output_image: Option<Transport>,

    /// Write an OpenVEX document of the vulnerabilities fixed to this file.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// The VEX document's format.
    #[arg(short, long, value_name = "FORMAT", default_value = "openvex")]
    format: VexFormat,

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

    /// The CA bundle that signed a tcp:// daemon's certificate (turns TLS on).
    #[arg(long, value_name = "PATH")]
    cacert: Option<PathBuf>,

    /// salve's client certificate for a tcp:// daemon (with --key).
    #[arg(long, value_name = "PATH")]
    cert: Option<PathBuf>,

    /// The private key of --cert.
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,

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

    /// The patch layer's compression.
    #[arg(long, value_name = "FORMAT", default_value = "gzip")]
    compression: LayerCompression,

    /// How registries are reached.
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Where a patched image is loaded.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Loader {
    /// The Docker engine at $DOCKER_HOST or /var/run/docker.sock.
    Docker,
}

/// VEX formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum VexFormat {
    /// OpenVEX 0.2.0.
    Openvex,
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
enum EngineKind {
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
enum NetworkMode {
    /// A network namespace of their own behind slirp4netns.
    Sandbox,
    /// This machine's network namespace.
    Host,
}

/// Layer compressions.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum LayerCompression {
    /// gzip, read everywhere.
    Gzip,
    /// zstd (OCI manifests only).
    Zstd,
}

/// BuildKit's own default socket.
const BUILDKITD_SOCKET: &str = "unix:///run/buildkit/buildkitd.sock";

/// The engine the arguments choose; `data_dir` holds the native engine's package store.
fn engine_of(args: &PatchArgs, data_dir: &std::path::Path) -> anyhow::Result<EngineChoice> {
    let tls = TlsFiles {
        ca: args.cacert.clone(),
        cert: args.cert.clone(),
        key: args.key.clone(),
    };
    let buildkit = match (args.engine, &args.addr) {
        (Some(kind @ (EngineKind::Local | EngineKind::Native | EngineKind::Auto)), Some(_)) => {
            bail!(
                "--addr names a BuildKit daemon, which --engine {} does not use",
                kind.to_possible_value().expect("a value").get_name()
            )
        }
        (Some(EngineKind::Native), None) => {
            if tls.any() || args.buildkit_host_network || args.network == NetworkMode::Host {
                bail!("--network and the BuildKit options are not for --engine native");
            }
            return Ok(EngineChoice::Native(native_options(data_dir)));
        }
        (Some(EngineKind::Auto), None) => {
            if tls.any() || args.buildkit_host_network {
                bail!("the BuildKit options are not for --engine auto");
            }
            return Ok(EngineChoice::Auto {
                native: native_options(data_dir),
                local: local_options(args),
            });
        }
        (Some(EngineKind::Local), None) | (None, None) => None,
        (Some(EngineKind::Buildkit), None) => Some(BUILDKITD_SOCKET),
        (_, Some(addr)) => Some(addr.as_str()),
    };
    let Some(addr) = buildkit else {
        if tls.any() || args.buildkit_host_network {
            bail!(
                "--cacert, --cert, --key and --buildkit-host-network are for the BuildKit \
                 engine; give --addr"
            );
        }
        return Ok(EngineChoice::Local(local_options(args)));
    };
    if args.network == NetworkMode::Host {
        bail!("--network is for the local engine; on BuildKit use --buildkit-host-network");
    }
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
fn local_options(args: &PatchArgs) -> LocalOptions {
    LocalOptions {
        host_network: args.network == NetworkMode::Host,
        limits: StepLimits {
            processes: args.step_processes,
            memory: args.step_memory,
        },
    }
}

/// Runs `salve patch`.
pub fn run(args: PatchArgs, plugin_options: &PluginOptions) -> anyhow::Result<()> {
    let engine = engine_of(&args, &plugin_options.data_dir())?;
    let may_run_locally = matches!(engine, EngineChoice::Local(_) | EngineChoice::Auto { .. });
    if may_run_locally && !rustix::process::geteuid().is_root() {
        // The local engine as an ordinary user: the same command, in a user namespace.
        std::process::exit(crate::engine::rootless::run_in_namespace()?);
    }
    let output = output_of(&args)?;
    if let Transport::DockerDaemon(_) = &output {
        crate::transport::docker_daemon::check_reachable().map_err(|error| {
            anyhow::anyhow!(
                "{error}\n(the patched image would be loaded there; write it elsewhere with \
                 --push, --oci-dir or --output-image)"
            )
        })?;
    }
    let catalog = plugin_options.catalog()?;
    let cancel = Cancel::after(args.timeout);
    cancel
        .interrupt_on_signals()
        .context("installing the Ctrl-C handler")?;
    let options = PatchOptions {
        image: args.image.clone(),
        report: args.report.clone(),
        scanner: args.scanner.clone(),
        output,
        vex: args.output.clone(),
        ignore_errors: args.ignore_errors,
        platforms: args.platform.clone(),
        registry: args.registry.options(),
        tooling_image: args.tooling_image.clone(),
        source_policy: SourcePolicy::from_environment()?,
        cache_dir: plugin_options.data_dir(),
        compression: match args.compression {
            LayerCompression::Gzip => Compression::Gzip,
            LayerCompression::Zstd => Compression::Zstd,
        },
        cancel,
        progress: match args.progress {
            ProgressMode::Json => Progress::Json,
            ProgressMode::Auto => Progress::auto(),
            ProgressMode::Plain => Progress::Plain,
        },
        engine,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    // Every wait of the run obeys its cancellation, so the run ends by itself on Ctrl-C or at
    // the deadline, after cleaning up.
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
    let (PatchOutcome::NotWritten { shortfalls } | PatchOutcome::Patched { shortfalls, .. }) =
        &outcome;
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
    Ok(())
}

/// Where the patched image goes, from the naming flags as copa reads them.
fn output_of(args: &PatchArgs) -> anyhow::Result<Transport> {
    if let Some(output) = &args.output_image {
        return Ok(output.clone());
    }
    let (repository, input_tag) = args.image.name_and_tag();
    let reference = match &args.tag {
        Some(tag) if tag.contains('/') || tag.contains(':') => tag.clone(),
        Some(tag) => format!("{repository}:{tag}"),
        None => {
            let Some(input_tag) = input_tag else {
                bail!(
                    "the input image has no tag to add -{} to; name the output with --tag",
                    args.tag_suffix
                );
            };
            format!("{repository}:{input_tag}-{}", args.tag_suffix)
        }
    };
    let tag = reference.rsplit_once(':').map(|(_, tag)| tag.to_string());
    Ok(if args.push {
        Transport::Registry(reference.parse()?)
    } else if let Some(dir) = &args.oci_dir {
        Transport::OciLayout {
            dir: dir.clone(),
            tag,
        }
    } else {
        match args.loader {
            Loader::Docker => Transport::DockerDaemon(reference.parse()?),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: PatchArgs,
    }

    fn output(line: &[&str]) -> anyhow::Result<Transport> {
        let mut argv = vec!["salve"];
        argv.extend_from_slice(line);
        output_of(&Wrapper::try_parse_from(argv).unwrap().args)
    }

    #[test]
    fn outputs_are_named_as_copa_names_them() {
        assert_eq!(
            output(&["-i", "127.0.0.1:5000/app:1.0", "--push"]).unwrap(),
            Transport::Registry("127.0.0.1:5000/app:1.0-patched".parse().unwrap())
        );
        assert_eq!(
            output(&["-i", "app:1.0", "-t", "fixed"]).unwrap(),
            Transport::DockerDaemon("app:fixed".parse().unwrap())
        );
        assert_eq!(
            output(&["-i", "app", "--tag-suffix", "s", "--push"]).unwrap(),
            Transport::Registry("app:latest-s".parse().unwrap())
        );
        assert_eq!(
            output(&["-i", "oci:/tmp/img:v1", "--oci-dir", "/tmp/out"]).unwrap(),
            Transport::OciLayout {
                dir: "/tmp/out".into(),
                tag: Some("v1-patched".into())
            }
        );
        let by_digest = format!("app@sha256:{}", "a".repeat(64));
        assert!(
            output(&["-i", &by_digest, "--push"])
                .unwrap_err()
                .to_string()
                .contains("--tag")
        );
        assert_eq!(
            output(&["-i", "app:1", "--output-image", "oci-archive:/tmp/x.tar:t"]).unwrap(),
            Transport::OciArchive {
                file: "/tmp/x.tar".into(),
                tag: Some("t".into())
            }
        );
    }
}
