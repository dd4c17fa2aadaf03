//! Engines run an ecosystem plugin's plan against an image and return exactly one new layer's
//! worth of changes. The local engine (the default) needs no daemon; the BuildKit engine
//! (`--addr`) solves the plan on a BuildKit daemon. Both take the same [`Job`] through
//! [`EngineChoice::run`], obey the run's [`Cancel`] token, and give [`Executed`]; what is
//! particular to an engine (pulling a tooling image, loading an image into Docker) lives under
//! it.

pub mod buildkit;
pub mod changes;
pub mod local;
pub mod materialize;
pub mod mirrored;
pub mod native;
pub mod paths;
pub mod rootless;
pub mod sandbox;
pub mod spec;

use crate::cancel::Cancel;
use crate::image::digest::sha256;
use crate::image::{ImageLayers, OciLayout, PlatformImage, RootfsCache};
use crate::mirror::Mirrors;
use crate::plugin::types::{ImageFile, UpdatePlan};
use crate::progress::Progress;
use crate::transport::{PlatformChoice, RegistryOptions, Transport, fetch};
use anyhow::Context;
use spec::RESULTS_MOUNT;
use std::path::{Path, PathBuf};

pub use changes::{Changes, Executed};
pub use local::LocalOptions;

/// Where plans run.
#[derive(Clone, Debug)]
pub enum EngineChoice {
    /// On this machine (the default).
    Local(LocalOptions),
    /// On a BuildKit daemon.
    Buildkit(buildkit::Daemon),
    /// By file operations, nothing of the image run.
    Native(native::NativeOptions),
    /// Natively when the native engine can make the update, else on this machine.
    Auto {
        /// The native engine's options.
        native: native::NativeOptions,
        /// The local engine's options, for what native cannot do.
        local: LocalOptions,
    },
}

/// One run of a plan against one platform's image, the same for every engine.
pub struct Job<'a> {
    /// The image as the user named it (BuildKit pulls a registry image itself).
    pub source: &'a Transport,
    /// The platform's image in the working layout.
    pub target: &'a PlatformImage,
    /// The image the plan runs in when the target has no package manager.
    pub tooling_image: Option<&'a str>,
    /// The plan.
    pub plan: &'a UpdatePlan,
    /// The working layout.
    pub layout: &'a OciLayout,
    /// The cache of unpacked root filesystems.
    pub cache: &'a RootfsCache,
    /// A folder for this run (removed by the caller).
    pub work: &'a Path,
    /// The most the package database files read back may hold together (the plugin input cap).
    pub database_cap: u64,
    /// How registries are reached (the local engine pulls tooling images itself).
    pub registry: &'a RegistryOptions,
    /// Where progress goes.
    pub progress: Progress,
    /// The run's deadline and Ctrl-C.
    pub cancel: &'a Cancel,
    /// The plugin and request the native engine installs for, when one OS ecosystem's updates
    /// are the whole plan.
    pub native: Option<native::NativeWork<'a>>,
    /// Why only the native engine can make the update: the plan the other engines run could
    /// not be made (it is then empty).
    pub local_refusal: Option<&'a str>,
    /// Where packages come from for this run instead of where the image says.
    pub mirrors: &'a Mirrors,
    /// The target's files read with the probe, its package source files among them when there
    /// are mirrors.
    pub source_files: &'a [ImageFile],
}

impl EngineChoice {
    /// Runs the job's plan on this engine.
    pub async fn run(&self, job: &Job<'_>) -> anyhow::Result<Executed> {
        let only_native = |engine: &str| {
            job.local_refusal.map(|refusal| {
                anyhow::anyhow!(
                    "{}: the {engine} engine cannot make this update ({refusal}); --engine \
                     native can, by file operations",
                    job.target.platform
                )
            })
        };
        match self {
            EngineChoice::Local(options) => match only_native("local") {
                Some(error) => Err(error),
                None => local::run_job(*options, job).await,
            },
            EngineChoice::Buildkit(daemon) => match only_native("BuildKit") {
                Some(error) => Err(error),
                None => buildkit::run_job(daemon, job).await,
            },
            EngineChoice::Native(options) => native::run_job(options, job).await.map_err(|error| {
                match (native::unsupported_reason(&error), job.local_refusal) {
                    (Some(_), None) => error.context(
                        "the native engine cannot make this update; --engine auto (or local) \
                         makes it on this machine",
                    ),
                    (Some(_), Some(refusal)) => error.context(format!(
                        "the native engine cannot make this update, and no other engine can \
                             ({refusal})"
                    )),
                    (None, _) => error,
                }
            }),
            EngineChoice::Auto { native, local } => {
                let error = match native::run_job(native, job).await {
                    Ok(executed) => return Ok(executed),
                    Err(error) => error,
                };
                let Some(reason) = native::unsupported_reason(&error) else {
                    return Err(error);
                };
                if let Some(refusal) = job.local_refusal {
                    return Err(error.context(format!(
                        "the native engine cannot make this update, and no other engine can \
                         ({refusal})"
                    )));
                }
                job.progress.warn(&format!(
                    "{}: the local engine makes this update: the native engine cannot ({})",
                    job.target.platform,
                    crate::display_safe::one_line(&reason)
                ));
                local::run_job(*local, job).await
            }
        }
    }
}

