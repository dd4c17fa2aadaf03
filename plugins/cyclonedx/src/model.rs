//! The parts of a CycloneDX (1.4 to 1.7) JSON document that salve reads; every field may be
//! absent.

use salve_plugin_sdk::json::Text;
use serde::Deserialize;

/// A whole CycloneDX document.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Bom<'a> {
    /// `CycloneDX`.
    #[serde(borrow, rename = "bomFormat")]
    pub bom_format: Option<Text<'a>>,
    /// `1.4` ... `1.7`.
    #[serde(borrow, rename = "specVersion")]
    pub spec_version: Option<Text<'a>>,
    /// What the document describes.
    #[serde(borrow)]
    pub metadata: Option<Metadata<'a>>,
    /// The packages (and, in Trivy's, the operating system), possibly nested.
    #[serde(borrow)]
    pub components: Option<Vec<Component<'a>>>,
    /// The vulnerabilities found.
    #[serde(borrow)]
    pub vulnerabilities: Option<Vec<Vulnerability<'a>>>,
}

/// `metadata`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Metadata<'a> {
    /// The image (or folder) scanned.
    #[serde(borrow)]
    pub component: Option<Component<'a>>,
}

/// A component: a package, an operating system, an application.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Component<'a> {
    /// The identifier `affects[].ref` points at.
    #[serde(borrow, rename = "bom-ref")]
    pub bom_ref: Option<Text<'a>>,
    /// `library`, `operating-system`, `container`, `application`, ...
    #[serde(borrow)]
    pub r#type: Option<Text<'a>>,
    /// The package's (or the operating system's) name.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    /// Its version.
    #[serde(borrow)]
    pub version: Option<Text<'a>>,
    /// Its package URL.
    #[serde(borrow)]
    pub purl: Option<Text<'a>>,
    /// Scanner-specific properties (where a Python package lives, say).
    #[serde(borrow)]
    pub properties: Option<Vec<Property<'a>>>,
    /// Components inside this one.
    #[serde(borrow)]
    pub components: Option<Vec<Component<'a>>>,
}

/// `properties[]`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Property<'a> {
    /// `aquasecurity:trivy:FilePath`, `syft:location:0:path`, ...
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    /// Its value.
    #[serde(borrow)]
    pub value: Option<Text<'a>>,
}

/// `vulnerabilities[]`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Vulnerability<'a> {
    /// `CVE-...`, `GHSA-...`.
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// Trivy's fix: `Upgrade NAME to version V` (joined by `; ` for several packages).
    #[serde(borrow)]
    pub recommendation: Option<Text<'a>>,
    /// The components it affects.
    #[serde(borrow)]
    pub affects: Option<Vec<Affects<'a>>>,
}

/// `vulnerabilities[].affects[]`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Affects<'a> {
    /// The affected component's `bom-ref`.
    #[serde(borrow, rename = "ref")]
    pub reference: Option<Text<'a>>,
    /// Versions with their status: the installed one `affected`, fixed ones `unaffected`.
    #[serde(borrow)]
    pub versions: Option<Vec<AffectedVersion<'a>>>,
}

/// `vulnerabilities[].affects[].versions[]`: a version or a range, and its status.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AffectedVersion<'a> {
    /// One version.
    #[serde(borrow)]
    pub version: Option<Text<'a>>,
    /// A `vers:` range (`vers:deb/>=2.36-9+deb12u3`).
    #[serde(borrow)]
    pub range: Option<Text<'a>>,
    /// `affected`, `unaffected`, `unknown`.
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
}
