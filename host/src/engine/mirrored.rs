//! The package sources the steps of the local and BuildKit engines see on a run with mirrors:
//! rewritten copies of the target's source files (read with the probe) and, when the plan runs
//! in a tooling image, of the tooling image's; and the variables that point pip at a mirror.
//! Origins that none of them names are warned about, since they change nothing.

use super::Job;
use crate::image::{ImageLayers, read_paths_within};
use crate::mirror::sources::{MirroredSources, SOURCE_FILES};
use anyhow::Context;

/// The most one source file read from a tooling image may hold.
const SOURCE_FILE_CAP: u64 = 16 << 20;

/// The most the tooling image's source files may hold together.
const SOURCE_TOTAL_CAP: u64 = 64 << 20;

/// The sources the job's steps see, with the target at `/target` under `tooling` (its layers)
/// when the plan runs in a tooling image; nothing when the run has no mirrors.
pub fn mirrored_sources(
    job: &Job<'_>,
    tooling: Option<&ImageLayers>,
) -> anyhow::Result<MirroredSources> {
    if job.mirrors.is_empty() {
        return Ok(MirroredSources::default());
    }
    let platform = &job.target.platform;
    let target_at = if tooling.is_some() { "/target" } else { "" };
    let mut sources = job
        .mirrors
        .sources(job.source_files, target_at)
        .with_context(|| format!("{platform}: the target's package sources"))?;
    if let Some(layers) = tooling {
        let patterns: Vec<String> = SOURCE_FILES.iter().map(|p| p.to_string()).collect();
        let files = read_paths_within(&layers.blobs, &patterns, SOURCE_FILE_CAP, SOURCE_TOTAL_CAP)
            .with_context(|| format!("{platform}: reading the tooling image's package sources"))?;
        let own = job
            .mirrors
            .sources(&files, "")
            .with_context(|| format!("{platform}: the tooling image's package sources"))?;
        sources = own.and(sources);
    }
    let rewritten: Vec<&str> = sources.files.iter().map(|f| f.path.as_str()).collect();
    if !rewritten.is_empty() {
        job.progress.stage(
            "mirror",
            &format!(
                "{platform}: the steps see mirrored copies of {}",
                rewritten.join(", ")
            ),
        );
    }
    for (name, value) in &sources.environment {
        job.progress.stage(
            "mirror",
            &format!("{platform}: the steps get {name}={value}"),
        );
    }
    warn_unused(job, &sources.unused);
    Ok(sources)
}

/// Warns about each origin that no package source of the image names: its mirror is not used.
pub fn warn_unused(job: &Job<'_>, unused: &[String]) {
    for origin in unused {
        job.progress.warn(&format!(
            "{}: --mirror {origin}: no package source of the image starts with it, so its \
             mirror is not used",
            job.target.platform
        ));
    }
}
