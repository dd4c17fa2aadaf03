//! `salve cache ...`: what the cache folder holds, and pruning it; and the bound every
//! `salve patch` keeps it under.

use super::options::PluginOptions;
use super::{OutputFormat, emit, emit_json, table};
use crate::cache::{Kind, Policy, PruneOutcome, State, prune, scan};
use crate::progress::Progress;
use crate::quantity::{format_bytes, format_size, parse_bytes, parse_duration};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What to do with the cache.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Show what the cache folder holds, by kind: compiled plugins, unpacked root filesystems,
    /// downloaded packages and working folders, with what running salve processes hold and what
    /// ended ones left behind.
    Du {
        /// How to print the sizes.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Remove entries no running salve holds, least recently used first, and whatever ended
    /// processes left behind. Without options, down to the cache's bound (--cache-max-size).
    Prune(PruneArgs),
}

/// `salve cache prune`'s options.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove least recently used entries until the cache holds at most SIZE.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    max_size: Option<u64>,
    /// Remove entries not used for this long (`12h`, `7d`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    older_than: Option<Duration>,
    /// Remove every entry no running salve holds.
    #[arg(long, conflicts_with_all = ["max_size", "older_than"])]
    all: bool,
    /// How to print what was removed.
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// Runs `salve cache ...`.
pub fn run(command: CacheCommand, options: &PluginOptions) -> anyhow::Result<()> {
    let root = options.data_dir();
    enter_namespace_if_needed(&root)?;
    match command {
        CacheCommand::Du { format } => du(&root, options.cache_max_size(), format),
        CacheCommand::Prune(args) => {
            let bound = options.cache_max_size();
            let policy = Policy {
                max_bytes: args
                    .max_size
                    .or_else(|| (args.older_than.is_none() && !args.all).then_some(bound)),
                older_than: args.older_than,
                everything: args.all,
            };
            let outcome = prune(&root, policy, SystemTime::now())
                .with_context(|| format!("pruning the cache at {}", root.display()))?;
            report_prune(&root, &outcome, policy, args.format)
        }
    }
}

/// Root filesystems unpacked by a rootless run hold files of the user's subordinate ids, which
/// only the user namespace such runs use may read and remove: an ordinary user's `salve cache`
/// runs there too when there are any.
fn enter_namespace_if_needed(root: &Path) -> anyhow::Result<()> {
    if rustix::process::geteuid().is_root() {
        return Ok(());
    }
    let has_rootfs = std::fs::read_dir(Kind::Rootfs.folder(root))
        .is_ok_and(|mut listing| listing.next().is_some());
    if has_rootfs {
        std::process::exit(crate::engine::rootless::run_in_namespace()?);
    }
    Ok(())
}

/// Entries and bytes of one kind, and of them those in use and those left over.
#[derive(Default)]
struct KindUsage {
    entries: usize,
    bytes: u64,
    in_use: crate::cache::Tally,
    leftover: crate::cache::Tally,
}

/// Prints `salve cache du`.
fn du(root: &Path, bound: u64, format: OutputFormat) -> anyhow::Result<()> {
    let scanned = scan(root).with_context(|| format!("reading the cache at {}", root.display()))?;
    let mut kinds: BTreeMap<Kind, KindUsage> = Kind::ALL
        .iter()
        .map(|kind| (*kind, KindUsage::default()))
        .collect();
    for entry in &scanned.entries {
        let usage = kinds.entry(entry.kind).or_default();
        usage.entries += 1;
        usage.bytes += entry.bytes;
        let tally = match entry.state {
            State::InUse => &mut usage.in_use,
            State::Leftover => &mut usage.leftover,
            State::Idle => continue,
        };
        tally.entries += 1;
        tally.bytes += entry.bytes;
    }
    let total_entries: usize = kinds.values().map(|usage| usage.entries).sum();
    let total_bytes: u64 = kinds.values().map(|usage| usage.bytes).sum();
    let max_size = (bound != u64::MAX).then_some(bound);
    if format == OutputFormat::Json {
        let kinds: Vec<_> = kinds
            .iter()
            .map(|(kind, usage)| {
                json!({"kind": kind, "entries": usage.entries, "bytes": usage.bytes,
                       "in_use": usage.in_use, "leftover": usage.leftover})
            })
            .collect();
        return emit_json(&json!({
            "folder": root,
            "max_size": max_size,
            "kinds": kinds,
            "total": {"entries": total_entries, "bytes": total_bytes},
        }));
    }
    let mut rows = vec![
        ["KIND", "ENTRIES", "SIZE", "IN USE", "LEFT OVER"]
            .map(String::from)
            .to_vec(),
    ];
    let held = |tally: crate::cache::Tally| match tally.entries {
        0 => String::new(),
        entries => format!("{entries} ({})", format_size(tally.bytes)),
    };
    for (kind, usage) in &kinds {
        rows.push(vec![
            kind.name().to_string(),
            usage.entries.to_string(),
            format_size(usage.bytes),
            held(usage.in_use),
            held(usage.leftover),
        ]);
    }
    rows.push(vec![
        "total".to_string(),
        total_entries.to_string(),
        format_size(total_bytes),
    ]);
    let bound_line = match max_size {
        Some(bound) => format!("bound: {} (--cache-max-size)", format_bytes(bound)),
        None => "bound: none (--cache-max-size unlimited)".to_string(),
    };
    emit(&format!(
        "cache folder: {}\n{}{bound_line}\n",
        root.display(),
        table::render(&rows)
    ))?;
    Ok(())
}

