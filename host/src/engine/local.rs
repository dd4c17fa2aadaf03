//! The built-in local engine: runs a plan on this machine with no daemon.
//!
//! The image is unpacked once into the shared root filesystem cache; the run gets its own
//! overlay upper folder on top, and `salve __sandbox` (see `sandbox`) runs each step in a
//! container of its own: a user namespace in which the image's root is nobody on the host,
//! `pivot_root` into the image, the container default capabilities, seccomp profile and `/proc`
//! masks, and a network namespace of its own. Afterwards the upper folder is the patch layer,
//! minus the mount points the sandbox had to create. The run is bounded by a deadline and stops
//! on Ctrl-C; either way the sandbox processes are killed (their mounts go with their
//! namespace) and the run's folders are removed by their owner.

use super::materialize::materialize;
use super::mirrored::mirrored_sources;
use super::paths::{ReadBudget, Root};
use super::sandbox::SETUP_FAILED;
use super::sandbox::ids::IdRange;
use super::spec::{
    NetworkSpec, OverlaidFile, OverlaySpec, RESULTS_MOUNT, RunFiles, SandboxSpec, SandboxStatus,
    StepLimits, StepSpec,
};
use super::{CA_BUNDLE, Changes, Executed, Job, ca_bundle_variable, host_ca_bundle, step_failed};
use crate::cancel::{Cancel, Cancelled};
use crate::image::{ImageLayers, RootfsCache, UnpackOptions};
use crate::mirror::sources::MirroredSources;
use crate::plugin::types::{FileKind, ImageFile, UpdatePlan};
use anyhow::{Context, bail};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Proxy variables passed from salve's environment to every step.
const PROXY_VARIABLES: [&str; 6] = [
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
];

/// The DNS forwarder slirp4netns offers in the steps' network namespace.
const SLIRP_DNS: &str = "10.0.2.3";

/// How the local engine runs steps.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalOptions {
    /// Steps that need the network share the host's network namespace (`--network host`)
    /// instead of one of their own behind slirp4netns.
    pub host_network: bool,
    /// Resource limits of the steps' processes.
    pub limits: StepLimits,
}

/// One run of a plan, owning what it needs so that it can run on a blocking thread.
pub struct Execution {
    /// The image to patch.
    pub target: ImageLayers,
    /// The tooling image the plan runs in, if the target has no package manager.
    pub tooling: Option<ImageLayers>,
    /// The image's architecture (OCI name).
    pub architecture: String,
    /// The plan.
    pub plan: UpdatePlan,
    /// How steps run.
    pub options: LocalOptions,
    /// The root filesystem cache.
    pub cache: RootfsCache,
    /// A folder for this run (removed by the caller).
    pub work: PathBuf,
    /// The run's deadline and Ctrl-C.
    pub cancel: Cancel,
    /// The most the database files read back may hold together (the plugin input cap).
    pub database_cap: u64,
    /// The package sources the steps see in place of the image's, for mirrors.
    pub sources: MirroredSources,
}

/// Runs a job on the local engine: pulls its tooling image, then runs the plan on a blocking
/// thread (the wait for the sandbox obeys the job's cancellation, and the thread is waited
/// for, so nothing of the run outlives it).
pub async fn run_job(options: LocalOptions, job: &Job<'_>) -> anyhow::Result<Executed> {
    let platform = job.target.platform.to_string();
    let tooling = match job.tooling_image {
        Some(image) => Some(super::pull_tooling(job, image, &platform).await?),
        None => None,
    };
    if !options.host_network
        && let Some(mirror) = job.mirrors.iter().find(|m| is_loopback_url(&m.url))
    {
        bail!(
            "--mirror {mirror} names this machine's loopback, which steps cannot reach from their \
             own network namespace: share this machine's network with --network host"
        );
    }
    let sources = mirrored_sources(job, tooling.as_ref())?;
    job.progress.stage(
        "execute",
        &format!(
            "{platform}: running {} step(s) in the image",
            job.plan.steps.len()
        ),
    );
    let execution = Execution {
        target: job.target.layers.clone(),
        tooling,
        architecture: job.target.platform.architecture.clone(),
        plan: job.plan.clone(),
        options,
        cache: job.cache.clone(),
        work: job.work.to_path_buf(),
        cancel: job.cancel.clone(),
        database_cap: job.database_cap,
        sources,
    };
    tokio::task::spawn_blocking(move || run(&execution))
        .await
        .context("the local engine's thread failed")?
}

