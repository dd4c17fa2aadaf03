//! Copying the package database files the plan names out of the target after the steps, into
//! a folder of the run's that the steps never saw. Every step has ended by then (its pid
//! namespace is gone), so the tree no longer changes; paths resolve inside the target (see
//! `paths::Root`) and no more than the plugin input cap is copied in all.

use crate::engine::paths::{ReadBudget, Root};
use crate::engine::spec::{RESULTS_MOUNT, SandboxSpec};
use std::fs;
use std::io;

/// Copies the database files (the plan's paths outside `/salve-results`) into the run's
/// database folder, keeping their image paths.
pub fn copy_database(spec: &SandboxSpec) -> io::Result<()> {
    let target = Root::open(&spec.target.merged)?;
    let mut budget = ReadBudget::new(spec.database_cap);
    for pattern in &spec.database_paths {
        if pattern.starts_with(RESULTS_MOUNT) {
            continue;
        }
        for path in target.expand(pattern)? {
            let copy = spec.run.database.join(path.trim_start_matches('/'));
            if let Some(parent) = copy.parent() {
                fs::create_dir_all(parent)?;
            }
            let mut out = fs::File::create(&copy)?;
            target.copy(&path, &mut out, &mut budget)?;
        }
    }
    Ok(())
}
