//! The salve plugin SDK: write a scanner or ecosystem plugin as a plain Rust type.
//!
//! Implement [`Scanner`] (or [`Ecosystem`]) for a type of yours, then name it in
//! [`export_scanner!`] (or [`export_ecosystem!`]). Build the crate for
//! `wasm32-unknown-unknown` and turn the module into a component; `cargo xtask plugins`
//! does both for salve's own plugins, and the SDK README shows the steps for yours.
//!
//! The types are generated from the WIT package `salve:plugin@0.4.0` in `wit/v0.4/`.

pub mod files;
pub mod fixed_version;
#[cfg(feature = "json")]
pub mod json;
pub mod os_release;
pub mod pep503;
pub mod purl;
pub mod sniff;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod versions;

mod bindings;

pub use bindings::{native, types};
pub use native::{
    FetchedFile, FileReads, InstallRequest, InstallStep, Installation, NativeError, NativeRequest,
    PackageCheck, PackageDownload, PackageEntry, PathStatus, RepositoryFile, Resolution, Selection,
    SignatureCheck, SymbolicLink, UnpackedPackage, WrittenFile,
};
pub use types::{
    EcosystemInfo, FileKind, Finding, ImageFile, InstalledPackage, OsInfo, PackageClass,
    PlanRequest, Platform, RequestedUpdate, ScannerInfo, Skipped, Step, Target, UpdateManifest,
    UpdatePlan,
};