/// Says why the local engine cannot run here, if it cannot.
pub fn check_can_run(architecture: &str) -> anyhow::Result<()> {
    if !rustix::process::geteuid().is_root() {
        bail!(
            "the local engine runs as root, or in a user namespace of its own for other users \
             (`salve patch` enters it by itself); patch on a BuildKit daemon with --addr \
             otherwise"
        );
    }
    let host = host_architecture();
    if architecture != host && !has_binfmt_handler(architecture) {
        bail!(
            "the image is for {architecture} and this machine is {host} with no binfmt handler \
             for {architecture}: install qemu-user-static and binfmt-support, patch only this \
             machine's platform with --platform linux/{host}, or patch on a BuildKit daemon of \
             that architecture with --addr"
        );
    }
    Ok(())
}

/// This machine's architecture in OCI terms.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// True when binfmt_misc can run binaries of `architecture`.
fn has_binfmt_handler(architecture: &str) -> bool {
    let qemu = match architecture {
        "arm64" => "aarch64",
        "amd64" => "x86_64",
        "386" => "i386",
        other => other,
    };
    Path::new("/proc/sys/fs/binfmt_misc")
        .join(format!("qemu-{qemu}"))
        .exists()
}

/// Runs the plan; returns the changes and the database files.
pub fn run(execution: &Execution) -> anyhow::Result<Executed> {
    check_can_run(&execution.architecture)?;
    let plan = &execution.plan;
    fs::create_dir_all(&execution.work)
        .with_context(|| format!("creating {}", execution.work.display()))?;
    let network = network_spec(execution)?;
    let target_root = unpack(&execution.cache, &execution.target)?;
    let work = &execution.work;
    let overlay = |name: &str, lower: PathBuf| -> anyhow::Result<OverlaySpec> {
        let overlay = OverlaySpec {
            lower,
            changes: work.join(format!("{name}-changes")),
            merged: work.join(format!("{name}-merged")),
        };
        for folder in [overlay.upper(), overlay.work(), overlay.merged.clone()] {
            fs::create_dir_all(&folder)
                .with_context(|| format!("creating {}", folder.display()))?;
        }
        Ok(overlay)
    };
    let tooling = match &execution.tooling {
        Some(layers) => Some(overlay("tooling", unpack(&execution.cache, layers)?)?),
        None => None,
    };
    let results = work.join("results");
    fs::create_dir_all(&results)?;
    let overlaid_files = overlaid_files(&execution.sources, work)?;
    let mut environment = step_environment(&results)?;
    environment.extend(execution.sources.environment.iter().cloned());
    let spec = SandboxSpec {
        target: overlay("target", target_root)?,
        tooling,
        results: results.clone(),
        exclude_paths: plan.exclude_paths.clone(),
        overlaid_files,
        steps: plan
            .steps
            .iter()
            .map(|step| StepSpec {
                argv: step.argv.clone(),
                env: step.env.clone(),
                network: step.network,
            })
            .collect(),
        database_paths: plan.database_paths.clone(),
        database_cap: execution.database_cap,
        environment,
        ids: IdRange::for_this_process(),
        network,
        limits: execution.options.limits,
        run: RunFiles::in_folder(work),
    };
    let spec_path = work.join("spec.json");
    fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
    let stderr_path = work.join("sandbox.err");
    run_sandbox(&spec_path, &stderr_path, execution)?;

    let status: SandboxStatus =
        read_json(&spec.run.status).context("the sandbox ended without reporting its status")?;
    if let (Some(index), Some(failure)) = (status.failed_step, &status.failure) {
        let log = log_tail(&spec.run.log(index)).unwrap_or_default();
        return Err(step_failed(
            plan,
            index,
            failure,
            &String::from_utf8_lossy(&log),
        ));
    }
    let upper = spec.target.upper();
    materialize(&upper, &spec.target.lower)
        .context("filling in the overlay's metadata-only copies")?;
    let created: Vec<String> = read_json(&spec.run.created).unwrap_or_default();
    for path in created {
        let in_upper = upper.join(path.trim_start_matches('/'));
        match fs::symlink_metadata(&in_upper) {
            Ok(metadata) if metadata.is_dir() => fs::remove_dir_all(&in_upper)?,
            Ok(_) => fs::remove_file(&in_upper)?,
            Err(_) => {}
        }
    }
    let database = database_files(
        &plan.database_paths,
        &spec.run.database,
        &results,
        execution.database_cap,
    )?;
    Ok(Executed {
        changes: Changes::Upper(upper),
        database,
    })
}

