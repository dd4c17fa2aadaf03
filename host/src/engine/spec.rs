//! What the local engine's parent process tells its sandbox processes: the folders to mount, the
//! paths to keep out of the layer, the steps to run and the files to read back. Written as JSON
//! into the run's work folder and read by `salve __sandbox` and `salve __sandbox-init`.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One run of a plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// The target image's unpacked root filesystem (the overlay's lower folder).
    pub target_lower: PathBuf,
    /// Where the target's changes land (the overlay's upper folder: the patch layer).
    pub target_upper: PathBuf,
    /// The overlay's work folder for the target.
    pub target_work: PathBuf,
    /// Where the target's overlay is mounted.
    pub target_merged: PathBuf,
    /// The tooling image, when the plan runs there with the target at `/target`.
    pub tooling: Option<ToolingSpec>,
    /// The host folder mounted at `/salve-results`.
    pub results: PathBuf,
    /// Image paths covered with an empty tmpfs, so nothing written there reaches the layer.
    pub exclude_paths: Vec<String>,
    /// The commands to run in order.
    pub steps: Vec<StepSpec>,
    /// Image paths (`*` within one segment) copied out after the steps.
    pub database_paths: Vec<String>,
    /// Environment passed to every step (proxies), before the step's own.
    pub environment: Vec<(String, String)>,
    /// The file where the sandbox lists mount points it had to create in the target, so the
    /// parent can take them out of the layer.
    pub created_list: PathBuf,
}

/// The tooling image's overlay.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolingSpec {
    /// Its unpacked root filesystem.
    pub lower: PathBuf,
    /// A throwaway upper folder.
    pub upper: PathBuf,
    /// Its overlay work folder.
    pub work: PathBuf,
    /// Where it is mounted.
    pub merged: PathBuf,
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

/// What the sandbox reports after the steps, in `<results>/.salve/status.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SandboxStatus {
    /// The index of the step that failed, if one did.
    pub failed_step: Option<usize>,
    /// How it ended: an exit code, or a description (a signal, a failure to start).
    pub failure: Option<String>,
}

/// salve's own folder inside the results mount.
pub const SALVE_DIR: &str = ".salve";
/// Where database files are copied inside the results folder.
pub const DATABASE_DIR: &str = ".salve/database";
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
        self.tooling
            .as_ref()
            .map_or(&self.target_merged, |tooling| &tooling.merged)
    }

    /// Where the target is seen from inside the root (`/` or `/target`).
    pub fn target_inside(&self) -> &'static str {
        if self.tooling.is_some() {
            "/target"
        } else {
            "/"
        }
    }

    /// The log file of step `index` inside the results folder.
    pub fn log_name(index: usize) -> String {
        format!("{SALVE_DIR}/step-{index}.log")
    }
}
