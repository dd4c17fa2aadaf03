//! Copying the package database files the plan names out of the target after the steps, into
//! a folder of the run's that the steps never saw. Every step has ended by then (its pid
//! namespace is gone), so the tree no longer changes; the paths are expanded without following
//! a symbolic link (see `paths::expand`), so only regular files of the image are copied.

use crate::engine::paths::expand;
use crate::engine::spec::{RESULTS_MOUNT, SandboxSpec};
use std::fs;
use std::io;

/// Copies the database files (the plan's paths outside `/salve-results`) into the run's
/// database folder, keeping their image paths.
pub fn copy_database(spec: &SandboxSpec) -> io::Result<()> {
    let target = &spec.target.merged;
    for pattern in &spec.database_paths {
        if pattern.starts_with(RESULTS_MOUNT) {
            continue;
        }
        for path in expand(target, pattern)? {
            let relative = path.trim_start_matches('/');
            let copy = spec.run.database.join(relative);
            if let Some(parent) = copy.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::copy(target.join(relative), &copy)?;
        }
    }
    Ok(())
}