/// Writes the mirrored copies of the package sources into the run's folder (outside everything
/// the steps reach), to be put over the image's files.
fn overlaid_files(sources: &MirroredSources, work: &Path) -> anyhow::Result<Vec<OverlaidFile>> {
    let folder = work.join("mirrored-sources");
    let mut overlaid = Vec::new();
    for (index, file) in sources.files.iter().enumerate() {
        fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
        let host = folder.join(index.to_string());
        fs::write(&host, &file.content).with_context(|| format!("writing {}", host.display()))?;
        fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        overlaid.push(OverlaidFile {
            path: file.path.clone(),
            host,
        });
    }
    Ok(overlaid)
}

/// How much of the end of a failed step's log is read (it may be any size).
const LOG_TAIL_BYTES: u64 = 64 << 10;

/// The end of a step's log.
fn log_tail(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(path)?;
    let length = file.metadata()?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(LOG_TAIL_BYTES)))?;
    let mut tail = Vec::new();
    file.take(LOG_TAIL_BYTES).read_to_end(&mut tail)?;
    Ok(tail)
}

/// How steps that need the network get it, checked before anything runs: slirp4netns must be
/// installed unless the user chose the host's network.
fn network_spec(execution: &Execution) -> anyhow::Result<NetworkSpec> {
    if execution.options.host_network {
        return Ok(NetworkSpec::Host);
    }
    if let Some((name, value)) = loopback_proxy() {
        bail!(
            "{name} names a proxy on this machine's loopback ({value}), which steps cannot reach \
             from their own network namespace: share this machine's network with --network host"
        );
    }
    let slirp4netns = find_program("slirp4netns").ok_or_else(|| {
        anyhow::anyhow!(
            "the local engine gives steps that need the network a network namespace of their \
             own through slirp4netns, which is not installed: apt-get install slirp4netns (or \
             share this machine's network with --network host)"
        )
    })?;
    let resolv_conf = execution.work.join("resolv.conf");
    fs::write(&resolv_conf, sandbox_resolv_conf())?;
    Ok(NetworkSpec::Sandboxed {
        slirp4netns,
        resolv_conf,
    })
}

/// A proxy variable of salve's environment that names a proxy on the loopback interface.
fn loopback_proxy() -> Option<(&'static str, String)> {
    PROXY_VARIABLES
        .iter()
        .filter(|name| !name.eq_ignore_ascii_case("no_proxy"))
        .find_map(|name| {
            let value = std::env::var(name).ok()?;
            is_loopback_url(&value).then(|| (*name, value.clone()))
        })
}

/// True when a proxy URL (`http://user:password@host:port/`, or just `host:port`) names the
/// loopback interface.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// The resolver file for the steps' own network: slirp4netns's DNS forwarder (which asks the
/// host's resolvers), with the host's search domains and options.
fn sandbox_resolv_conf() -> String {
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut text = format!("nameserver {SLIRP_DNS}\n");
    for line in host.lines() {
        if line.starts_with("search ")
            || line.starts_with("domain ")
            || line.starts_with("options ")
        {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// A program on salve's `PATH`.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
}

/// The environment every step gets from salve's: the proxy variables, and when `PIP_CERT` names
/// a CA bundle (a proxy with its own CA), a copy of that bundle under `/salve-results`, outside
/// the image, with `PIP_CERT` pointing at it.
fn step_environment(results: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut environment: Vec<(String, String)> = PROXY_VARIABLES
        .iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
        .collect();
    if let Some(bundle) = host_ca_bundle() {
        let copy = results.join(CA_BUNDLE);
        fs::create_dir_all(copy.parent().expect("a file in a folder"))?;
        fs::copy(&bundle, &copy).with_context(|| format!("copying {}", bundle.display()))?;
        environment.push(ca_bundle_variable());
    }
    Ok(environment)
}

/// Starts unpacking an image into the root filesystem cache in the background, so that it
/// overlaps with probing and planning; the engine's own request for it then finds it done, or
/// waits on the cache's lock until it is. A failure here is left for that request to meet and
/// report. The root filesystem is held through `cache`, the run's own, until the run ends.
pub fn prefetch(cache: RootfsCache, layers: ImageLayers) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let _ = unpack(&cache, &layers);
    })
}

