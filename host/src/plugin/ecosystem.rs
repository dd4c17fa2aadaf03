//! Calling an ecosystem plugin: every function of `salve:plugin/ecosystem`.

use super::contract::latest::native::{
    InstallRequest, InstallStep, NativeError, NativeRequest, Resolution, UnpackedPackage,
};
use super::error::PluginError;
use super::exports::{EcosystemExports, Exports};
use super::runtime::{Caller, Plugin};
use super::types::{
    ImageFile, InstalledPackage, OsInfo, PlanRequest, Platform, Target, UpdatePlan,
};
use std::cmp::Ordering;

/// A loaded plugin that exports `salve:plugin/ecosystem`.
#[derive(Clone, Copy)]
pub struct Ecosystem<'a> {
    /// The plugin.
    plugin: &'a Plugin,
    /// Its ecosystem exports.
    exports: &'a EcosystemExports,
}

impl Plugin {
    /// This plugin as an ecosystem, if it is one.
    pub fn as_ecosystem(&self) -> Option<Ecosystem<'_>> {
        match self.exports() {
            Exports::Ecosystem(exports) => Some(Ecosystem {
                plugin: self,
                exports,
            }),
            Exports::Scanner(_) => None,
        }
    }
}

/// The bytes a list of image files passes in, for the input cap.
fn files_size(files: &[ImageFile]) -> u64 {
    files
        .iter()
        .map(|file| {
            (file.path.len()
                + file.content.as_ref().map_or(0, Vec::len)
                + file.link_target.as_ref().map_or(0, String::len)) as u64
        })
        .sum()
}

impl<'a> Ecosystem<'a> {
    /// The plugin underneath.
    pub fn plugin(&self) -> &'a Plugin {
        self.plugin
    }

    /// The paths to read from an image to recognise it.
    pub fn probe_paths(&self) -> Result<Vec<String>, PluginError> {
        self.plugin
            .caller()
            .call(self.exports, "probe-paths", 0, |plugin, store| {
                plugin.probe_paths(store)
            })
    }

    /// Whether the plugin applies to the image, and how.
    pub fn detect(&self, os: &OsInfo, files: &[ImageFile]) -> Result<Option<Target>, PluginError> {
        self.plugin.caller().call(
            self.exports,
            "detect",
            files_size(files),
            |plugin, store| plugin.detect(store, os, files),
        )
    }

    /// Orders two versions by the ecosystem's rules; an invalid version is the plugin's error.
    pub fn compare_versions(&self, a: &str, b: &str) -> Result<Ordering, PluginError> {
        let caller = self.plugin.caller();
        let input = (a.len() + b.len()) as u64;
        let order = caller
            .call(self.exports, "compare-versions", input, |plugin, store| {
                plugin.compare_versions(store, a, b)
            })?
            .map_err(|message| caller.rejected("compare-versions", message))?;
        Ok(order.cmp(&0))
    }

    /// The image to run the plan in for a target without a package manager.
    pub fn tooling_image(
        &self,
        os: &OsInfo,
        platform: &Platform,
        target: &Target,
        update_all: bool,
    ) -> Result<Option<String>, PluginError> {
        self.plugin
            .caller()
            .call(self.exports, "tooling-image", 0, |plugin, store| {
                plugin.tooling_image(store, os, platform, target, update_all)
            })
    }

    /// The commands that apply the requested updates.
    pub fn plan(&self, request: &PlanRequest) -> Result<UpdatePlan, PluginError> {
        let caller = self.plugin.caller();
        let input: usize = request
            .updates
            .iter()
            .map(|update| update.package.len() + update.fixed_version.len())
            .sum();
        caller
            .call(self.exports, "plan", input as u64, |plugin, store| {
                plugin.plan(store, request)
            })?
            .map_err(|message| caller.rejected("plan", message))
    }

    /// The packages the given database files say are installed.
    pub fn installed(&self, files: &[ImageFile]) -> Result<Vec<InstalledPackage>, PluginError> {
        let caller = self.plugin.caller();
        caller
            .call(
                self.exports,
                "installed",
                files_size(files),
                |plugin, store| plugin.installed(store, files),
            )?
            .map_err(|message| caller.rejected("installed", message))
    }

    /// The package-url of an installed package.
    pub fn purl(
        &self,
        package: &InstalledPackage,
        os: &OsInfo,
        platform: &Platform,
    ) -> Result<String, PluginError> {
        self.plugin
            .caller()
            .call(self.exports, "purl", 0, |plugin, store| {
                plugin.purl(store, package, os, platform)
            })
    }

    /// The paths to read for native installation; empty when the plugin installs nothing natively.
    pub fn native_paths(&self) -> Result<Vec<String>, PluginError> {
        self.plugin
            .caller()
            .call(self.exports, "native-paths", 0, |plugin, store| {
                plugin.native_paths(store)
            })
    }

    /// One round of native resolution.
    pub fn native_resolve(&self, request: &NativeRequest) -> Result<Resolution, PluginError> {
        let caller = self.plugin.caller();
        let fetched: usize = request
            .fetched
            .iter()
            .map(|file| file.url.len() + file.content.as_ref().map_or(0, Vec::len))
            .sum();
        let input = files_size(&request.files) + fetched as u64;
        caller
            .call(self.exports, "native-resolve", input, |plugin, store| {
                plugin.native_resolve(store, request)
            })?
            .map_err(|error| native_error(caller, "native-resolve", error))
    }

    /// One round of native installation.
    pub fn native_install(&self, request: &InstallRequest) -> Result<InstallStep, PluginError> {
        let caller = self.plugin.caller();
        let packages: u64 = request.packages.iter().map(unpacked_size).sum();
        let read = request.read.as_deref().map_or(0, files_size);
        let input = files_size(&request.files) + read + files_size(&request.packaged) + packages;
        caller
            .call(self.exports, "native-install", input, |plugin, store| {
                plugin.native_install(store, request)
            })?
            .map_err(|error| native_error(caller, "native-install", error))
    }
}

/// A native function's own error: `unsupported` (another engine may do it) or a rejection.
fn native_error(caller: &Caller, call: &'static str, error: NativeError) -> PluginError {
    match error {
        NativeError::Unsupported(message) => PluginError::NotNative {
            plugin: caller.plugin_name().to_string(),
            call,
            message,
        },
        NativeError::Failed(message) => caller.rejected(call, message),
    }
}

/// The bytes an unpacked package passes in, for the input cap.
fn unpacked_size(package: &UnpackedPackage) -> u64 {
    let entries: usize = package
        .entries
        .iter()
        .map(|entry| entry.path.len() + entry.link_target.as_ref().map_or(0, String::len) + 8)
        .sum();
    files_size(&package.control) + entries as u64
}