/// Prints what `salve cache prune` did; fails when entries could not be removed, or when
/// what running processes hold keeps the cache over the size asked for.
fn report_prune(
    root: &Path,
    outcome: &PruneOutcome,
    policy: Policy,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let removed = outcome.removed_total();
    if format == OutputFormat::Json {
        emit_json(&json!({"folder": root, "outcome": outcome}))?;
    } else {
        let by_kind: Vec<String> = outcome
            .removed
            .iter()
            .map(|(kind, tally)| format!("{} {}", tally.entries, kind.name()))
            .collect();
        let detail = if by_kind.is_empty() {
            String::new()
        } else {
            format!(": {}", by_kind.join(", "))
        };
        let mut text = format!(
            "removed {} entries ({}){detail}\nkept {} entries ({})",
            removed.entries,
            format_size(removed.bytes),
            outcome.kept.entries,
            format_size(outcome.kept.bytes),
        );
        if outcome.in_use.entries > 0 {
            text.push_str(&format!(
                ", {} of them ({}) held by running salve processes",
                outcome.in_use.entries,
                format_size(outcome.in_use.bytes)
            ));
        }
        emit(&format!("{text}\n"))?;
    }
    if !outcome.failures.is_empty() {
        bail!(
            "{} cache entries could not be removed:\n  {}",
            outcome.failures.len(),
            outcome.failures.join("\n  ")
        );
    }
    if let Some(max) = policy.max_bytes
        && outcome.kept.bytes > max
    {
        bail!(
            "the cache still holds {}, over the {} asked for: {} of it is held by running salve \
             processes; prune again when they have ended",
            format_size(outcome.kept.bytes),
            format_bytes(max),
            format_size(outcome.in_use.bytes)
        );
    }
    Ok(())
}

/// At the end of a `salve patch`: removes what ended processes left behind and the least
/// recently used entries over the bound, and says so; a cache it cannot bring under its bound
/// is a warning, not a failure of the patch.
pub fn keep_bounded(root: &Path, bound: u64, progress: Progress) {
    let policy = Policy {
        max_bytes: Some(bound),
        ..Policy::default()
    };
    let outcome = match prune(root, policy, SystemTime::now()) {
        Ok(outcome) => outcome,
        Err(error) => {
            progress.warn(&format!(
                "could not keep the cache at {} under its bound: {error}",
                root.display()
            ));
            return;
        }
    };
    let removed = outcome.removed_total();
    if removed.entries > 0 {
        progress.event(
            json!({"event": "cache", "removed": removed, "kept": outcome.kept,
                   "max_size": bound}),
            &format!(
                "cache: removed {} entries ({}), keeping {} under its bound of {}",
                removed.entries,
                format_size(removed.bytes),
                format_size(outcome.kept.bytes),
                format_bytes(bound)
            ),
        );
    }
    for failure in &outcome.failures {
        progress.warn(&format!("could not remove from the cache: {failure}"));
    }
    if outcome.kept.bytes > bound {
        progress.warn(&format!(
            "the cache at {} holds {}, over its bound of {}: {} of it is held by running salve \
             processes",
            root.display(),
            format_size(outcome.kept.bytes),
            format_bytes(bound),
            format_size(outcome.in_use.bytes)
        ));
    }
}
