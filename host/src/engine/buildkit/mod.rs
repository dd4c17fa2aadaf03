//! The BuildKit engine: the plan solved on a BuildKit daemon (`--addr`), for users who already
//! run one (CI builders, remote fleets, Docker's built-in builder).
//!
//! salve connects ([`connect`]), opens a session it serves ([`session`]), turns the plan into
//! LLB ([`llb`]) and solves it twice over the same ops, the second from the daemon's cache: the
//! target after the steps, exported as an image (`oci` to salve through the session, or where
//! Docker's BuildKit lacks that exporter, `moby` into Docker, read back through its API), and,
//! when the plan reads files it wrote under `/salve-results`, that folder as a tar. The layers
//! above the base are the changes ([`result`]); the package databases are read from the base
//! and those layers.

pub mod address;
pub mod api;
pub mod connect;
pub mod llb;
pub mod result;
pub mod session;
pub mod solve;
pub mod target;

use super::local::database_files;
use super::spec::RESULTS_MOUNT;
use super::{Changes, Executed, ca_bundle_variable, host_ca_bundle, step_failed};
use crate::cancel::Cancelled;
use crate::image::layout::OciLayout;
use crate::image::{UnpackOptions, read_paths, unpack_layers};
use crate::mirror::sources::MirroredSources;
use crate::plugin::types::{Platform, UpdatePlan};
use crate::progress::Progress;
use crate::transport::docker_daemon::{self, TemporaryImage};
use address::{Address, TlsFiles};
use anyhow::{Context, bail};
use api::control::ListWorkersRequest;
use api::control::control_client::ControlClient;
use api::pb;
use session::Session;
use solve::{SolveError, SolveJob, solve};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tonic::transport::Channel;

/// Proxy variables passed from salve's environment to every step.
const PROXY_VARIABLES: [(&str, &str); 4] = [
    ("http_proxy", "HTTP_PROXY"),
    ("https_proxy", "HTTPS_PROXY"),
    ("no_proxy", "NO_PROXY"),
    ("all_proxy", "ALL_PROXY"),
];

/// The most a database file may hold.
const DATABASE_FILE_CAP: u64 = 256 << 20;

/// What a daemon without the `oci` exporter answers (Docker with its own image store).
const NO_OCI_EXPORTER: &str = "exporter \"oci\" could not be found";

/// The tag of BuildKit's exported image in the working layout.
const EXPORTED_TAG: &str = "buildkit-result";

/// How to reach the daemon and what to ask of it.
#[derive(Clone, Debug)]
pub struct Daemon {
    /// Its address.
    pub address: Address,
    /// TLS files for `tcp://`.
    pub tls: TlsFiles,
    /// Run steps that need the network on the daemon's host network (entitlement
    /// `network.host`) instead of its sandbox network.
    pub host_network: bool,
    /// Where registry credentials are looked up for the daemon (`--authfile`).
    pub auth_file: Option<PathBuf>,
}

/// One build of a plan on BuildKit, with the images named as the daemon pulls them.
pub struct Build<'a> {
    /// The daemon.
    pub daemon: &'a Daemon,
    /// The target as the daemon pulls it (`REPOSITORY@DIGEST`, or a name in Docker's store).
    pub target: &'a str,
    /// The tooling image as the daemon pulls it, if the plan runs there.
    pub tooling: Option<&'a str>,
    /// The target's platform.
    pub platform: &'a Platform,
    /// The target's layer blobs (bottom first), to read the databases and check mount points.
    pub base_blobs: &'a [PathBuf],
    /// The target's layer digests (uncompressed), to find the new layers in the export.
    pub base_diff_ids: &'a [String],
    /// The plan.
    pub plan: &'a UpdatePlan,
    /// The working layout, where the exported image is read into.
    pub layout: &'a OciLayout,
    /// A folder for this run.
    pub work: &'a Path,
    /// Where progress goes.
    pub progress: Progress,
    /// The most the database files read back from the results folder may hold together.
    pub database_cap: u64,
    /// The package sources the steps see in place of the image's, for mirrors.
    pub sources: &'a MirroredSources,
}

/// A random id for sessions, solves and temporary names.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty());
    hex::encode(bytes)
}

