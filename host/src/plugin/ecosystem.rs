//! Calling an ecosystem plugin: every function of `salve:plugin/ecosystem`.

use super::contract::PluginKind;
use super::error::PluginError;
use super::runtime::Plugin;
use super::types::{
    ImageFile, InstalledPackage, OsInfo, PlanRequest, Platform, Target, UpdatePlan,
};
use std::cmp::Ordering;

/// A loaded plugin that exports `salve:plugin/ecosystem`.
#[derive(Clone, Copy)]
pub struct Ecosystem<'a>(&'a Plugin);

impl Plugin {
    /// This plugin as an ecosystem, if it is one.
    pub fn as_ecosystem(&self) -> Option<Ecosystem<'_>> {
        (self.kind() == PluginKind::Ecosystem).then_some(Ecosystem(self))
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
        self.0
    }

    /// The paths to read from an image to recognise it.
    pub fn probe_paths(&self) -> Result<Vec<String>, PluginError> {
        let (paths,) = self
            .0
            .sandbox()
            .call::<(), (Vec<String>,)>("probe-paths", (), 0)?;
        Ok(paths)
    }

    /// Whether the plugin applies to the image, and how.
    pub fn detect(&self, os: &OsInfo, files: &[ImageFile]) -> Result<Option<Target>, PluginError> {
        let (target,) = self
            .0
            .sandbox()
            .call::<(&OsInfo, &[ImageFile]), (Option<Target>,)>(
                "detect",
                (os, files),
                files_size(files),
            )?;
        Ok(target)
    }

    /// Orders two versions by the ecosystem's rules; an invalid version is the plugin's error.
    pub fn compare_versions(&self, a: &str, b: &str) -> Result<Ordering, PluginError> {
        let (result,) = self
            .0
            .sandbox()
            .call::<(&str, &str), (Result<i8, String>,)>(
                "compare-versions",
                (a, b),
                (a.len() + b.len()) as u64,
            )?;
        let order =
            result.map_err(|message| self.0.sandbox().rejected("compare-versions", message))?;
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
        let (image,) = self
            .0
            .sandbox()
            .call::<(&OsInfo, &Platform, &Target, bool), (Option<String>,)>(
                "tooling-image",
                (os, platform, target, update_all),
                0,
            )?;
        Ok(image)
    }

    /// The commands that apply the requested updates.
    pub fn plan(&self, request: &PlanRequest) -> Result<UpdatePlan, PluginError> {
        let input: usize = request
            .updates
            .iter()
            .map(|update| update.package.len() + update.fixed_version.len())
            .sum();
        let (result,) = self
            .0
            .sandbox()
            .call::<(&PlanRequest,), (Result<UpdatePlan, String>,)>(
                "plan",
                (request,),
                input as u64,
            )?;
        result.map_err(|message| self.0.sandbox().rejected("plan", message))
    }

    /// The packages the given database files say are installed.
    pub fn installed(&self, files: &[ImageFile]) -> Result<Vec<InstalledPackage>, PluginError> {
        let (result,) = self
            .0
            .sandbox()
            .call::<(&[ImageFile],), (Result<Vec<InstalledPackage>, String>,)>(
                "installed",
                (files,),
                files_size(files),
            )?;
        result.map_err(|message| self.0.sandbox().rejected("installed", message))
    }

    /// The package-url of an installed package.
    pub fn purl(
        &self,
        package: &InstalledPackage,
        os: &OsInfo,
        platform: &Platform,
    ) -> Result<String, PluginError> {
        let (purl,) = self
            .0
            .sandbox()
            .call::<(&InstalledPackage, &OsInfo, &Platform), (String,)>(
                "purl",
                (package, os, platform),
                0,
            )?;
        Ok(purl)
    }
}
