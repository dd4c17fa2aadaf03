//! `salve bulk CONFIG`: patch every image a copa `PatchConfig` names, several at once, each as a
//! `salve patch` of its own; print what each did.

use super::options::PluginOptions;
use super::registry_options::RegistryArgs;
use super::run_args::{EngineKind, NetworkMode, TlsArgs};
use super::{OutputFormat, emit, emit_json, table};
use crate::bulk::config;
use crate::bulk::jobs::{Job, plan};
use crate::bulk::outcome::{JobResult, Status};
use crate::bulk::runner::Runner;
use crate::quantity::{format_duration, parse_duration};
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::ffi::OsString;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

/// Arguments of `salve bulk`.
#[derive(Debug, Args)]
pub struct BulkArgs {
    /// copa's bulk configuration: YAML with `apiVersion: copa.sh/v1alpha1`,
    /// `kind: PatchConfig`.
    #[arg(value_name = "CONFIG")]
    config: PathBuf,

    /// Images patched at once [default: the number of cores, at least one per --addr].
    #[arg(short, long, value_name = "N")]
    jobs: Option<NonZeroUsize>,

    /// Push each patched image to its target repository.
    #[arg(long, conflicts_with = "oci_dir")]
    push: bool,

    /// Write each patched image into an OCI layout `DIR/NAME/TAG` (NAME: the configuration
    /// entry's, TAG: the patched tag) instead of pushing it.
    #[arg(long, value_name = "DIR")]
    oci_dir: Option<PathBuf>,

    /// Time allowed for each image's patch.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,

    /// Report packages that stay below their fixed version instead of failing the image.
    #[arg(long)]
    ignore_errors: bool,

    /// Where the plans run (as for `salve patch`) [default: local, or buildkit with --addr].
    #[arg(long, value_name = "ENGINE")]
    engine: Option<EngineKind>,

    /// A BuildKit daemon; repeatable: each image is patched on the daemon running the fewest.
    #[arg(short, long = "addr", value_name = "ADDR")]
    addrs: Vec<String>,

    /// TLS to tcp:// daemons.
    #[command(flatten)]
    tls: TlsArgs,

    /// On BuildKit, run the steps that need the network on the daemon's host network.
    #[arg(long)]
    buildkit_host_network: bool,

    /// On the local engine, where steps that need the network run (`sandbox` or `host`).
    #[arg(long, value_name = "MODE")]
    network: Option<NetworkMode>,

    /// The tooling image for images without a package manager, instead of the plugin's choice.
    #[arg(long, value_name = "IMAGE")]
    tooling_image: Option<String>,

    /// Fetch packages from a mirror (`ORIGIN=URL`, as `salve patch --mirror`); repeatable.
    #[arg(long, value_name = "ORIGIN=URL")]
    mirror: Vec<String>,

    /// How the results are printed.
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    format: OutputFormat,