/// Connects to the daemon; returns the client and the platforms its workers run
/// (`os/arch[/variant]`). Fails with what to do when the daemon cannot be reached or is not
/// BuildKit.
pub async fn connect_to(daemon: &Daemon) -> anyhow::Result<(ControlClient<Channel>, Vec<String>)> {
    let channel = connect::connect(&daemon.address, &daemon.tls).await?;
    let mut client = ControlClient::new(channel).max_decoding_message_size(64 << 20);
    let workers = client
        .list_workers(ListWorkersRequest::default())
        .await
        .map_err(|status| {
            let detail = with_sources(&status);
            if status.code() == tonic::Code::Unimplemented {
                anyhow::anyhow!(
                    "the daemon at {} does not offer BuildKit's API ({detail}); is it a BuildKit \
                     daemon?",
                    daemon.address
                )
            } else {
                anyhow::anyhow!(
                    "cannot reach BuildKit at {}: {detail}; check --addr, that the daemon runs, \
                     and for TLS --cacert, --cert and --key",
                    daemon.address
                )
            }
        })?
        .into_inner()
        .record;
    let platforms = workers
        .iter()
        .flat_map(|worker| &worker.platforms)
        .map(|p| match p.variant.as_str() {
            "" => format!("{}/{}", p.os, p.architecture),
            variant => format!("{}/{}/{variant}", p.os, p.architecture),
        })
        .collect();
    Ok((client, platforms))
}

/// A gRPC status's message followed by the errors under it (a TLS alert, a refused connection).
fn with_sources(status: &tonic::Status) -> String {
    let mut text = status.message().to_string();
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        text.push_str(&format!(": {error}"));
        source = error.source();
    }
    text
}

/// Connects to the daemon and checks that a worker runs `platform`.
async fn connect_for(
    daemon: &Daemon,
    platform: &Platform,
) -> anyhow::Result<ControlClient<Channel>> {
    let (client, platforms) = connect_to(daemon).await?;
    let wanted = format!("{}/{}", platform.os, platform.architecture);
    if !platforms.iter().any(|p| p.starts_with(&wanted)) {
        bail!(
            "BuildKit at {} has no worker for {wanted} (its workers run: {}); use a daemon of \
             that platform, or one with QEMU emulation installed",
            daemon.address,
            if platforms.is_empty() {
                "nothing".to_string()
            } else {
                platforms.join(", ")
            }
        );
    }
    Ok(client)
}

/// Runs a job on BuildKit: the images named as the daemon pulls them (one loaded into Docker
/// for the run where it must be), then the build, which the job's cancellation stops (dropping
/// the solve cancels it on the daemon).
pub async fn run_job(daemon: &Daemon, job: &super::Job<'_>) -> anyhow::Result<Executed> {
    let tooling = job.tooling_image.map(target::tooling).transpose()?;
    std::fs::create_dir_all(job.work)?;
    // A loaded image stays in Docker until the build is over, however it ends.
    let (reference, _loaded) = target::target(job, &daemon.address)?;
    let platform = job.target.platform.to_string();
    // The daemon pulls the tooling image; its package sources are read here only to mirror them.
    let tooling_layers = match job.tooling_image {
        Some(image) if !job.mirrors.is_empty() => {
            Some(super::pull_tooling(job, image, &platform).await?)
        }
        _ => None,
    };
    let sources = super::mirrored::mirrored_sources(job, tooling_layers.as_ref())?;
    job.progress.stage(
        "execute",
        &format!(
            "{platform}: running {} step(s) on BuildKit at {}",
            job.plan.steps.len(),
            daemon.address
        ),
    );
    let build_job = Build {
        daemon,
        target: &reference,
        tooling: tooling.as_deref(),
        platform: &job.target.platform,
        base_blobs: &job.target.layers.blobs,
        base_diff_ids: &job.target.layers.diff_ids,
        plan: job.plan,
        layout: job.layout,
        work: job.work,
        progress: job.progress,
        database_cap: job.database_cap,
        sources: &sources,
    };
    match job.cancel.run(build(&build_job)).await {
        Ok(executed) => executed,
        Err(Cancelled::TimedOut) => bail!(
            "the time allowed (--timeout) ran out while BuildKit at {} ran the plan; the build \
             was cancelled and nothing was written",
            daemon.address
        ),
        Err(Cancelled::Interrupted) => bail!(
            "interrupted; the build on BuildKit at {} was cancelled and nothing was written",
            daemon.address
        ),
    }
}

