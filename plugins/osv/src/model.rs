//! The parts of OSV-Scanner's JSON output (`osv-scanner scan ... --format json`, versions 1 and
//! 2) that salve reads; every field may be absent. Each vulnerability is a whole OSV record, as
//! the OSV schema defines it.

use salve_plugin_sdk::json::Text;
use serde::Deserialize;

/// The whole output.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Output<'a> {
    /// One entry per source scanned: a lockfile, an SBOM, a package database in an image.
    #[serde(borrow)]
    pub results: Option<Vec<SourceResult<'a>>>,
}

/// What was found in one source.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SourceResult<'a> {
    /// Where the packages were read.
    #[serde(borrow)]
    pub source: Option<Source<'a>>,
    /// The packages with vulnerabilities (or licences) found.
    #[serde(borrow)]
    pub packages: Option<Vec<PackageVulnerabilities<'a>>>,
}

/// `source`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Source<'a> {
    /// The file: `/var/lib/dpkg/status`, a `METADATA` file, a lockfile.
    #[serde(borrow)]
    pub path: Option<Text<'a>>,
    /// `os`, `artifact`, `lockfile`, `sbom`, ...
    #[serde(borrow)]
    pub r#type: Option<Text<'a>>,
}

/// One package and the vulnerabilities that affect it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PackageVulnerabilities<'a> {
    /// The package.
    #[serde(borrow)]
    pub package: Option<Package<'a>>,
    /// The OSV records of its vulnerabilities.
    #[serde(borrow)]
    pub vulnerabilities: Option<Vec<Vulnerability<'a>>>,
}

/// `package`: for an OS package, `name` is its source package (the name OSV's distribution
/// records use) and `os_package_name` the installed (binary) package.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Package<'a> {
    /// The name OSV records know the package by.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    /// The installed package's own name, for OS packages.
    #[serde(borrow)]
    pub os_package_name: Option<Text<'a>>,
    /// The installed version.
    #[serde(borrow)]
    pub version: Option<Text<'a>>,
    /// The OSV ecosystem, with the release for distributions: `Debian:12`, `Alpine:v3.19`, `PyPI`.
    #[serde(borrow)]
    pub ecosystem: Option<Text<'a>>,
}

/// An OSV record.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Vulnerability<'a> {
    /// `DSA-5514-1`, `DEBIAN-CVE-2023-4911`, `PYSEC-2023-74`, `GHSA-...`, `CVE-...`.
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// When the record was withdrawn, if it was.
    #[serde(borrow)]
    pub withdrawn: Option<Text<'a>>,
    /// The packages it affects, each in one ecosystem, with version ranges.
    #[serde(borrow)]
    pub affected: Option<Vec<Affected<'a>>>,
}

/// One `affected` entry: a package in an ecosystem (and release) and its ranges.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Affected<'a> {
    /// The package and its ecosystem.
    #[serde(borrow)]
    pub package: Option<AffectedPackage<'a>>,
    /// Version ranges.
    #[serde(borrow)]
    pub ranges: Option<Vec<Range<'a>>>,
}

/// `affected[].package`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AffectedPackage<'a> {
    /// `Debian:12`, `Ubuntu:22.04:LTS`, `PyPI`, ...
    #[serde(borrow)]
    pub ecosystem: Option<Text<'a>>,
    /// The package's name in that ecosystem.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
}

/// A range: events in the ecosystem's version order.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Range<'a> {
    /// `ECOSYSTEM`, `SEMVER` or `GIT`.
    #[serde(borrow)]
    pub r#type: Option<Text<'a>>,
    /// `introduced`, `fixed`, `last_affected` and `limit` events.
    #[serde(borrow)]
    pub events: Option<Vec<Event<'a>>>,
}

/// One event of a range; each has one of its fields.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Event<'a> {
    /// The version from which the package is affected (`0`: every version before the next
    /// event).
    #[serde(borrow)]
    pub introduced: Option<Text<'a>>,
    /// The first version no longer affected.
    #[serde(borrow)]
    pub fixed: Option<Text<'a>>,
    /// The last version affected (with no fix known).
    #[serde(borrow)]
    pub last_affected: Option<Text<'a>>,
    /// The range ends before this version (used by Git ranges).
    #[serde(borrow)]
    pub limit: Option<Text<'a>>,
}
