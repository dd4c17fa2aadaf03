//! `salve report`: what a scanner report asks salve to update.

use super::options::PluginOptions;
use super::table;
use super::{OutputFormat, emit, emit_json};
use crate::plugin::types::{OsInfo, Platform, Skipped};
use crate::report::{self, PackageUpdate, Report};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Arguments of `salve report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A scanner report, or a directory holding one report per platform.
    #[arg(value_name = "FILE|DIR")]
    report: PathBuf,

    /// The scanner plugin to read the report with (default: the one surest it is its format).
    #[arg(long, short = 's', value_name = "NAME")]
    scanner: Option<String>,

    /// How to print the update manifest.
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// Reads the reports and prints their update manifests.
pub fn run(args: ReportArgs, options: &PluginOptions) -> anyhow::Result<()> {
    let catalog = options.catalog()?;
    for entry in catalog.outside_plugins() {
        let notice = entry.origin_notice();
        eprintln!("note: {}", crate::display_safe::one_line(&notice));
    }
    let plugins = catalog.load_for_run()?;
    let input_cap = catalog.runtime().limits().input_bytes;
    let reports = report::load(&plugins, input_cap, &args.report, args.scanner.as_deref())?;
    match args.format {
        OutputFormat::Table => {
            let tables: Vec<String> = reports.iter().map(as_table).collect();
            emit(&tables.join("\n"))?;
        }
        OutputFormat::Json => {
            emit_json(&ReportsJson {
                reports: reports.iter().map(ReportJson::of).collect(),
            })?;
        }
    }
    Ok(())
}

/// How many vulnerabilities the report's updates fix.
fn vulnerability_count(report: &Report) -> usize {
    report
        .updates
        .iter()
        .map(|update| update.vulnerabilities.len())
        .sum()
}

/// What `salve report --format json` prints.
#[derive(Serialize)]
struct ReportsJson<'a> {
    /// One entry per report file.
    reports: Vec<ReportJson<'a>>,
}

/// One report's manifest as JSON (the format README documents), borrowing from the report so
/// that it is written out as it is serialised, without a copy of the manifest in between.
#[derive(Serialize)]
struct ReportJson<'a> {
    /// The report's file.
    file: &'a Path,
    /// The scanner plugin that read it.
    scanner: &'a str,
    /// The image's OS, if named.
    os: &'a Option<OsInfo>,
    /// The image's platform, if named.
    platform: &'a Option<Platform>,
    /// One update per package.
    updates: &'a [PackageUpdate],
    /// Findings left alone.
    skipped: &'a [Skipped],
    /// How many of each.
    counts: Counts,
}

/// The counts in a report's JSON.
#[derive(Serialize)]
struct Counts {
    /// Findings the scanner plugin returned.
    findings: usize,
    /// Package updates they merge into.
    updates: usize,
    /// Vulnerabilities those updates fix.
    vulnerabilities: usize,
    /// Findings left alone.
    skipped: usize,
}

impl<'a> ReportJson<'a> {
    /// The JSON form of `report`.
    fn of(report: &'a Report) -> ReportJson<'a> {
        ReportJson {
            file: &report.file,
            scanner: &report.scanner,
            os: &report.os,
            platform: &report.platform,
            updates: &report.updates,
            skipped: &report.skipped,
            counts: Counts {
                findings: report.findings,
                updates: report.updates.len(),
                vulnerabilities: vulnerability_count(report),
                skipped: report.skipped.len(),
            },
        }
    }
}

/// One report's manifest for people.
fn as_table(report: &Report) -> String {
    let os = report
        .os
        .as_ref()
        .map_or("not named by the report".to_string(), |os| {
            match &os.codename {
                Some(codename) => format!("{} {} ({codename})", os.id, os.version_id),
                None => format!("{} {}", os.id, os.version_id),
            }
        });
    let platform = report
        .platform
        .as_ref()
        .map_or("not named by the report".to_string(), ToString::to_string);
    let mut out = table::render(&[
        vec!["report".into(), report.file.display().to_string()],
        vec!["scanner".into(), report.scanner.clone()],
        vec!["os".into(), os],
        vec!["platform".into(), platform],
    ]);

    if !report.updates.is_empty() {
        let with_paths = report.updates.iter().any(|update| update.path.is_some());
        let mut header = vec!["PACKAGE", "CLASS", "INSTALLED", "FIXED", "VULNERABILITIES"];
        if with_paths {
            header.push("PATH");
        }
        let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
        for update in &report.updates {
            let ids: Vec<&str> = update
                .vulnerabilities
                .iter()
                .map(|v| v.id.as_str())
                .collect();
            let mut row = vec![
                update.package.clone(),
                serde_json::to_value(update.class)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_default(),
                update.installed_version.clone(),
                update.fixed_version.clone(),
                ids.join(", "),
            ];
            if with_paths {
                row.push(update.path.clone().unwrap_or_default());
            }
            rows.push(row);
        }
        out.push('\n');
        out.push_str(&table::render(&rows));
    }
    if !report.skipped.is_empty() {
        let mut rows = vec![
            ["PACKAGE", "VULNERABILITY", "SKIPPED BECAUSE"]
                .map(String::from)
                .to_vec(),
        ];
        for skipped in &report.skipped {
            rows.push(vec![
                skipped.package.clone(),
                skipped.vulnerability_id.clone(),
                skipped.reason.clone(),
            ]);
        }
        out.push('\n');
        out.push_str(&table::render(&rows));
    }
    out.push_str(&format!(
        "\n{}: {} fixing {}; {} skipped\n",
        counted(report.findings, "finding", "findings"),
        counted(report.updates.len(), "package update", "package updates"),
        counted(
            vulnerability_count(report),
            "vulnerability",
            "vulnerabilities"
        ),
        report.skipped.len()
    ));
    out
}

/// `1 finding`, `2 findings`.
fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}