/// Runs the plan; returns the changes and the database files.
async fn build(job: &Build<'_>) -> anyhow::Result<Executed> {
    let daemon = job.daemon;
    let client = connect_for(daemon, job.platform).await?;
    let mut session_client = client.clone();
    let session = Session::open(&mut session_client, daemon.auth_file.clone()).await?;

    let ca_bundle = match host_ca_bundle() {
        Some(path) => {
            Some(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let environment: Vec<(String, String)> = ca_bundle
        .iter()
        .map(|_| ca_bundle_variable())
        .chain(job.sources.environment.iter().cloned())
        .collect();
    let graph = llb::build(&llb::GraphInput {
        plan: job.plan,
        target: job.target,
        tooling: job.tooling,
        platform: pb::Platform {
            architecture: job.platform.architecture.clone(),
            os: job.platform.os.clone(),
            variant: job.platform.variant.clone().unwrap_or_default(),
        },
        environment: &environment,
        proxies: proxies(),
        ca_bundle: ca_bundle.as_deref(),
        network: if daemon.host_network {
            pb::NetMode::Host
        } else {
            pb::NetMode::Unset
        },
        overlaid_files: &job.sources.files,
    });
    let entitlements = if daemon.host_network {
        vec!["network.host".to_string()]
    } else {
        Vec::new()
    };
    let progress = job.progress;
    let failed = |error: SolveError| solve_failed(job, &graph.steps, error);

    let solve_job = |definition: &pb::Definition, exporter: &str, attributes| SolveJob {
        definition: definition.clone(),
        exporter: exporter.to_string(),
        attributes,
        session: session.id.clone(),
        entitlements: entitlements.clone(),
    };

    // The target after the steps, as an image: an OCI archive sent through the session where
    // the daemon has that exporter (buildkitd; Docker with the containerd image store), else
    // (Docker's own image store) an image in Docker, read back through its API.
    let file = job.work.join("buildkit-export.tar");
    session.expect_export(file.clone());
    let oci = solve_job(&graph.target, "oci", BTreeMap::new());
    let exported = match (solve(&client, oci, progress).await, &daemon.address) {
        (Err(SolveError { message, .. }), Address::Docker(socket))
            if message.contains(NO_OCI_EXPORTER) =>
        {
            // Removed from Docker however the run ends.
            let image = TemporaryImage::new(socket, format!("salve-patch:{}", random_id()));
            let attributes = BTreeMap::from([("name".to_string(), image.name.clone())]);
            let moby = solve_job(&graph.target, "moby", attributes);
            solve(&client, moby, progress).await.map_err(failed)?;
            docker_daemon::read_from(socket, &image.name, job.layout, EXPORTED_TAG)
                .context("reading the patched image back from Docker")?
        }
        (solved, _) => {
            solved.map_err(failed)?;
            received(&session)?;
            let read = crate::transport::oci_archive::read(&file, None, job.layout, EXPORTED_TAG);
            let _ = std::fs::remove_file(&file);
            read.context("reading the image BuildKit exported")?
        }
    };
    let layers = result::new_layers(job.layout, &exported, job.base_diff_ids)?;

    // The results folder, when the plan reads files from it.
    let results = job.work.join("results");
    std::fs::create_dir_all(&results)?;
    let (from_results, from_image): (Vec<String>, Vec<String>) = job
        .plan
        .database_paths
        .iter()
        .cloned()
        .partition(|path| path.starts_with(RESULTS_MOUNT));
    if !from_results.is_empty() {
        // From the daemon's cache: the steps do not run again.
        let file = results.with_extension("tar");
        let tar = solve_job(&graph.results, "tar", BTreeMap::new());
        receive(&client, &session, tar, progress, &failed, &file).await?;
        unpack_layers(
            std::slice::from_ref(&file),
            &results,
            UnpackOptions::default(),
        )
        .context("unpacking the results folder BuildKit exported")?;
        let _ = std::fs::remove_file(&file);
    }
    // Every path here is under /salve-results: nothing is read from a copied database folder.
    let database = database_files(&from_results, &results, &results, job.database_cap)?;
    read_back(job, layers, database, &from_image)
}

/// The run's result from the new layers: the package databases (`from_image`, read from the
/// base and the new layers, added to those already read) and the daemon's mount points.
fn read_back(
    job: &Build<'_>,
    layers: Vec<PathBuf>,
    mut database: Vec<crate::plugin::types::ImageFile>,
    from_image: &[String],
) -> anyhow::Result<Executed> {
    let mut all_layers = job.base_blobs.to_vec();
    all_layers.extend(layers.iter().cloned());
    let candidates = result::mount_candidates(&job.plan.exclude_paths, job.tooling.is_some());
    // Both read the base layer through; side by side they take the time of one.
    let (from_layers, mount_points) = std::thread::scope(|scope| {
        let mount_points =
            scope.spawn(|| result::mount_points(&layers, job.base_blobs, &candidates));
        let from_layers = read_paths(&all_layers, from_image, DATABASE_FILE_CAP)
            .context("reading the package databases from the patched layers");
        (from_layers, mount_points.join())
    });
    database.extend(from_layers?);
    let mount_points =
        mount_points.map_err(|_| anyhow::anyhow!("finding the daemon's mount points failed"))??;
    Ok(Executed {
        changes: Changes::Layers {
            layers,
            mount_points,
        },
        database,
    })
}

/// Runs a solve whose exporter sends its output through the session into `file`.
async fn receive(
    client: &ControlClient<Channel>,
    session: &Session,
    job: SolveJob,
    progress: Progress,
    failed: &dyn Fn(SolveError) -> anyhow::Error,
    file: &Path,
) -> anyhow::Result<()> {
    session.expect_export(file.to_path_buf());
    solve(client, job, progress).await.map_err(failed)?;
    received(session)
}

/// Checks that the exporter's output arrived whole.
fn received(session: &Session) -> anyhow::Result<()> {
    match session.export_result() {
        Some(Ok(_)) => Ok(()),
        Some(Err(error)) => bail!("receiving BuildKit's export: {error}"),
        None => bail!("BuildKit finished without sending its export to salve"),
    }
}

/// The proxy settings from salve's environment (lower-case names first).
fn proxies() -> pb::ProxyEnv {
    let value = |(lower, upper): (&str, &str)| {
        std::env::var(lower)
            .or_else(|_| std::env::var(upper))
            .unwrap_or_default()
    };
    pb::ProxyEnv {
        http_proxy: value(PROXY_VARIABLES[0]),
        https_proxy: value(PROXY_VARIABLES[1]),
        no_proxy: value(PROXY_VARIABLES[2]),
        all_proxy: value(PROXY_VARIABLES[3]),
        ftp_proxy: String::new(),
    }
}

/// The error for a solve that ended without a result: a failed step with its output, or the
/// daemon's message with advice where salve knows the cause.
fn solve_failed(job: &Build<'_>, steps: &[String], error: SolveError) -> anyhow::Error {
    let address = &job.daemon.address;
    let SolveError { message, watched } = error;
    if let Some(index) = steps
        .iter()
        .position(|digest| watched.errors.contains_key(digest))
    {
        let log = String::from_utf8_lossy(
            watched
                .logs
                .get(&steps[index])
                .map(Vec::as_slice)
                .unwrap_or_default(),
        )
        .into_owned();
        let failure = exit_code(&watched.errors[&steps[index]]);
        return step_failed(job.plan, index, &failure, &log);
    }
    let advice = if message.contains("network bridge not found") {
        "\nthe daemon has no bridge network for the steps; run them on its host network with \
         --buildkit-host-network, or give the daemon a bridge"
    } else if message.contains("network.host is not allowed") {
        "\nstart buildkitd with --allow-insecure-entitlement network.host, or leave out \
         --buildkit-host-network"
    } else if message.contains(NO_OCI_EXPORTER) {
        "\nthis daemon is Docker's built-in BuildKit: use --addr docker://SOCKET"
    } else {
        ""
    };
    anyhow::anyhow!("BuildKit at {address} could not run the plan: {message}{advice}")
}

/// "exit code N" from the daemon's message for a failed process, else the message.
fn exit_code(message: &str) -> String {
    match message.rsplit_once("exit code: ") {
        Some((_, code)) => format!("exit code {}", code.trim()),
        None => message.to_string(),
    }
}
