//! The parts of Grype's JSON report that salve reads; every field may be absent.

use salve_plugin_sdk::json::Text;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// A whole Grype report.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Report<'a> {
    /// One entry per vulnerability found in a package.
    #[serde(borrow)]
    pub matches: Option<Vec<Match<'a>>>,
    /// What was scanned.
    #[serde(borrow)]
    pub source: Option<Source<'a>>,
    /// The distribution Grype detected.
    #[serde(borrow)]
    pub distro: Option<Distro<'a>>,
}

/// One entry of `matches`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Match<'a> {
    /// The vulnerability and its fix.
    #[serde(borrow)]
    pub vulnerability: Vulnerability<'a>,
    /// The package it was found in.
    #[serde(borrow)]
    pub artifact: Artifact<'a>,
}

/// `matches[].vulnerability`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Vulnerability<'a> {
    /// `CVE-...`, `GHSA-...`, `ALAS-...`.
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// The fix, when Grype knows one.
    #[serde(borrow)]
    pub fix: Option<Fix<'a>>,
}

/// `matches[].vulnerability.fix`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Fix<'a> {
    /// Fixed versions, one per release branch.
    #[serde(borrow)]
    pub versions: Option<Vec<Text<'a>>>,
    /// `fixed`, `not-fixed`, `wont-fix`, `unknown`.
    #[serde(borrow)]
    pub state: Option<Text<'a>>,
}

/// `matches[].artifact`: the package.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Artifact<'a> {
    /// The package's name.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    /// The installed version.
    #[serde(borrow)]
    pub version: Option<Text<'a>>,
    /// `deb`, `rpm`, `apk`, `python`, `java-archive`, `npm`, `binary`, ...
    #[serde(borrow)]
    pub r#type: Option<Text<'a>>,
    /// Where Grype found the package (for Python, its `METADATA` file first).
    #[serde(borrow)]
    pub locations: Option<Vec<Location<'a>>>,
}

/// `matches[].artifact.locations[]`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Location<'a> {
    /// The path in the image.
    #[serde(borrow)]
    pub path: Option<Text<'a>>,
}

/// `source`: for images, its `target` holds the image's configuration.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Source<'a> {
    /// `image`, `directory`, `file`.
    #[serde(borrow)]
    pub r#type: Option<Text<'a>>,
    /// The image's details, or a plain string for other sources.
    #[serde(borrow)]
    pub target: Option<Target<'a>>,
}

/// `source.target`: an object for images, a string for directories and files.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Target<'a> {
    /// An image's details.
    Image(#[serde(borrow)] ImageTarget<'a>),
    /// Anything else.
    Other(IgnoredAny),
}

/// `source.target` of an image source.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ImageTarget<'a> {
    /// `amd64`, `arm64`, ...
    #[serde(borrow)]
    pub architecture: Option<Text<'a>>,
    /// `linux`.
    #[serde(borrow)]
    pub os: Option<Text<'a>>,
}

/// `distro`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Distro<'a> {
    /// `debian`, `ubuntu`, `alpine`, `redhat`, `amazonlinux`, `mariner`, ...
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    /// `12`, `22.04`, `3.19.1`.
    #[serde(borrow)]
    pub version: Option<Text<'a>>,
}