/// The image's root filesystem from the cache, unpacking it the first time.
fn unpack(cache: &RootfsCache, layers: &ImageLayers) -> anyhow::Result<PathBuf> {
    Ok(cache
        .get_or_unpack(&rootfs_key(layers), &layers.blobs, UnpackOptions::default())?
        .path)
}

/// The image's root filesystem when the cache holds it unpacked already (a warm run), held
/// until the run ends; `None` when it does not, or the cache cannot say.
pub fn already_unpacked(cache: &RootfsCache, layers: &ImageLayers) -> Option<PathBuf> {
    cache.cached(&rootfs_key(layers)).ok().flatten()
}

/// The name of an image's root filesystem in the cache: its layers' chain id.
fn rootfs_key(layers: &ImageLayers) -> String {
    layers.chain_id.replace("sha256:", "sha256-")
}

/// Starts the sandbox and waits for it, killing it at the deadline or on Ctrl-C.
fn run_sandbox(spec: &Path, stderr: &Path, execution: &Execution) -> anyhow::Result<()> {
    let program = std::env::current_exe().context("finding salve's own program")?;
    let mut command = Command::new(program);
    command
        .arg("__sandbox")
        .arg(spec)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(stderr)?)
        .env_clear();
    // SAFETY: runs in the child between fork and exec; setsid and prctl are
    // async-signal-safe. A session of its own: no controlling terminal, and one process group
    // to kill.
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid()?;
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command.spawn().context("starting the sandbox")?;
    let group = rustix::process::Pid::from_child(&child);
    loop {
        if let Some(status) = child.try_wait()? {
            if status.code() == Some(i32::from(SETUP_FAILED)) || status.code().is_none() {
                let message = fs::read_to_string(stderr).unwrap_or_default();
                bail!("the sandbox failed: {}", message.trim());
            }
            return Ok(());
        }
        if let Err(cancelled) = execution.cancel.check() {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            let _ = child.wait();
            match cancelled {
                Cancelled::Interrupted => {
                    bail!("interrupted; the plan's steps were stopped and nothing was written")
                }
                Cancelled::TimedOut => bail!(
                    "the time allowed (--timeout) ran out while the plan's steps ran; nothing \
                     was written"
                ),
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads a JSON file.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The database files the sandbox copied out into `copied` (and plan results under
/// `/salve-results`, from `results`), as the ecosystem plugin's `installed` expects them: exact
/// paths always answered (`missing` when absent), patterns expanded. Paths resolve inside their
/// folder (see [`Root`]), so a link a step planted in the results folder never reaches the host,
/// and no more than `cap` bytes are read in all.
pub fn database_files(
    patterns: &[String],
    copied: &Path,
    results: &Path,
    cap: u64,
) -> anyhow::Result<Vec<ImageFile>> {
    // The sandbox makes the copies' folder only when it copies something.
    fs::create_dir_all(copied).with_context(|| format!("creating {}", copied.display()))?;
    let copied_root =
        Root::open(copied).with_context(|| format!("opening {}", copied.display()))?;
    let results_root =
        Root::open(results).with_context(|| format!("opening {}", results.display()))?;
    let mut budget = ReadBudget::new(cap);
    let mut files = Vec::new();
    for pattern in patterns {
        let (root, relative, prefix) = match pattern.strip_prefix(RESULTS_MOUNT) {
            Some(rest) => (&results_root, rest, RESULTS_MOUNT),
            None => (&copied_root, pattern.as_str(), ""),
        };
        let found = root.expand(relative)?;
        if found.is_empty() && crate::image::glob::Glob::new(pattern).is_exact() {
            files.push(ImageFile {
                path: normalize_root(pattern),
                kind: FileKind::Missing,
                content: None,
                link_target: None,
            });
        }
        for path in found {
            let content = root.read(&path, &mut budget)?;
            files.push(ImageFile {
                path: normalize_root(&format!("{prefix}{path}")),
                kind: FileKind::File,
                content: Some(content),
                link_target: None,
            });
        }
    }
    Ok(files)
}

/// A path with exactly one leading `/`.
fn normalize_root(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_proxies_are_recognised() {
        for url in [
            "http://127.0.0.1:3128",
            "http://user:p.w@127.0.0.1:3128/",
            "localhost:8080",
            "http://[::1]:3128",
            "https://localhost",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://proxy.example:3128",
            "http://127.example:3128",
            "http://10.0.0.1:3128",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
