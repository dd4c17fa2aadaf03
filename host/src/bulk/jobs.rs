//! From a configuration to patch jobs: each entry's tags found (in the registry, for the pattern
//! and latest strategies) and chosen, each tag's patched name and report filled in.

use super::config::{ImageSpec, PatchConfig, TagRule, is_valid_tag};
use super::select::select;
use crate::transport::reference::ImageReference;
use crate::transport::{RegistryClient, RegistryOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One image to patch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The configuration entry's name.
    pub name: String,
    /// The image to patch, `repository:tag`.
    pub source: String,
    /// The patched image's repository.
    pub target_repository: String,
    /// The patched image's tag.
    pub target_tag: String,
    /// The report to patch from (`None`: every package the repositories can upgrade).
    pub report: Option<PathBuf>,
    /// Platforms to patch (empty: all).
    pub platforms: Vec<String>,
}

impl Job {
    /// The patched image, `repository:tag`.
    pub fn target(&self) -> String {
        format!("{}:{}", self.target_repository, self.target_tag)
    }
}

/// An entry whose tags could not be found or named: it patches nothing, and says why.
#[derive(Debug)]
pub struct Unlisted {
    /// The configuration entry's name.
    pub name: String,
    /// Its repository.
    pub repository: String,
    /// Why its tags are unknown.
    pub error: String,
}

/// The jobs a configuration makes, and the entries that made none.
#[derive(Debug, Default)]
pub struct Jobs {
    /// Images to patch, in the configuration's order.
    pub jobs: Vec<Job>,
    /// Entries whose tags could not be listed or chosen.
    pub unlisted: Vec<Unlisted>,
}

/// Finds every entry's tags and makes its jobs. An entry whose tags cannot be listed (the
/// registry fails, no tag matches) or named (the template makes no tag of one) is set aside
/// with the reason; the others go on. Two jobs that would write the same patched image are
/// refused.
pub async fn plan(config: &PatchConfig, registry: &RegistryOptions) -> anyhow::Result<Jobs> {
    let mut result = Jobs::default();
    for spec in &config.images {
        let jobs: anyhow::Result<Vec<Job>> = tags_of(spec, registry)
            .await
            .and_then(|tags| tags.iter().map(|tag| job(spec, tag)).collect());
        match jobs {
            Ok(jobs) => result.jobs.extend(jobs),
            Err(error) => result.unlisted.push(Unlisted {
                name: spec.name.clone(),
                repository: spec.repository.clone(),
                error: format!("{error:#}"),
            }),
        }
    }
    let mut writers: BTreeMap<String, &Job> = BTreeMap::new();
    for job in &result.jobs {
        if let Some(other) = writers.insert(job.target(), job) {
            anyhow::bail!(
                "{} and {} would both be written to {}; give them different targets or tags",
                other.source,
                job.source,
                job.target()
            );
        }
    }
    Ok(result)
}

/// The tags an entry patches: its list, or those its rule chooses from the registry's.
async fn tags_of(spec: &ImageSpec, registry: &RegistryOptions) -> anyhow::Result<Vec<String>> {
    if let TagRule::List(tags) = &spec.tags {
        return Ok(tags.clone());
    }
    let reference: ImageReference = spec.repository.parse()?;
    let client = RegistryClient::new(&[&reference], registry)?;
    // A registry may list anything; only what can be a tag is considered.
    let mut available = client.list_tags(&reference).await?;
    available.retain(|tag| is_valid_tag(tag));
    Ok(select(&spec.tags, &available)?)
}

/// The job for one tag of an entry.
fn job(spec: &ImageSpec, tag: &str) -> anyhow::Result<Job> {
    let target_tag = spec.tag_template.render(tag);
    if !is_valid_tag(&target_tag) {
        anyhow::bail!(
            "image {:?}: the tag template makes {target_tag:?} of tag {tag:?}, which is not a tag",
            spec.name
        );
    }
    Ok(Job {
        name: spec.name.clone(),
        source: format!("{}:{tag}", spec.repository),
        target_repository: spec.target_repository.clone(),
        target_tag,
        report: spec
            .report
            .as_ref()
            .map(|template| PathBuf::from(template.render(tag))),
        platforms: spec.platforms.clone(),
    })
}
