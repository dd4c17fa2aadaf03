//! Copacetic's update manifests, every version in one permissive shape.

use salve_plugin_sdk::json::Text;
use serde::Deserialize;

/// An update manifest of any version, or the example plugin's report.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Manifest<'a> {
    /// `v1alpha1`, `v1alpha2`, or absent.
    #[serde(rename = "apiVersion", borrow)]
    pub api_version: Option<Text<'a>>,
    /// OS and architecture.
    pub metadata: Option<Metadata<'a>>,
    /// v1alpha1 and old unversioned manifests: OS package updates.
    #[serde(borrow)]
    pub updates: Option<Vec<Update<'a>>>,
    /// v1alpha1: Node.js package updates.
    #[serde(rename = "nodeUpdates", borrow)]
    pub node_updates: Option<Vec<Update<'a>>>,
    /// v1alpha2 and unversioned: OS package updates.
    #[serde(borrow)]
    pub osupdates: Option<Vec<Update<'a>>>,
    /// v1alpha2 and unversioned: language package updates.
    #[serde(borrow)]
    pub langupdates: Option<Vec<Update<'a>>>,
    /// The example scanner plugin's report: OS type.
    #[serde(rename = "OSType", borrow)]
    pub os_type: Option<Text<'a>>,
    /// The example scanner plugin's report: OS version.
    #[serde(rename = "OSVersion", borrow)]
    pub os_version: Option<Text<'a>>,
    /// The example scanner plugin's report: architecture.
    #[serde(rename = "Arch", borrow)]
    pub arch: Option<Text<'a>>,
    /// The example scanner plugin's report: packages.
    #[serde(rename = "Packages", borrow)]
    pub packages: Option<Vec<ExamplePackage<'a>>>,
}

/// `metadata`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Metadata<'a> {
    /// `metadata.os`.
    #[serde(borrow)]
    pub os: Option<Os<'a>>,
    /// `metadata.config`.
    #[serde(borrow)]
    pub config: Option<Config<'a>>,
}

/// `metadata.os`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Os<'a> {
    /// `debian`, `ubuntu`, `alpine`, `cbl-mariner`, ...
    #[serde(borrow)]
    pub r#type: Option<Text<'a>>,
    /// `12`, `20.04`, ...
    #[serde(borrow)]
    pub version: Option<Text<'a>>,
}

/// `metadata.config`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Config<'a> {
    /// `amd64`, `arm64`, ...
    #[serde(borrow)]
    pub arch: Option<Text<'a>>,
    /// `v7`, `v8` (v1alpha2).
    #[serde(borrow)]
    pub variant: Option<Text<'a>>,
}

/// One entry of `updates`, `osupdates`, `langupdates` or `nodeUpdates`.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Update<'a> {
    /// The package's name.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    /// The installed version.
    #[serde(borrow)]
    pub installed_version: Option<Text<'a>>,
    /// The fixed version.
    #[serde(borrow)]
    pub fixed_version: Option<Text<'a>>,
    /// The vulnerability's id.
    #[serde(rename = "vulnerabilityID", borrow)]
    pub vulnerability_id: Option<Text<'a>>,
    /// The package type (v1alpha2): `debian`, `python-pkg`, ...
    #[serde(borrow)]
    pub r#type: Option<Text<'a>>,
    /// `os-pkgs` or `lang-pkgs` (v1alpha2).
    #[serde(borrow)]
    pub class: Option<Text<'a>>,
}

/// One package of the example scanner plugin's report.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ExamplePackage<'a> {
    /// The package's name.
    #[serde(rename = "Name", borrow)]
    pub name: Option<Text<'a>>,
    /// The installed version.
    #[serde(rename = "InstalledVersion", borrow)]
    pub installed_version: Option<Text<'a>>,
    /// The fixed version.
    #[serde(rename = "FixedVersion", borrow)]
    pub fixed_version: Option<Text<'a>>,
    /// The vulnerability's id.
    #[serde(rename = "VulnerabilityID", borrow)]
    pub vulnerability_id: Option<Text<'a>>,
}