/// Pulls `image` (a tooling image) for `platform` into the job's working layout, under the
/// job's cancellation; its layers.
pub async fn pull_tooling(
    job: &Job<'_>,
    image: &str,
    platform: &str,
) -> anyhow::Result<ImageLayers> {
    job.progress.stage(
        "tooling",
        &format!("{platform}: reading tooling image {image}"),
    );
    let transport: Transport = image.parse()?;
    let tag = format!(
        "tooling-{}",
        sha256(image.as_bytes()).trim_start_matches("sha256:")
    );
    let choice = PlatformChoice::One(platform.to_string());
    let descriptor = job
        .cancel
        .run(fetch(&transport, &choice, job.layout, &tag, job.registry))
        .await?
        .with_context(|| format!("reading the tooling image {image}"))?;
    Ok(PlatformImage::read(job.layout, &descriptor)?.layers)
}

/// The `PATH` steps run with.
pub const STEP_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment every step starts from, on every engine, before salve's own variables
/// (proxies) and the plan's. `PYTHONDONTWRITEBYTECODE` keeps the Python programs salve runs (pip,
/// the package managers' hooks) from caching bytecode of their own modules into the patch layer;
/// the packages installed still get theirs, which pip and the maintainer scripts compile
/// explicitly.
pub const STEP_BASE_ENVIRONMENT: [(&str, &str); 3] = [
    ("PATH", STEP_PATH),
    ("HOME", "/root"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
];

/// The variable naming the CA bundle pip trusts; a host behind a proxy with its own CA sets it.
const PIP_CERT: &str = "PIP_CERT";

/// Where the host's pip CA bundle is put, inside the results folder.
pub const CA_BUNDLE: &str = ".salve/ca-bundle.crt";

/// The CA bundle `PIP_CERT` names on this host, when it names a file.
pub fn host_ca_bundle() -> Option<PathBuf> {
    std::env::var_os(PIP_CERT)
        .map(PathBuf::from)
        .filter(|path| path.is_file())
}

/// The variable that points the steps at the bundle's copy in the results folder.
pub fn ca_bundle_variable() -> (String, String) {
    (PIP_CERT.into(), format!("{RESULTS_MOUNT}/{CA_BUNDLE}"))
}

/// How many lines of a failed step's output an error shows.
const LOG_TAIL_LINES: usize = 25;

/// The error for step `index` of `plan` failing (`failure`: an exit code or signal), with the
/// end of its output and the plugin's advice.
pub fn step_failed(plan: &UpdatePlan, index: usize, failure: &str, log: &str) -> anyhow::Error {
    let step = &plan.steps[index];
    let tail: Vec<&str> = log.lines().rev().take(LOG_TAIL_LINES).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let advice = step
        .on_failure
        .as_deref()
        .map(|advice| format!("\n{advice}"))
        .unwrap_or_default();
    anyhow::anyhow!(
        "step {} of {} failed ({failure}): {}\n--- last lines of its output ---\n{}{advice}",
        index + 1,
        plan.steps.len(),
        describe_step(&step.argv),
        tail.join("\n")
    )
}

/// A step's command line for messages, on one line (its arguments come from a plugin): a
/// plugin's constant script (`sh -c SCRIPT NAME ARGS`) is shown by its name and arguments
/// (`NAME ARGS (a script)`), other commands as they are.
pub fn describe_step(argv: &[String]) -> String {
    let shown = match argv {
        [shell, flag, _script, name, arguments @ ..] if shell == "sh" && flag == "-c" => {
            let mut shown = vec![name.as_str()];
            shown.extend(arguments.iter().map(String::as_str));
            format!("{} (a script of the plugin)", shown.join(" "))
        }
        _ => argv.join(" "),
    };
    crate::display_safe::one_line(&shown).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_described_by_name() {
        let argv: Vec<String> = [
            "sh",
            "-c",
            "set -eu\nlong script",
            "salve-update",
            "3.0",
            "pkg",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            describe_step(&argv),
            "salve-update 3.0 pkg (a script of the plugin)"
        );
        let plain: Vec<String> = ["apt-get", "update"].map(String::from).into();
        assert_eq!(describe_step(&plain), "apt-get update");
        let forged: Vec<String> = ["true", "\nerror: forged"].map(String::from).into();
        assert_eq!(describe_step(&forged), "true \\x0aerror: forged");
    }
}
