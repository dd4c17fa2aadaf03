//! The host's side of the WIT types in `wit/types.wit`, checked against each plugin's own
//! types when its functions are looked up.

use serde::Serialize;
use wasmtime::component::{ComponentType, Lift, Lower};

/// `os-info`: an operating system's identity from `/etc/os-release`.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct OsInfo {
    /// `ID`: `debian`, `alpine`, ...
    pub id: String,
    /// `VERSION_ID`: `12`, `3.19.1`, ...
    #[component(name = "version-id")]
    pub version_id: String,
    /// `VERSION_CODENAME`, where known.
    pub codename: Option<String>,
}

/// `platform`: an OCI platform.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// `v7`, `v8`, where the architecture has variants.
    pub variant: Option<String>,
}

/// `package-class`: OS package or language library.
#[derive(ComponentType, Lift, Lower, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "lowercase")]
pub enum PackageClass {
    /// A package of the distribution's package manager.
    #[component(name = "os")]
    Os,
    /// A language package (Python, ...).
    #[component(name = "library")]
    Library,
}

/// `finding`: one package a scanner says has a fix.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct Finding {
    /// The package's name.
    pub package: String,
    /// The version the scanner saw.
    #[component(name = "installed-version")]
    pub installed_version: String,
    /// The lowest version with the fix.
    #[component(name = "fixed-version")]
    pub fixed_version: String,
    /// `CVE-...`, `GHSA-...`.
    #[component(name = "vulnerability-id")]
    pub vulnerability_id: String,
    /// OS package or library.
    pub class: PackageClass,
    /// The scanner's package type.
    #[component(name = "package-type")]
    pub package_type: String,
    /// Where a library lives in the image.
    pub path: Option<String>,
}

/// `skipped`: a finding left alone, with the reason.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct Skipped {
    /// The package's name.
    pub package: String,
    /// The vulnerability's id.
    #[component(name = "vulnerability-id")]
    pub vulnerability_id: String,
    /// Why it is skipped.
    pub reason: String,
}

/// `update-manifest`: what a scanner plugin makes of a report.
#[derive(ComponentType, Lift, Lower, Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct UpdateManifest {
    /// The image's OS, if the report names it.
    pub os: Option<OsInfo>,
    /// The image's platform, if the report names it.
    pub platform: Option<Platform>,
    /// Packages to update.
    pub findings: Vec<Finding>,
    /// Findings left alone.
    pub skipped: Vec<Skipped>,
}

/// `file-kind`: what a path in an image is.
#[derive(ComponentType, Lift, Lower, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A regular file.
    #[component(name = "file")]
    File,
    /// A directory.
    #[component(name = "directory")]
    Directory,
    /// A symbolic link.
    #[component(name = "symlink")]
    Symlink,
    /// Nothing at that path.
    #[component(name = "missing")]
    Missing,
}

/// `image-file`: one path read from an image for an ecosystem plugin.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq)]
#[component(record)]
pub struct ImageFile {
    /// Absolute path in the image.
    pub path: String,
    /// What the path is.
    pub kind: FileKind,
    /// A regular file's bytes.
    pub content: Option<Vec<u8>>,
    /// A symbolic link's target.
    #[component(name = "link-target")]
    pub link_target: Option<String>,
}

/// `installed-package`: one package from a package database.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct InstalledPackage {
    /// The package's name.
    pub name: String,
    /// The installed version.
    pub version: String,
    /// The architecture, where recorded.
    pub architecture: Option<String>,
    /// Where a library package is installed.
    pub location: Option<String>,
}

/// `scanner-info`: how a scanner plugin describes itself.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct ScannerInfo {
    /// The name used with `--scanner`.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// One line on what it reads.
    pub summary: String,
}

/// `ecosystem-info`: how an ecosystem plugin describes itself.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct EcosystemInfo {
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// One line on what it handles.
    pub summary: String,
    /// The purl type of its packages.
    #[component(name = "purl-type")]
    pub purl_type: String,
    /// OS packages or libraries.
    pub class: PackageClass,
    /// The os-release ids it recognises.
    #[component(name = "os-ids")]
    pub os_ids: Vec<String>,
}

/// `target`: how an ecosystem plugin recognised an image.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct Target {
    /// The package manager to drive.
    pub manager: String,
    /// True when the plan must run in a tooling image.
    pub distroless: bool,
    /// Packages held as they are.
    pub held: Vec<String>,
    /// The language runtime, for library ecosystems.
    pub runtime: Option<String>,
    /// Notes for the user.
    pub warnings: Vec<String>,
}

/// `requested-update`: one update to plan.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct RequestedUpdate {
    /// The package's name.
    pub package: String,
    /// The version to reach at least.
    #[component(name = "fixed-version")]
    pub fixed_version: String,
    /// Where a library lives.
    pub path: Option<String>,
}

/// `plan-request`: what the host asks an ecosystem plugin to plan.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct PlanRequest {
    /// The image's OS.
    pub os: OsInfo,
    /// The image's platform.
    pub platform: Platform,
    /// What `detect` returned.
    pub target: Target,
    /// Updates to make; empty for update-all.
    pub updates: Vec<RequestedUpdate>,
    /// The tooling image the plan runs in, if any.
    #[component(name = "tooling-image")]
    pub tooling_image: Option<String>,
}

/// `step`: one command of a plan.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct Step {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Whether it needs the network.
    pub network: bool,
    /// Advice for the user when it fails.
    #[component(name = "on-failure")]
    pub on_failure: Option<String>,
}

/// `update-plan`: the commands that apply updates.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq, Serialize)]
#[component(record)]
pub struct UpdatePlan {
    /// Commands in order.
    pub steps: Vec<Step>,
    /// Paths kept out of the patch layer.
    #[component(name = "exclude-paths")]
    pub exclude_paths: Vec<String>,
    /// Paths read back after the steps.
    #[component(name = "database-paths")]
    pub database_paths: Vec<String>,
    /// Notes for the user.
    pub warnings: Vec<String>,
}
