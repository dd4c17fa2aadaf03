//! Scanner reports to update manifests: choose the scanner plugin, parse in the sandbox, check
//! every finding is safe to act on, and merge findings into one update per package.

mod error;
mod merge;
mod screen;
mod select;
pub mod version_order;

pub use error::ReportError;
pub use merge::{PackageUpdate, VulnerabilityFix};

use crate::plugin::types::{OsInfo, PackageClass, Platform, Skipped};
use crate::plugin::{LoadedPlugins, Plugin, PluginInfo};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One parsed report: what to update, what was skipped, and where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The report's file.
    pub file: PathBuf,
    /// The scanner plugin that read it.
    pub scanner: String,
    /// The image's OS, if the report names it.
    pub os: Option<OsInfo>,
    /// The image's platform, if the report names it.
    pub platform: Option<Platform>,
    /// One update per package, each with every vulnerability it fixes.
    pub updates: Vec<PackageUpdate>,
    /// Findings the scanner plugin left alone, with reasons.
    pub skipped: Vec<Skipped>,
    /// How many findings the scanner plugin returned before merging.
    pub findings: usize,
}

/// Reads a report file, or a directory holding one report per platform, with the run's plugins;
/// `input_cap` is the most bytes a plugin call takes.
///
/// `scanner` names the plugin to use; otherwise the one whose `sniff` is surest reads each file.
/// Where findings for one package disagree, the highest fixed version is chosen by the order of
/// the package's ecosystem plugin (the OS one the report's OS names, the only library one).
pub fn load(
    plugins: &LoadedPlugins,
    input_cap: u64,
    path: &Path,
    scanner: Option<&str>,
) -> Result<Vec<Report>, ReportError> {
    let files = report_files(path)?;
    let scanners = select::Scanners::of(plugins, scanner)?;
    let mut reports = Vec::new();
    for file in files {
        let bytes = read_report(&file, input_cap)?;
        let scanner = scanners.choose(&file, &bytes)?;
        let manifest = scanner.parse(&bytes).map_err(|error| ReportError::Plugin {
            file: file.clone(),
            error,
        })?;
        screen::manifest(&manifest).map_err(|problems| ReportError::Unsafe {
            file: file.clone(),
            scanner: scanner.plugin().name().to_string(),
            problems,
        })?;
        let findings = manifest.findings.len();
        let mut updates = merge::by_package(manifest.findings, &version_order::compare);
        order_by_ecosystem(&mut updates, manifest.os.as_ref(), plugins).map_err(|error| {
            ReportError::Plugin {
                file: file.clone(),
                error,
            }
        })?;
        reports.push(Report {
            scanner: scanner.plugin().name().to_string(),
            os: manifest.os,
            platform: manifest.platform,
            updates,
            skipped: manifest.skipped,
            findings,
            file,
        });
    }
    check_platforms(&reports)?;
    Ok(reports)
}

/// Chooses each update's fixed version by its ecosystem plugin's order, where the report says
/// enough to know the plugin: OS packages by the report's OS, libraries when one library
/// ecosystem is loaded. Others keep the generic order until the patch, which knows the image.
fn order_by_ecosystem(
    updates: &mut [PackageUpdate],
    os: Option<&OsInfo>,
    plugins: &LoadedPlugins,
) -> Result<(), crate::plugin::PluginError> {
    let ecosystems = plugins.ecosystems();
    let of_class = |class: PackageClass| -> Vec<&Plugin> {
        ecosystems
            .iter()
            .copied()
            .filter(|plugin| match plugin.info() {
                PluginInfo::Ecosystem(info) => {
                    info.class == class
                        && (class == PackageClass::Library
                            || os.is_some_and(|os| info.os_ids.contains(&os.id)))
                }
                PluginInfo::Scanner(_) => false,
            })
            .collect()
    };
    for class in [PackageClass::Os, PackageClass::Library] {
        let [plugin] = of_class(class)[..] else {
            continue;
        };
        let ecosystem = plugin.as_ecosystem().expect("an ecosystem plugin");
        for update in updates.iter_mut().filter(|update| update.class == class) {
            update.choose_fixed_version(|a, b| ecosystem.compare_versions(a, b))?;
        }
    }
    Ok(())
}

/// The report files at `path`: the file itself, or every regular file of a directory, sorted.
fn report_files(path: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let read_error = |error| ReportError::Read {
        file: path.to_path_buf(),
        error,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(ReportError::EmptyDirectory(path.to_path_buf()));
    }
    Ok(files)
}

/// Reads a report, refusing one larger than the plugins' input cap before reading it.
fn read_report(file: &Path, input_cap: u64) -> Result<Vec<u8>, ReportError> {
    let read_error = |error| ReportError::Read {
        file: file.to_path_buf(),
        error,
    };
    let size = std::fs::metadata(file).map_err(read_error)?.len();
    if size > input_cap {
        return Err(ReportError::TooLarge {
            file: file.to_path_buf(),
            size,
            limit: input_cap,
        });
    }
    std::fs::read(file).map_err(read_error)
}

/// In a directory of reports, each must name its platform, and no platform may appear twice.
fn check_platforms(reports: &[Report]) -> Result<(), ReportError> {
    if reports.len() < 2 {
        return Ok(());
    }
    let mut seen: Vec<(String, &Path)> = Vec::new();
    for report in reports {
        let Some(platform) = &report.platform else {
            return Err(ReportError::NoPlatform(report.file.clone()));
        };
        let key = platform.to_string();
        if let Some((_, first)) = seen.iter().find(|(seen, _)| *seen == key) {
            return Err(ReportError::DuplicatePlatform {
                platform: key,
                first: first.to_path_buf(),
                second: report.file.clone(),
            });
        }
        seen.push((key, &report.file));
    }
    Ok(())
}
