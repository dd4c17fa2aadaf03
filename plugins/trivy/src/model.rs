//! The parts of Trivy's JSON report (schema 2) that salve reads; every field may be absent.

use salve_plugin_sdk::json::Text;
use serde::Deserialize;

/// A whole Trivy report.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Report<'a> {
    /// 2 for every Trivy since 0.20.
    pub schema_version: Option<u64>,
    /// OS and image configuration.
    #[serde(borrow)]
    pub metadata: Metadata<'a>,
    /// One result per scanned target (the OS, a lock file, a Python environment, ...).
    #[serde(borrow)]
    pub results: Option<Vec<TrivyResult<'a>>>,
}

/// `Metadata`: what Trivy learned about the image.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Metadata<'a> {
    /// `Metadata.OS`, absent when Trivy found no OS.
    #[serde(rename = "OS", borrow)]
    pub os: Option<Os<'a>>,
    /// `Metadata.ImageConfig`, the image's OCI configuration.
    #[serde(borrow)]
    pub image_config: Option<ImageConfig<'a>>,
}

/// `Metadata.OS`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Os<'a> {
    /// Trivy's OS family: `debian`, `alpine`, `redhat`, `cbl-mariner`, ...
    #[serde(borrow)]
    pub family: Option<Text<'a>>,
    /// The OS version: `12.5`, `3.19.1`.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
}

/// `Metadata.ImageConfig`, as in the OCI image configuration (lower-case keys).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ImageConfig<'a> {
    /// `os`, normally `linux`.
    #[serde(borrow)]
    pub os: Option<Text<'a>>,
    /// `architecture`: `amd64`, `arm64`, ...
    #[serde(borrow)]
    pub architecture: Option<Text<'a>>,
    /// `variant`: `v7`, `v8`.
    #[serde(borrow)]
    pub variant: Option<Text<'a>>,
}

/// One entry of `Results`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct TrivyResult<'a> {
    /// What was scanned: `debian 12.5`, `usr/local/lib/python3.11/site-packages/...`.
    #[serde(borrow)]
    pub target: Option<Text<'a>>,
    /// `os-pkgs`, `lang-pkgs`, `config`, `secret`, `license`.
    #[serde(borrow)]
    pub class: Option<Text<'a>>,
    /// The package type: `debian`, `alpine`, `python-pkg`, `node-pkg`, `jar`, ...
    #[serde(borrow)]
    pub r#type: Option<Text<'a>>,
    /// The vulnerabilities found in this target.
    #[serde(borrow)]
    pub vulnerabilities: Option<Vec<Vulnerability<'a>>>,
}

/// One entry of `Results[].Vulnerabilities`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Vulnerability<'a> {
    /// `CVE-...`, `GHSA-...`.
    #[serde(rename = "VulnerabilityID", borrow)]
    pub vulnerability_id: Option<Text<'a>>,
    /// The package's name (the binary package for deb and rpm).
    #[serde(borrow)]
    pub pkg_name: Option<Text<'a>>,
    /// Where a language package was found.
    #[serde(borrow)]
    pub pkg_path: Option<Text<'a>>,
    /// The installed version.
    #[serde(borrow)]
    pub installed_version: Option<Text<'a>>,
    /// The fixed version, or several separated by `, `; empty when there is no fix.
    #[serde(borrow)]
    pub fixed_version: Option<Text<'a>>,
    /// `fixed`, `affected`, `will_not_fix`, `fix_deferred`, `end_of_life`, ...
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
}
