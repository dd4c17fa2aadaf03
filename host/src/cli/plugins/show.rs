//! `salve plugins list` and `salve plugins inspect`: what is installed, where from, and how it is
//! locked; one plugin's interface and limits.

use crate::cli::table;
use crate::cli::{OutputFormat, emit};
use crate::display_safe::one_line;
use crate::plugin::contract::{WIT_PACKAGE, supported_versions};
use crate::plugin::limits::MAX_WASM_STACK;
use crate::plugin::{CacheOutcome, LoadedEntry, Plugin, PluginCatalog, PluginEntry, PluginSource};
use crate::quantity::{format_bytes, format_duration};
use serde_json::json;
use std::process::ExitCode;

/// Prints every plugin; fails (after printing) if any could not be loaded.
pub fn list(catalog: &PluginCatalog, format: OutputFormat) -> anyhow::Result<ExitCode> {
    let loaded = catalog.load_all();
    match format {
        OutputFormat::Table => emit(&list_table(&loaded))?,
        OutputFormat::Json => emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&list_json(&loaded))?
        ))?,
    }
    let failures: Vec<_> = loaded
        .iter()
        .filter_map(|loaded| loaded.plugin.as_ref().err())
        .collect();
    for failure in &failures {
        eprintln!("error: {}", one_line(&failure.to_string()));
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The plugin list as a table.
fn list_table(loaded: &[LoadedEntry]) -> String {
    let mut rows = vec![
        [
            "NAME", "KIND", "VERSION", "SOURCE", "SHA256", "LOCKED", "NOTE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for LoadedEntry { entry, plugin } in loaded {
        let note = match plugin {
            Err(_) => "failed to load (see below)".to_string(),
            Ok(_) if entry.shadowed.is_empty() => String::new(),
            Ok(_) => format!(
                "overrides {}",
                entry
                    .shadowed
                    .iter()
                    .map(|source| source.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let (kind, version, sha256) = match plugin {
            Ok(plugin) => (
                plugin.kind().to_string(),
                plugin.info().version().to_string(),
                plugin.sha256()[..12].to_string(),
            ),
            Err(_) => ("-".into(), "-".into(), "-".into()),
        };
        rows.push(vec![
            entry.name.clone(),
            kind,
            version,
            entry.source.to_string(),
            sha256,
            lock_state(entry),
            note,
        ]);
    }
    table::render(&rows)
}

/// Whether a plugin is pinned by the data folder's lock file: the source it was added from, `no`
/// for a data-folder plugin copied in by hand, `-` where locks do not apply (why a lock file is
/// unreadable is printed after the table, as the plugin's load failure).
fn lock_state(entry: &PluginEntry) -> String {
    match (&entry.source, &entry.locked, &entry.lock_problem) {
        (_, _, Some(_)) => "unreadable lock file".into(),
        (_, Some(locked), None) => locked.source.clone(),
        (PluginSource::DataDir(_), None, None) => "no".into(),
        _ => "-".into(),
    }
}

/// The plugin list as JSON.
fn list_json(loaded: &[LoadedEntry]) -> serde_json::Value {
    let plugins: Vec<_> = loaded
        .iter()
        .map(|LoadedEntry { entry, plugin }| match plugin {
            Ok(plugin) => json!({
                "name": entry.name,
                "kind": plugin.kind(),
                "version": plugin.info().version(),
                "summary": plugin.info().summary(),
                "source": entry.source,
                "sha256": plugin.sha256(),
                "wit_version": plugin.contract().wit_version,
                "overrides": entry.shadowed,
                "lock": entry.locked,
            }),
            Err(error) => json!({
                "name": entry.name,
                "source": entry.source,
                "overrides": entry.shadowed,
                "lock": entry.locked,
                "error": error.to_string(),
            }),
        })
        .collect();
    json!(plugins)
}

/// One plugin's details.
pub fn inspect(
    catalog: &PluginCatalog,
    plugin: &Plugin,
    format: OutputFormat,
) -> anyhow::Result<String> {
    let contract = plugin.contract();
    let limits = plugin.limits();
    let cache = match plugin.cache_outcome() {
        CacheOutcome::Hit => "loaded from the compiled-code cache",
        CacheOutcome::Compiled => "compiled now and cached",
        CacheOutcome::Uncached => "compiled now (cache not in use)",
    };
    if format == OutputFormat::Json {
        let value = json!({
            "name": plugin.name(),
            "kind": plugin.kind(),
            "info": plugin.info(),
            "source": plugin.source(),
            "sha256": plugin.sha256(),
            "world": format!("{WIT_PACKAGE}/{}", contract.kind.world()),
            "export": contract.export,
            "wit_version": contract.wit_version,
            "supported_versions": supported_versions(),
            "functions": contract.functions,
            "compiled_code": plugin.cache_outcome(),
            "limits": {
                "deadline_ms": limits.deadline.as_millis() as u64,
                "fuel": limits.fuel,
                "memory_bytes": limits.memory_bytes,
                "input_bytes": limits.input_bytes,
                "output_bytes": limits.output_bytes,
                "stack_bytes": MAX_WASM_STACK,
                "compile_ms": limits.compile_deadline.as_millis() as u64,
            },
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }

    let mut rows: Vec<Vec<String>> = vec![
        vec!["name".into(), plugin.name().into()],
        vec!["kind".into(), plugin.kind().to_string()],
        vec!["version".into(), plugin.info().version().into()],
        vec!["summary".into(), plugin.info().summary().into()],
        vec!["source".into(), plugin.source().to_string()],
        vec!["sha256".into(), plugin.sha256().into()],
        vec![
            "world".into(),
            format!("{WIT_PACKAGE}/{}", contract.kind.world()),
        ],
        vec!["exports".into(), contract.export.clone()],
        vec![
            "WIT version".into(),
            format!(
                "{} (this salve loads {})",
                contract.wit_version,
                supported_versions()
            ),
        ],
        vec!["compiled code".into(), cache.into()],
    ];
    if let Some(problem) = catalog.runtime().cache_problem() {
        rows.push(vec!["cache problem".into(), problem.into()]);
    }
    let mut out = table::render(&rows);
    out.push_str("\nfunctions:\n");
    for function in &contract.functions {
        out.push_str(&format!("  {}\n", one_line(function)));
    }
    out.push_str("\nlimits per call:\n");
    let limit_rows = vec![
        vec![
            "  deadline".into(),
            format_duration(limits.deadline),
            "--plugin-timeout, SALVE_PLUGIN_TIMEOUT".into(),
        ],
        vec![
            "  fuel".into(),
            limits.fuel.to_string(),
            "--plugin-fuel, SALVE_PLUGIN_FUEL".into(),
        ],
        vec![
            "  memory".into(),
            format_bytes(limits.memory_bytes),
            "--plugin-memory, SALVE_PLUGIN_MEMORY".into(),
        ],
        vec![
            "  input".into(),
            format_bytes(limits.input_bytes),
            "--plugin-max-input, SALVE_PLUGIN_MAX_INPUT".into(),
        ],
        vec![
            "  output".into(),
            format_bytes(limits.output_bytes),
            "--plugin-max-output, SALVE_PLUGIN_MAX_OUTPUT".into(),
        ],
        vec![
            "  compile".into(),
            format_duration(limits.compile_deadline),
            "--plugin-compile-timeout, SALVE_PLUGIN_COMPILE_TIMEOUT (once per plugin)".into(),
        ],
        vec![
            "  stack".into(),
            format_bytes(MAX_WASM_STACK as u64),
            "fixed".into(),
        ],
    ];
    out.push_str(&table::render(&limit_rows));
    Ok(out)
}
