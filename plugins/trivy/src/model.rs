//! The parts of Trivy's JSON report (schema 2) that salve reads; every field may be absent.

use serde::Deserialize;
use std::borrow::Cow;

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
    pub family: Option<Cow<'a, str>>,
    /// The OS version: `12.5`, `3.19.1`.
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
}

/// `Metadata.ImageConfig`, as in the OCI image configuration (lower-case keys).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ImageConfig<'a> {
    /// `os`, normally `linux`.
    #[serde(borrow)]
    pub os: Option<Cow<'a, str>>,
    /// `architecture`: `amd64`, `arm64`, ...
    #[serde(borrow)]
    pub architecture: Option<Cow<'a, str>>,
    /// `variant`: `v7`, `v8`.
    #[serde(borrow)]
    pub variant: Option<Cow<'a, str>>,
}

/// One entry of `Results`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct TrivyResult<'a> {
    /// What was scanned: `debian 12.5`, `usr/local/lib/python3.11/site-packages/...`.
    #[serde(borrow)]
    pub target: Option<Cow<'a, str>>,
    /// `os-pkgs`, `lang-pkgs`, `config`, `secret`, `license`.
    #[serde(borrow)]
    pub class: Option<Cow<'a, str>>,
    /// The package type: `debian`, `alpine`, `python-pkg`, `node-pkg`, `jar`, ...
    #[serde(borrow)]
    pub r#type: Option<Cow<'a, str>>,
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
    pub vulnerability_id: Option<Cow<'a, str>>,
    /// The package's name (the binary package for deb and rpm).
    #[serde(borrow)]
    pub pkg_name: Option<Cow<'a, str>>,
    /// Where a language package was found.
    #[serde(borrow)]
    pub pkg_path: Option<Cow<'a, str>>,
    /// The installed version.
    #[serde(borrow)]
    pub installed_version: Option<Cow<'a, str>>,
    /// The fixed version, or several separated by `, `; empty when there is no fix.
    #[serde(borrow)]
    pub fixed_version: Option<Cow<'a, str>>,
    /// `fixed`, `affected`, `will_not_fix`, `fix_deferred`, `end_of_life`, ...
    #[serde(borrow)]
    pub status: Option<Cow<'a, str>>,
}