    /// How registries are reached.
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Runs `salve bulk`: exit code 1 when any image failed or was not started.
pub fn run(args: BulkArgs, plugin_options: &PluginOptions) -> anyhow::Result<ExitCode> {
    let config = config::load(&args.config)?;
    for field in &config.ignored {
        eprintln!(
            "warning: {field} is ignored: salve does not re-cut Chisel images (an image of \
             this entry that salve cannot patch fails with the reason)"
        );
    }
    check_engine(&args)?;
    if !args.push && args.oci_dir.is_none() {
        crate::transport::docker_daemon::check_reachable().map_err(|error| {
            anyhow::anyhow!(
                "{error}\n(the patched images would be loaded there; write them elsewhere with \
                 --push or --oci-dir)"
            )
        })?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    let planned = runtime.block_on(plan(&config, &args.registry.options()))?;
    if let Some(dir) = &args.oci_dir {
        for job in &planned.jobs {
            std::fs::create_dir_all(dir.join(&job.name))
                .with_context(|| format!("creating {}", dir.join(&job.name).display()))?;
        }
    }
    let total = planned.jobs.len();
    let concurrency = args.jobs.map_or_else(
        || {
            std::thread::available_parallelism()
                .map_or(1, NonZeroUsize::get)
                .max(args.addrs.len())
        },
        NonZeroUsize::get,
    );
    eprintln!(
        "patching {total} image(s), {concurrency} at once{}",
        match args.addrs.len() {
            0 => String::new(),
            count => format!(", over {count} BuildKit daemon(s)"),
        }
    );
    for unlisted in &planned.unlisted {
        eprintln!(
            "{}: no image of {} is patched: {}",
            unlisted.name, unlisted.repository, unlisted.error
        );
    }
    let executable = std::env::current_exe().context("finding salve's own executable")?;
    let shared = SharedArgs::of(&args, plugin_options);
    let command = |job: &Job, daemon: Option<&str>| {
        let mut command = Command::new(&executable);
        command.args(shared.for_job(&args, job, daemon));
        command
    };
    let runner = Runner {
        concurrency,
        daemons: args.addrs.clone(),
        timeout: args.timeout,
        command: &command,
    };
    let mut results = runner
        .run(&planned.jobs, |result, done| {
            eprintln!(
                "[{done}/{total}] {} {}: {}",
                result.name,
                result.image,
                summary(result)
            );
        })
        .context("running the jobs")?;
    results.extend(planned.unlisted.iter().map(|unlisted| {
        JobResult::failed(
            &unlisted.name,
            &unlisted.repository,
            None,
            Some(unlisted.error.clone()),
        )
    }));
    print_results(&results, args.format)
}

/// Prints the results; exit code 1 when any image was not patched.
fn print_results(results: &[JobResult], format: OutputFormat) -> anyhow::Result<ExitCode> {
    match format {
        OutputFormat::Json => emit_json(&serde_json::json!({ "results": results }))?,
        OutputFormat::Table => emit(&table::render(&rows(results)))?,
    }
    let failed = results.iter().filter(|r| !r.status.succeeded()).count();
    if failed > 0 {
        eprintln!("{failed} of {} image(s) were not patched", results.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses engine options that cannot go together, and mirrors that are not valid, before any
/// job starts (each job would otherwise fail alike), by the rules `salve patch` applies.
fn check_engine(args: &BulkArgs) -> anyhow::Result<()> {
    super::run_args::chooses_buildkit(
        args.engine,
        !args.addrs.is_empty(),
        args.network == Some(NetworkMode::Host),
        args.tls.files().any() || args.buildkit_host_network,
    )?;
    crate::mirror::Mirrors::parse(&args.mirror)?;
    Ok(())
}

/// The arguments every job's `salve patch` shares.
struct SharedArgs {
    /// The global options (plugins, limits, cache), first.
    global: Vec<OsString>,
    /// Engine, timeout and registry options, after `patch`.
    patch: Vec<OsString>,
}

impl SharedArgs {
    /// The shared arguments `args` and the global options make.
    fn of(args: &BulkArgs, plugin_options: &PluginOptions) -> SharedArgs {
        let mut patch: Vec<OsString> = vec![
            "--progress".into(),
            "json".into(),
            "--timeout".into(),
            format_duration(args.timeout).into(),
        ];
        if let Some(engine) = args.engine {
            let name = engine.to_possible_value().expect("a value");
            patch.extend(["--engine".into(), name.get_name().into()]);
        }
        if let Some(network) = args.network {
            let name = network.to_possible_value().expect("a value");
            patch.extend(["--network".into(), name.get_name().into()]);
        }
        patch.extend(args.tls.to_args());
        if args.buildkit_host_network {
            patch.push("--buildkit-host-network".into());
        }
        if args.ignore_errors {
            patch.push("--ignore-errors".into());
        }
        if let Some(image) = &args.tooling_image {
            patch.extend(["--tooling-image".into(), image.into()]);
        }
        for mirror in &args.mirror {
            patch.extend(["--mirror".into(), mirror.into()]);
        }
        patch.extend(args.registry.to_args());
        SharedArgs {
            global: plugin_options.to_args(),
            patch,
        }
    }

    /// The full argument list of one job's `salve patch`.
    fn for_job(&self, args: &BulkArgs, job: &Job, daemon: Option<&str>) -> Vec<OsString> {
        let mut line = self.global.clone();
        line.extend([
            "patch".into(),
            "--image".into(),
            format!("docker://{}", job.source).into(),
            "--output-image".into(),
            output_of(args, job),
        ]);
        line.extend(self.patch.iter().cloned());
        if let Some(daemon) = daemon {
            line.extend(["--addr".into(), daemon.into()]);
        }
        if let Some(report) = &job.report {
            line.extend(["--report".into(), report.clone().into_os_string()]);
        }
        if !job.platforms.is_empty() {
            line.extend(["--platform".into(), job.platforms.join(",").into()]);
        }
        line
    }
}

/// Where a job's patched image goes, in salve's transport notation.
fn output_of(args: &BulkArgs, job: &Job) -> OsString {
    if args.push {
        format!("docker://{}", job.target()).into()
    } else if let Some(dir) = &args.oci_dir {
        let mut text = OsString::from("oci:");
        text.push(dir.join(&job.name).join(&job.target_tag));
        text.push(format!(":{}", job.target_tag));
        text
    } else {
        format!("docker-daemon:{}", job.target()).into()
    }
}

/// A result in a few words, for the progress line.
fn summary(result: &JobResult) -> String {
    let time = format!("{:.1}s", result.seconds);
    match result.status {
        Status::Patched => format!(
            "patched, {} package(s), {} vulnerabilit{} fixed ({time})",
            result.packages,
            result.vulnerabilities,
            if result.vulnerabilities == 1 {
                "y"
            } else {
                "ies"
            }
        ),
        Status::UpToDate => format!("up to date ({time})"),
        Status::NotPatched => format!(
            "nothing could be patched, {} finding(s) left out ({time})",
            result.shortfalls
        ),
        Status::Failed | Status::Cancelled => format!(
            "{} ({time}): {}",
            result.status.word(),
            result.error.as_deref().unwrap_or("")
        ),
    }
}

/// The result table: a row per image.
fn rows(results: &[JobResult]) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "NAME",
            "IMAGE",
            "STATUS",
            "PACKAGES",
            "FIXED",
            "TIME",
            "DIGEST / ERROR",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for result in results {
        let outcome = match (&result.digest, &result.error) {
            (Some(digest), _) => digest.clone(),
            (None, Some(error)) => error.lines().next().unwrap_or_default().to_string(),
            (None, None) => String::new(),
        };
        rows.push(vec![
            result.name.clone(),
            result.image.clone(),
            result.status.word().to_string(),
            result.packages.to_string(),
            result.vulnerabilities.to_string(),
            format!("{:.1}s", result.seconds),
            outcome,
        ]);
    }
    rows
}