/// An installation that does nothing yet: no files, links, removals or notes; a plugin's
/// `native-install` fills in what it does.
pub fn no_installation() -> Installation {
    Installation {
        files: Vec::new(),
        links: Vec::new(),
        removed: Vec::new(),
        removed_folders: Vec::new(),
        kept: Vec::new(),
        diverted: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The version of the WIT package this SDK builds plugins against.
pub const WIT_VERSION: &str = "0.4.0";

/// A scanner plugin: reads one scanner's report format.
pub trait Scanner {
    /// The plugin's name (used with `salve --scanner NAME`), version and one-line summary.
    fn describe() -> ScannerInfo;

    /// How sure the plugin is that a report is in its format, from 0 (not mine) to 100 (certainly
    /// mine). `head` is the report's first 64 KiB ([`sniff::SNIFF_WINDOW`]), or all of it when
    /// shorter.
    fn sniff(head: &[u8]) -> u8;

    /// Turns the report into an update manifest, or says in one line what is wrong with it.
    fn parse(report: &[u8]) -> Result<UpdateManifest, String>;
}

/// An ecosystem plugin: the rules of one package ecosystem (versions, detection, plans).
pub trait Ecosystem {
    /// The plugin's name, version, purl type, class and the OS ids it handles.
    fn describe() -> EcosystemInfo;

    /// Paths to read from an image to recognise it; `*` matches within one path segment.
    fn probe_paths() -> Vec<String>;

    /// Whether this plugin applies to the image, given its OS and the files at `probe_paths`.
    fn detect(os: OsInfo, files: Vec<ImageFile>) -> Option<Target>;

    /// Compares two versions by the ecosystem's rules.
    fn compare_versions(a: &str, b: &str) -> Result<std::cmp::Ordering, String>;

    /// The image to run the plan in when the target has no package manager; `target` is what
    /// `detect` returned, `update_all` is true when there is no report.
    fn tooling_image(
        os: OsInfo,
        platform: Platform,
        target: Target,
        update_all: bool,
    ) -> Option<String>;

    /// The commands that apply the requested updates.
    fn plan(request: PlanRequest) -> Result<UpdatePlan, String>;

    /// The packages installed according to the given package database files.
    fn installed(files: Vec<ImageFile>) -> Result<Vec<InstalledPackage>, String>;

    /// The package-url of an installed package.
    fn purl(pkg: InstalledPackage, os: OsInfo, platform: Platform) -> String;

    /// Paths to read from the image for native installation (installing by file operations,
    /// nothing of the image run); empty, the default, when the plugin does not install natively.
    fn native_paths() -> Vec<String> {
        Vec::new()
    }

    /// One round of native resolution: repository files still needed, or the packages to
    /// install.
    fn native_resolve(_request: NativeRequest) -> Result<Resolution, NativeError> {
        Err(NativeError::Unsupported(NOT_NATIVE.into()))
    }

    /// One round of native installation: image files still needed, or the file operations.
    fn native_install(_request: InstallRequest) -> Result<InstallStep, NativeError> {
        Err(NativeError::Unsupported(NOT_NATIVE.into()))
    }
}

/// What a plugin that does not install natively answers when asked to.
const NOT_NATIVE: &str = "this plugin does not install natively";

/// Exports a type implementing [`Scanner`] as the plugin's `salve:plugin/scanner` interface.
///
/// ```
/// use salve_plugin_sdk::{Scanner, ScannerInfo, UpdateManifest};
///
/// struct Empty;
///
/// impl Scanner for Empty {
///     fn describe() -> ScannerInfo {
///         ScannerInfo { name: "empty".into(), version: "0.1.0".into(), summary: "nothing".into() }
///     }
///     fn sniff(_report: &[u8]) -> u8 {
///         0
///     }
///     fn parse(_report: &[u8]) -> Result<UpdateManifest, String> {
///         Ok(UpdateManifest { os: None, platform: None, findings: vec![], skipped: vec![] })
///     }
/// }
///
/// salve_plugin_sdk::export_scanner!(Empty);
/// ```
#[macro_export]
macro_rules! export_scanner {
    ($plugin:ty) => {
        const _: () = {
            struct SalveScannerExport;

            impl $crate::__private::ScannerGuest for SalveScannerExport {
                fn describe() -> $crate::ScannerInfo {
                    <$plugin as $crate::Scanner>::describe()
                }
                fn sniff(head: ::std::vec::Vec<u8>) -> u8 {
                    <$plugin as $crate::Scanner>::sniff(&head)
                }
                fn parse(
                    report: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<$crate::UpdateManifest, ::std::string::String> {
                    <$plugin as $crate::Scanner>::parse(&report)
                }
            }

            $crate::__private::export_scanner_world!(
                SalveScannerExport with_types_in $crate::__private::scanner_world
            );
        };
    };
}

/// Exports a type implementing [`Ecosystem`] as the plugin's `salve:plugin/ecosystem` interface.
///
/// ```
/// use salve_plugin_sdk::*;
/// use std::cmp::Ordering;
///
/// struct Nothing;
///
/// impl Ecosystem for Nothing {
///     fn describe() -> EcosystemInfo {
///         EcosystemInfo {
///             name: "nothing".into(),
///             version: "0.1.0".into(),
///             summary: "recognises no image".into(),
///             purl_type: "generic".into(),
///             class: PackageClass::Os,
///             os_ids: vec![],
///         }
///     }
///     fn probe_paths() -> Vec<String> {
///         vec!["/etc/os-release".into()]
///     }
///     fn detect(_os: OsInfo, _files: Vec<ImageFile>) -> Option<Target> {
///         None
///     }
///     fn compare_versions(a: &str, b: &str) -> Result<Ordering, String> {
///         Ok(a.cmp(b))
///     }
///     fn tooling_image(_: OsInfo, _: Platform, _: Target, _update_all: bool) -> Option<String> {
///         None
///     }
///     fn plan(_request: PlanRequest) -> Result<UpdatePlan, String> {
///         Err("nothing to plan".into())
///     }
///     fn installed(_files: Vec<ImageFile>) -> Result<Vec<InstalledPackage>, String> {
///         Ok(vec![])
///     }
///     fn purl(pkg: InstalledPackage, _os: OsInfo, _platform: Platform) -> String {
///         format!("pkg:generic/{}@{}", pkg.name, pkg.version)
///     }
/// }
///
/// salve_plugin_sdk::export_ecosystem!(Nothing);
/// ```
#[macro_export]
macro_rules! export_ecosystem {
    ($plugin:ty) => {
        const _: () = {
            struct SalveEcosystemExport;

            impl $crate::__private::EcosystemGuest for SalveEcosystemExport {
                fn describe() -> $crate::EcosystemInfo {
                    <$plugin as $crate::Ecosystem>::describe()
                }
                fn probe_paths() -> ::std::vec::Vec<::std::string::String> {
                    <$plugin as $crate::Ecosystem>::probe_paths()
                }
                fn detect(
                    os: $crate::OsInfo,
                    files: ::std::vec::Vec<$crate::ImageFile>,
                ) -> ::std::option::Option<$crate::Target> {
                    <$plugin as $crate::Ecosystem>::detect(os, files)
                }
                fn compare_versions(
                    a: ::std::string::String,
                    b: ::std::string::String,
                ) -> ::std::result::Result<i8, ::std::string::String> {
                    <$plugin as $crate::Ecosystem>::compare_versions(&a, &b).map(|o| o as i8)
                }
                fn tooling_image(
                    os: $crate::OsInfo,
                    platform: $crate::Platform,
                    target: $crate::Target,
                    update_all: bool,
                ) -> ::std::option::Option<::std::string::String> {
                    <$plugin as $crate::Ecosystem>::tooling_image(os, platform, target, update_all)
                }
                fn plan(
                    request: $crate::PlanRequest,
                ) -> ::std::result::Result<$crate::UpdatePlan, ::std::string::String> {
                    <$plugin as $crate::Ecosystem>::plan(request)
                }
                fn installed(
                    files: ::std::vec::Vec<$crate::ImageFile>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::InstalledPackage>,
                    ::std::string::String,
                > {
                    <$plugin as $crate::Ecosystem>::installed(files)
                }
                fn purl(
                    pkg: $crate::InstalledPackage,
                    os: $crate::OsInfo,
                    platform: $crate::Platform,
                ) -> ::std::string::String {
                    <$plugin as $crate::Ecosystem>::purl(pkg, os, platform)
                }
                fn native_paths() -> ::std::vec::Vec<::std::string::String> {
                    <$plugin as $crate::Ecosystem>::native_paths()
                }
                fn native_resolve(
                    request: $crate::NativeRequest,
                ) -> ::std::result::Result<$crate::Resolution, $crate::NativeError> {
                    <$plugin as $crate::Ecosystem>::native_resolve(request)
                }
                fn native_install(
                    request: $crate::InstallRequest,
                ) -> ::std::result::Result<$crate::InstallStep, $crate::NativeError> {
                    <$plugin as $crate::Ecosystem>::native_install(request)
                }
            }

            $crate::__private::export_ecosystem_world!(
                SalveEcosystemExport with_types_in $crate::__private::ecosystem_world
            );
        };
    };
}

/// Items the export macros expand to; not part of the SDK's stable surface.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::ecosystem_world;
    pub use crate::bindings::ecosystem_world::export_ecosystem_world;
    pub use crate::bindings::ecosystem_world::exports::salve::plugin::ecosystem::Guest as EcosystemGuest;
    pub use crate::bindings::scanner_world;
    pub use crate::bindings::scanner_world::export_scanner_world;
    pub use crate::bindings::scanner_world::exports::salve::plugin::scanner::Guest as ScannerGuest;
}
