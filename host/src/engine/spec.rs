//! What the local engine's parent process tells its sandbox process: the folders to mount, the
//! ids and network the steps get, the paths to keep out of the layer, the steps to run and the
//! files to read back. Written as JSON into the run's work folder and read by `salve __sandbox`.
//! Every path here is a host path the steps never see: they see only the image, `/target` and
//! the results folder.

use super::sandbox::ids::IdRange;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One run of a plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// The target image's overlay (its upper folder becomes the patch layer).
    pub target: OverlaySpec,
    /// The tooling image's overlay, when the plan runs there with the target at `/target`.
    pub tooling: Option<OverlaySpec>,
    /// The host folder mounted at `/salve-results`.
    pub results: PathBuf,
    /// Image paths covered with an empty tmpfs, so nothing written there reaches the layer.
    pub exclude_paths: Vec<String>,
    /// Host files put read-only over the image's files while the steps run (package sources
    /// rewritten for mirrors), at the paths the steps see them.
    pub overlaid_files: Vec<OverlaidFile>,
    /// The commands to run in order.
    pub steps: Vec<StepSpec>,
    /// Image paths (`*` within one segment) copied out after the steps.
    pub database_paths: Vec<String>,
    /// The most the copied database files may hold together (the plugin input cap).
    pub database_cap: u64,
    /// Environment passed to every step (proxies), before the step's own.
    pub environment: Vec<(String, String)>,
    /// The host ids the sandbox's user namespace maps its ids to.
    pub ids: IdRange,
    /// How steps that need the network reach it.
    pub network: NetworkSpec,
    /// Per-step resource limits.
    pub limits: StepLimits,
    /// Folders and files of the run that only salve sees.
    pub run: RunFiles,
}

/// An overlay: a read-only lower folder (an unpacked image), and a folder of salve's holding
/// `upper/` and `work/` side by side (one mount, as overlayfs needs when it is id-mapped).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OverlaySpec {
    /// The unpacked image.
    pub lower: PathBuf,
    /// The folder holding `upper/` (the changes) and `work/` (overlayfs's own).
    pub changes: PathBuf,
    /// Where the overlay is mounted.
    pub merged: PathBuf,
}

impl OverlaySpec {
    /// The overlay's upper folder: what the steps changed.
    pub fn upper(&self) -> PathBuf {
        self.changes.join("upper")
    }

    /// The overlay's work folder.
    pub fn work(&self) -> PathBuf {
        self.changes.join("work")
    }
}

/// A host file the steps see in place of an image file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OverlaidFile {
    /// The path the steps see (under `/target` for a target under a tooling image).
    pub path: String,
    /// The host file.
    pub host: PathBuf,
}

/// One command.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepSpec {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Its own environment variables.
    pub env: Vec<(String, String)>,
    /// Whether it may use the network.
    pub network: bool,
}

/// The network of steps that need one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum NetworkSpec {
    /// Their own network namespace, reaching out through `slirp4netns` (at this path), with
    /// the host's loopback out of reach; `resolv_conf` is the resolver file they get.
    Sandboxed {
        /// The `slirp4netns` program.
        slirp4netns: PathBuf,
        /// A resolver file naming slirp4netns's DNS forwarder.
        resolv_conf: PathBuf,
    },
    /// The host's network namespace (`--network host`).
    Host,
}

/// Resource limits of every process a step starts.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct StepLimits {
    /// The most processes the sandbox's users may have at once.
    pub processes: u64,
    /// The most memory (data and heap) one process may use, in bytes.
    pub memory: u64,
}

impl Default for StepLimits {
    fn default() -> Self {
        StepLimits {
            processes: 4096,
            memory: 8 << 30,
        }
    }
}

/// The run's own files, outside everything the steps can reach.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunFiles {
    /// Mount points for the id-mapped folders.
    pub mounts: PathBuf,
    /// One log file per step.
    pub logs: PathBuf,
    /// Where the database files are copied after the steps.
    pub database: PathBuf,
    /// The sandbox's status.
    pub status: PathBuf,
    /// The mount points the sandbox had to create in the target, to be taken out of the layer.
    pub created: PathBuf,
}

impl RunFiles {
    /// The files of a run in the work folder `work`.
    pub fn in_folder(work: &Path) -> RunFiles {
        RunFiles {
            mounts: work.join("mounts"),
            logs: work.join("logs"),
            database: work.join("database"),
            status: work.join("status.json"),
            created: work.join("created.json"),
        }
    }

    /// The log file of step `index`.
    pub fn log(&self, index: usize) -> PathBuf {
        self.logs.join(format!("step-{index}.log"))
    }
}

/// What the sandbox reports after the steps.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SandboxStatus {
    /// The index of the step that failed, if one did.
    pub failed_step: Option<usize>,
    /// How it ended: an exit code, or a description (a signal, a failure to start).
    pub failure: Option<String>,
}

/// The mount point of the results folder in the image.
pub const RESULTS_MOUNT: &str = "/salve-results";

impl SandboxSpec {
    /// Reads a spec file.
    pub fn read(path: &Path) -> std::io::Result<SandboxSpec> {
        let bytes = std::fs::read(path)?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }

    /// The folder that becomes `/` for the steps.
    pub fn root(&self) -> &Path {
        &self.tooling.as_ref().unwrap_or(&self.target).merged
    }
}
