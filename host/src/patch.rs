//! `salve patch`: the main job, step by step as DESIGN.md describes it. [`patch`] reads like the
//! flow: read the report, bring the image in, and for each platform probe, detect, plan, execute,
//! validate and assemble; then write the image and the VEX document (or, for `salve generate`,
//! a build context instead: see [`context`]).

pub mod clock;
pub mod context;
pub mod probe;
pub mod source_policy;
pub mod validate;
pub mod vex;

use crate::cancel::{Cancel, Cancelled};
use crate::engine::native::NativeWork;
use crate::engine::{EngineChoice, Job, local};
use crate::image::OciLayout;
use crate::image::assemble::{PatchInput, assemble, replace_in_index};
use crate::image::layout::write_file_atomically;
use crate::image::manifest::{Descriptor, Index, is_index};
use crate::image::{Compression, LayerOptions, PlatformImage, RootfsCache};
use crate::mirror::Mirrors;
use crate::mirror::sources::SOURCE_FILES;
use crate::plugin::types::{
    InstalledPackage, OsInfo, PackageClass, PlanRequest, Platform, RequestedUpdate, UpdatePlan,
};
use crate::plugin::{Plugin, PluginCatalog};
use crate::progress::Progress;
use crate::report::{self, PackageUpdate, Report};
use crate::transport::{PlatformChoice, RegistryOptions, Transport, deliver, fetch};
use anyhow::{Context, bail};
use context::{ContextTarget, write_context};
use probe::{Detected, probe};
use serde_json::json;
use source_policy::SourcePolicy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use validate::{Change, Shortfall};

/// Everything `salve patch` was asked to do.
pub struct PatchOptions {
    /// The image to patch.
    pub image: Transport,
    /// The scanner report (a file, or a folder with one per platform); `None`: update all.
    pub report: Option<PathBuf>,
    /// The scanner plugin to read it with; `None`: the one that recognises it.
    pub scanner: Option<String>,
    /// What the run writes.
    pub delivery: Delivery,
    /// Report shortfalls instead of failing (they are left out of the VEX document).
    pub ignore_errors: bool,
    /// Platforms of a multi-platform image to patch (`os/arch[/variant]`); empty: all.
    pub platforms: Vec<String>,
    /// How registries are reached.
    pub registry: RegistryOptions,
    /// The tooling image to use instead of the plugin's choice.
    pub tooling_image: Option<String>,
    /// Where packages come from for this run instead of where the image says.
    pub mirrors: Mirrors,
    /// copa's source policy, applied to tooling images.
    pub source_policy: Option<SourcePolicy>,
    /// Where unpacked root filesystems and working folders live.
    pub cache_dir: PathBuf,
    /// The run's deadline (`--timeout`) and Ctrl-C, which every part of the run obeys.
    pub cancel: Cancel,
    /// How progress is shown.
    pub progress: Progress,
    /// Where the plans run.
    pub engine: EngineChoice,
}

/// What a run writes.
#[derive(Debug)]
pub enum Delivery {
    /// The patched image, and the OpenVEX document when `vex` names a file.
    Image {
        /// Where the patched image goes.
        output: Transport,
        /// Where the OpenVEX document goes.
        vex: Option<PathBuf>,
        /// The patch layer's compression.
        compression: Compression,
    },
    /// A Docker build context that applies the patch layer to the input image (a registry
    /// image, one platform), for `docker build`.
    Context(ContextTarget),
}

/// What a patch did.
#[derive(Debug)]
pub enum PatchOutcome {
    /// Nothing was patched; no image was written. `shortfalls` holds the findings left out under
    /// `--ignore-errors` (empty: the image was already up to date).
    NotWritten {
        /// Findings that could not be patched.
        shortfalls: Vec<Shortfall>,
    },
    /// The image was patched and written.
    Patched {
        /// The digest of the manifest (or index) written.
        digest: String,
        /// Per patched platform, the packages changed.
        changes: Vec<(String, Vec<Change>)>,
        /// Findings not patched, or below their fixed version, under `--ignore-errors`.
        shortfalls: Vec<Shortfall>,
    },
    /// The build context was written.
    Context {
        /// The platform's packages changed.
        changes: Vec<Change>,
        /// Findings not patched, or below their fixed version, under `--ignore-errors`.
        shortfalls: Vec<Shortfall>,
    },
}

/// The working layout's tags.
const INPUT_TAG: &str = "input";
/// The tag of the patched image in the working layout.
const OUTPUT_TAG: &str = "output";

/// Runs a patch. A wait or a plugin call stopped by the run's cancellation ends it as any other
/// part does: with the reason (the time allowed, or Ctrl-C) named, and nothing written.
pub async fn patch(
    catalog: &PluginCatalog,
    options: &PatchOptions,
) -> anyhow::Result<PatchOutcome> {
    run_patch(catalog, options).await.map_err(|error| {
        if let Some(cancelled) = error.downcast_ref::<Cancelled>() {
            return anyhow::anyhow!("{cancelled}; nothing was written");
        }
        let by_plugin = error.chain().find_map(|cause| {
            cause
                .downcast_ref::<crate::plugin::PluginError>()
                .and_then(crate::plugin::PluginError::cancelled)
                .or_else(|| {
                    cause
                        .downcast_ref::<report::ReportError>()
                        .and_then(report::ReportError::cancelled)
                })
        });
        match by_plugin {
            Some(cancelled) => error.context(format!("{cancelled}; nothing was written")),
            None => error,
        }
    })
}

/// The patch itself, step by step.
async fn run_patch(
    catalog: &PluginCatalog,
    options: &PatchOptions,
) -> anyhow::Result<PatchOutcome> {
    let cancel = &options.cancel;
    // Plugin calls end by the run's cancellation too, and none starts after it.
    catalog.runtime().set_cancel(cancel.clone());
    let progress = options.progress;
    for entry in catalog.outside_plugins() {
        progress.event(
            json!({"event": "plugin", "name": entry.name, "source": entry.source,
                   "replaces": entry.shadowed}),
            &format!("note: {}", entry.origin_notice()),
        );
    }

    // Every plugin loaded once, under one policy for those that fail.
    let plugins = catalog.load_for_run()?;
    let ecosystems = plugins.ecosystems();

    // 1–2. The report (none: update all).
    let input_cap = catalog.runtime().limits().input_bytes;
    let reports = match &options.report {
        Some(path) => report::load(&plugins, input_cap, path, options.scanner.as_deref())?,
        None => Vec::new(),
    };
    if let EngineChoice::Buildkit(daemon) = &options.engine {
        // Before any work: a daemon that cannot be reached fails the run at once.
        cancel
            .run(crate::engine::buildkit::connect_to(daemon))
            .await??;
    }

    if matches!(options.delivery, Delivery::Context(_))
        && !matches!(options.image, Transport::Registry(_))
    {
        bail!(
            "a build context starts FROM an image docker build pulls: give {} as a registry \
             image (push it first with `salve copy`), or patch it with `salve patch`",
            options.image
        );
    }

    // The image, brought into a working layout beside the root filesystem cache.
    let work = crate::cache::work::WorkDir::create(&options.cache_dir, "patch-")
        .context("creating a working folder")?;
    let layout = OciLayout::open_or_create(&work.path().join("layout"))?;
    progress.stage("pull", &format!("reading {}", options.image));
    let input = cancel
        .run(fetch(
            &options.image,
            &PlatformChoice::All,
            &layout,
            INPUT_TAG,
            &options.registry,
        ))
        .await?
        .with_context(|| format!("reading {}", options.image))?;
    let cache = RootfsCache::open(&options.cache_dir)?;

    let manifests = platform_manifests(&layout, &input, &options.platforms)?;
    if matches!(options.delivery, Delivery::Context(_)) && manifests.len() != 1 {
        bail!(
            "a build context applies to one platform's image and {} has {}: choose one with \
             --platform",
            options.image,
            manifests.len()
        );
    }
    let mut patched = Vec::new();
    let mut all_changes = Vec::new();
    let mut shortfalls = Vec::new();
    let mut fixed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (index, manifest) in manifests.iter().enumerate() {
        let image = PlatformImage::read(&layout, manifest)?;
        let platform_report = report_for(&reports, &image.platform);
        let context = PlatformRun {
            layout: &layout,
            image: &image,
            report: platform_report,
            ecosystems: &ecosystems,
            cache: &cache,
            work: &work.path().join(format!("platform-{index}")),
            database_cap: catalog.runtime().limits().input_bytes,
            from: context_from(&options.image, manifest),
            options,
        };
        let Some(result) = patch_platform(&context, &mut shortfalls).await? else {
            continue;
        };
        all_changes.push((result.platform.clone(), result.changes));
        for (vulnerability, purl) in result.fixed {
            fixed.entry(vulnerability).or_default().push(purl);
        }
        patched.push((manifest.digest.clone(), result.manifest));
    }
    if let (Delivery::Context(target), true) = (&options.delivery, patched.is_empty()) {
        // Nothing to patch: the context still builds, into the image as it is.
        let from = context_from(&options.image, &manifests[0]);
        write_context(
            None,
            &from,
            &options.image.to_string(),
            None,
            work.path(),
            target,
        )?;
        progress.event(
            json!({"event": "context", "from": from, "files": 0, "removed": []}),
            &format!("nothing to patch: the build context only names {from}"),
        );
    }
    if patched.is_empty() && shortfalls.is_empty() {
        progress.event(
            json!({"event": "up-to-date"}),
            "image is already up to date",
        );
        return Ok(PatchOutcome::NotWritten { shortfalls });
    }
    if patched.is_empty() {
        progress.event(
            json!({"event": "not-patched", "shortfalls": shortfalls}),
            &format!(
                "no image was written: nothing could be patched ({} finding(s) left out, above)",
                shortfalls.len()
            ),
        );
        return Ok(PatchOutcome::NotWritten { shortfalls });
    }

    let (output, vex) = match &options.delivery {
        Delivery::Image { output, vex, .. } => (output, vex),
        Delivery::Context(target) => {
            progress.event(
                json!({"event": "done", "context": target.to_string(),
                       "shortfalls": shortfalls}),
                &format!("build context written to {target}"),
            );
            let changes = all_changes.pop().map(|(_, changes)| changes);
            return Ok(PatchOutcome::Context {
                changes: changes.unwrap_or_default(),
                shortfalls,
            });
        }
    };
    let patched: Vec<(String, Descriptor)> = patched
        .into_iter()
        .filter_map(|(digest, manifest)| Some((digest, manifest?)))
        .collect();

    // The result: the patched manifest, or the index with the patched platforms swapped in.
    let result = if is_index(&input.media_type) {
        replace_in_index(&layout, &input, &patched)?
    } else {
        patched.last().expect("one platform was patched").1.clone()
    };
    layout.tag(OUTPUT_TAG, &result)?;

    // 8. Write the image, then the VEX document.
    progress.stage("push", &format!("writing {output}"));
    let mount_from = match &options.image {
        Transport::Registry(reference) => Some(reference),
        _ => None,
    };
    let digest = cancel
        .run(deliver(
            &layout,
            OUTPUT_TAG,
            output,
            mount_from,
            &options.registry,
        ))
        .await?
        .with_context(|| format!("writing {output}"))?;
    if let Some(path) = vex.as_ref().filter(|_| fixed.is_empty()) {
        progress.warn(&format!(
            "no vulnerability was fixed, so no VEX document is written to {}",
            path.display()
        ));
    } else if let Some(path) = vex {
        let product = vex::image_purl(&output.name_and_tag().0, &digest);
        let document = vex::document(&product, &fixed, &vex::author(), &clock::now_rfc3339());
        let text = serde_json::to_string_pretty(&document)? + "\n";
        write_file_atomically(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    progress.event(
        json!({"event": "done", "image": output.to_string(), "digest": digest,
               "vulnerabilities": fixed.keys().collect::<Vec<_>>(), "shortfalls": shortfalls}),
        &format!("patched image written to {output} ({digest})"),
    );
    Ok(PatchOutcome::Patched {
        digest,
        changes: all_changes,
        shortfalls,
    })
}

/// Everything one platform's patch needs.
struct PlatformRun<'a> {
    /// The working layout.
    layout: &'a OciLayout,
    /// The platform's image.
    image: &'a PlatformImage,
    /// The report for this platform, if any.
    report: Option<&'a Report>,
    /// The ecosystem plugins.
    ecosystems: &'a [&'a Plugin],
    /// The root filesystem cache.
    cache: &'a RootfsCache,
    /// A folder for this platform's run.
    work: &'a Path,
    /// The most the package database files read back may hold together (the plugin input cap).
    database_cap: u64,
    /// The platform's image as a build context's `FROM` names it (pinned by digest).
    from: String,
    /// The command's options.
    options: &'a PatchOptions,
}

/// What patching one platform produced.
struct PlatformPatched {
    /// `os/arch[/variant]`.
    platform: String,
    /// The new manifest; `None` when a build context was written instead.
    manifest: Option<Descriptor>,
    /// What changed.
    changes: Vec<Change>,
    /// (vulnerability, purl of the package that fixed it).
    fixed: Vec<(String, String)>,
}

/// One ecosystem's share of a platform's patch.
struct Share<'a, 'b> {
    /// The plugin that recognised the image.
    detected: &'b Detected<'a>,
    /// The updates it is asked for (empty: update all), each asking for the highest fixed
    /// version by this plugin's order.
    updates: Vec<PackageUpdate>,
}

/// Patches one platform: probe, detect, plan, execute, validate, assemble. `None` when nothing
/// needs updating. Findings not patched under `--ignore-errors` are added to `shortfalls`;
/// without it, any such finding fails the run before anything runs.
async fn patch_platform(
    run: &PlatformRun<'_>,
    shortfalls: &mut Vec<Shortfall>,
) -> anyhow::Result<Option<PlatformPatched>> {
    let progress = run.options.progress;
    let platform = &run.image.platform;
    let platform_name = platform.to_string();
    let target = &run.image.layers;
    let local_engine = matches!(run.options.engine, EngineChoice::Local(_));
    // A copy unpacked by an earlier run is what the probe reads, and needs no prefetch.
    let unpacked = local_engine
        .then(|| local::already_unpacked(run.cache, target))
        .flatten();
    if local_engine && unpacked.is_none() && local::check_can_run(&platform.architecture).is_ok() {
        // Detached: a run that ends early leaves it to finish or stop with the process.
        drop(local::prefetch(run.cache.clone(), target.clone()));
    }

    // 3–4. Probe the layers and let the plugins recognise the image.
    let source = if unpacked.is_some() {
        "the root filesystem an earlier run unpacked"
    } else {
        "the layers"
    };
    progress.stage(
        "probe",
        &format!("{platform_name}: reading package databases from {source}"),
    );
    let native = matches!(
        run.options.engine,
        EngineChoice::Native(_) | EngineChoice::Auto { .. }
    );
    let mut extra = report_library_paths(run.report);
    if !run.options.mirrors.is_empty() {
        extra.extend(SOURCE_FILES.iter().map(|pattern| pattern.to_string()));
    }
    let probe = probe(
        &target.blobs,
        unpacked.as_deref(),
        run.ecosystems,
        &extra,
        run.database_cap,
        native,
    )?;
    let Some(os_ecosystem) = probe.detected.iter().find(|d| d.class == PackageClass::Os) else {
        bail!(
            "{platform_name}: no ecosystem plugin recognises this {} {} image (salve patches \
             dpkg, rpm, apk and pacman images; see `salve plugins list`)",
            probe.os.id,
            probe.os.version_id
        );
    };
    for warning in probe.detected.iter().flat_map(|d| &d.target.warnings) {
        progress.warn(warning);
    }
    let (shares, mut unplaced) = shares(run.report, &probe.detected, os_ecosystem)?;
    if run.report.is_none() {
        note_libraries_left(&probe, progress);
    }
    let mut before: Vec<Vec<InstalledPackage>> = Vec::new();
    let mut plans: Vec<UpdatePlan> = Vec::new();
    let mut requests: Vec<PlanRequest> = Vec::new();
    let mut active: Vec<(&Share, Vec<&PackageUpdate>)> = Vec::new();
    let mut tooling_image = None;
    // Why only the native engine can make the update, when the plan the other engines run
    // could not be made (an image without a package manager and no tooling image that can).
    let mut local_refusal: Option<String> = None;
    for share in &shares {
        let ecosystem = share.detected.plugin.as_ecosystem().expect("an ecosystem");
        let installed = ecosystem.installed(&probe.files)?;
        let needed = still_needed(&ecosystem, &installed, &share.updates, &mut unplaced)?;
        if run.report.is_some() && needed.is_empty() {
            continue;
        }
        let installs_natively = !ecosystem.native_paths()?.is_empty();
        let mut refusal = None;
        let tooling = if share.detected.target.distroless {
            match tooling_for(
                run.options,
                &ecosystem,
                &probe.os,
                platform,
                &share.detected.target,
                needed.is_empty(),
            ) {
                Ok(tooling) => Some(tooling),
                Err(error) if installs_natively && run.options.tooling_image.is_none() => {
                    refusal = Some(format!("{error:#}"));
                    None
                }
                Err(error) => return Err(error),
            }
        } else {
            None
        };
        if tooling.is_some() {
            if tooling_image.is_some() {
                bail!(
                    "{platform_name}: more than one ecosystem needs a tooling image; patch them one report at a time"
                );
            }
            tooling_image = tooling.clone();
        }
        let request = PlanRequest {
            os: probe.os.clone(),
            platform: platform.clone(),
            target: share.detected.target.clone(),
            updates: needed
                .iter()
                .map(|update| RequestedUpdate {
                    package: update.package.clone(),
                    fixed_version: update.fixed_version.clone(),
                    path: update.path.clone(),
                })
                .collect(),
            tooling_image: tooling,
        };
        let plan = match (refusal.is_some(), ecosystem.plan(&request)) {
            (false, Ok(plan)) => plan,
            (false, Err(error)) if !(native && installs_natively) => return Err(error.into()),
            (_, planned) => {
                if let Err(error) = planned {
                    refusal.get_or_insert_with(|| format!("{:#}", anyhow::Error::from(error)));
                }
                UpdatePlan {
                    steps: Vec::new(),
                    exclude_paths: Vec::new(),
                    database_paths: Vec::new(),
                    warnings: Vec::new(),
                }
            }
        };
        for warning in &plan.warnings {
            progress.warn(warning);
        }
        if plan.steps.is_empty() && refusal.is_none() {
            continue;
        }
        if let Some(refusal) = refusal {
            local_refusal = Some(refusal);
        }
        before.push(installed);
        plans.push(plan);
        requests.push(request);
        active.push((share, needed));
    }
    if !unplaced.is_empty() && !run.options.ignore_errors {
        let list: Vec<String> = unplaced
            .iter()
            .map(|shortfall| format!("  - {}", shortfall.message()))
            .collect();
        bail!(
            "{platform_name}: {} finding(s) of the report cannot be patched; nothing was run:\n{}\n\
             (--ignore-errors patches the rest and leaves these out of the VEX document)",
            unplaced.len(),
            list.join("\n")
        );
    }
    for shortfall in unplaced {
        progress.event(
            json!({"event": "shortfall", "platform": platform_name, "shortfall": shortfall}),
            &format!(
                "warning: {platform_name}: {} (ignored)",
                shortfall.message()
            ),
        );
        shortfalls.push(shortfall);
    }
    if plans.is_empty() {
        progress.stage("probe", &format!("{platform_name}: nothing to update"));
        return Ok(None);
    }

    // 5. Execute the plans on the chosen engine.
    let plan = merge_plans(plans);
    if local_refusal.is_some() && active.len() > 1 {
        bail!(
            "{platform_name}: only the native engine can update {} here, and it installs one \
             ecosystem at a time; patch with one report per ecosystem",
            probe.os.id
        );
    }
    let native = match (&active[..], &requests[..], &probe.index) {
        ([(share, _)], [request], Some(index)) => Some(NativeWork {
            ecosystem: share.detected.plugin.as_ecosystem().expect("an ecosystem"),
            request,
            files: &probe.native_files,
            index,
        }),
        _ => None,
    };
    let executed = run
        .options
        .engine
        .run(&Job {
            source: &run.options.image,
            target: run.image,
            tooling_image: tooling_image.as_deref(),
            plan: &plan,
            layout: run.layout,
            cache: run.cache,
            work: run.work,
            database_cap: run.database_cap,
            registry: &run.options.registry,
            progress,
            cancel: &run.options.cancel,
            native,
            local_refusal: local_refusal.as_deref(),
            mirrors: &run.options.mirrors,
            source_files: &probe.files,
        })
        .await?;

    // 6. Validate against the package databases read back.
    progress.stage(
        "validate",
        &format!("{platform_name}: checking installed versions"),
    );
    let mut changes = Vec::new();
    let mut fixed = Vec::new();
    for ((share, needed), before) in active.iter().zip(&before) {
        let ecosystem = share.detected.plugin.as_ecosystem().expect("an ecosystem");
        let after = ecosystem.installed(&executed.database)?;
        changes.extend(validate::changes(before, &after));
        for update in needed {
            let shortfall = validate::check(
                &ecosystem,
                &after,
                &update.package,
                location(update).as_deref(),
                &update.fixed_version,
            )?;
            if let Some(shortfall) = shortfall {
                if !run.options.ignore_errors {
                    bail!("{platform_name}: {}", shortfall.message());
                }
                progress.event(
                    json!({"event": "shortfall", "platform": platform_name,
                           "shortfall": shortfall}),
                    &format!(
                        "warning: {platform_name}: {} (ignored)",
                        shortfall.message()
                    ),
                );
                shortfalls.push(shortfall);
                continue;
            }
            let package = validate::find(&after, &update.package, location(update).as_deref())
                .expect("checked above");
            let purl = ecosystem.purl(package, &probe.os, platform)?;
            for vulnerability in &update.vulnerabilities {
                fixed.push((vulnerability.id.clone(), purl.clone()));
            }
        }
    }
    for change in &changes {
        progress.event(
            json!({"event": "package", "platform": platform_name, "package": change.package,
                   "from": change.from, "to": change.to}),
            &format!(
                "  {} {} -> {}",
                change.package,
                change.from.as_deref().unwrap_or("(new)"),
                change.to
            ),
        );
    }
    if changes.is_empty() {
        progress.stage(
            "validate",
            &format!("{platform_name}: the steps changed no package"),
        );
        return Ok(None);
    }

    // 7. The patch layer, squashed with a previous patch, in the image (or in a build context).
    progress.stage(
        "layer",
        &format!("{platform_name}: writing the patch layer"),
    );
    let blob = run.work.join("patch-layer.blob");
    let compression = match &run.options.delivery {
        Delivery::Image { compression, .. } => *compression,
        Delivery::Context(_) => Compression::Gzip,
    };
    let options = LayerOptions {
        compression,
        ..LayerOptions::default()
    };
    let layer = executed
        .changes
        .write_layer(&blob, &options)
        .context("writing the patch layer")?;
    let manifest = match &run.options.delivery {
        Delivery::Context(target) => {
            let rm = image_rm(&run.image.layers.blobs)?;
            let summary = write_context(
                Some(&blob),
                &run.from,
                &run.options.image.to_string(),
                rm.as_deref(),
                run.work,
                target,
            )?;
            progress.event(
                json!({"event": "context", "platform": platform_name, "from": run.from,
                       "files": summary.entries, "removed": summary.removed}),
                &format!(
                    "{platform_name}: build context FROM {} with {} patch entries and {} \
                     removal(s)",
                    run.from,
                    summary.entries,
                    summary.removed.len()
                ),
            );
            None
        }
        Delivery::Image { .. } => {
            let patched = assemble(&PatchInput {
                layout: run.layout,
                base: run.image,
                base_name: &run.options.image.to_string(),
                layer_file: &blob,
                layer: &layer,
                created: &clock::now_rfc3339(),
                compression,
                threads: options.threads,
            })?;
            if patched.squashed {
                progress.stage(
                    "layer",
                    &format!("{platform_name}: merged with the previous patch layer"),
                );
            }
            Some(patched.manifest)
        }
    };
    let _ = std::fs::remove_dir_all(run.work);
    Ok(Some(PlatformPatched {
        platform: platform_name,
        manifest,
        changes,
        fixed,
    }))
}

/// The image a build context starts `FROM`: the registry image pinned by its platform manifest's
/// digest.
fn context_from(image: &Transport, manifest: &Descriptor) -> String {
    match image {
        Transport::Registry(reference) => {
            format!("{}@{}", reference.name_and_tag().0, manifest.digest)
        }
        other => other.to_string(),
    }
}

/// The image's `rm` program, by the path a build context's `RUN` names it with, if it has one.
fn image_rm(layers: &[PathBuf]) -> anyhow::Result<Option<String>> {
    let candidates = ["/usr/bin/rm".to_string(), "/bin/rm".to_string()];
    let found = crate::image::read_paths(layers, &candidates, 16 << 20)
        .context("looking for the image's rm")?;
    Ok(candidates
        .into_iter()
        .zip(found)
        .find(|(_, file)| file.kind == crate::plugin::types::FileKind::File)
        .map(|(path, _)| path))
}

/// The manifests to patch: the image's own, or the chosen platforms of an index.
fn platform_manifests(
    layout: &OciLayout,
    input: &Descriptor,
    wanted: &[String],
) -> anyhow::Result<Vec<Descriptor>> {
    if !is_index(&input.media_type) {
        return Ok(vec![input.clone()]);
    }
    let index: Index = serde_json::from_slice(&layout.read_blob(&input.digest)?)?;
    let mut chosen = Vec::new();
    for entry in &index.manifests {
        let Some(platform) = &entry.platform else {
            continue;
        };
        // Attestation manifests carry the platform unknown/unknown.
        if platform.os != "linux" {
            continue;
        }
        let name = platform.to_string();
        let matches = wanted.is_empty()
            || wanted
                .iter()
                .any(|w| *w == name || name.starts_with(&format!("{w}/")));
        if matches {
            chosen.push(entry.clone());
        }
    }
    if chosen.is_empty() {
        bail!("the image has no platform among {}", wanted.join(", "));
    }
    Ok(chosen)
}

/// The report that applies to a platform: the only one, or the one naming the platform.
fn report_for<'a>(reports: &'a [Report], platform: &Platform) -> Option<&'a Report> {
    match reports {
        [] => None,
        [only] => Some(only),
        several => several
            .iter()
            .find(|report| report.platform.as_ref() == Some(platform)),
    }
}

/// Which ecosystem handles which update: OS findings go to the OS ecosystem, library findings
/// to the library ecosystem that recognised the image, each update asking for the highest fixed
/// version by that plugin's order; no report means the OS ecosystem updates everything.
/// Findings no ecosystem takes are returned as not patched.
fn shares<'a, 'b>(
    report: Option<&'b Report>,
    detected: &'b [Detected<'a>],
    os: &'b Detected<'a>,
) -> anyhow::Result<(Vec<Share<'a, 'b>>, Vec<Shortfall>)> {
    let Some(report) = report else {
        let everything = Share {
            detected: os,
            updates: Vec::new(),
        };
        return Ok((vec![everything], Vec::new()));
    };
    let mut shares: Vec<Share> = Vec::new();
    let mut taken = vec![false; report.updates.len()];
    for candidate in detected {
        let ecosystem = candidate.plugin.as_ecosystem().expect("an ecosystem");
        let mut updates: Vec<PackageUpdate> = Vec::new();
        for (index, update) in report.updates.iter().enumerate() {
            if update.class == candidate.class && !taken[index] {
                taken[index] = true;
                let mut update = update.clone();
                update
                    .choose_fixed_version(|a, b| ecosystem.compare_versions(a, b))
                    .with_context(|| {
                        format!("choosing the fixed version of {} to reach", update.package)
                    })?;
                updates.push(update);
            }
        }
        if !updates.is_empty() {
            shares.push(Share {
                detected: candidate,
                updates,
            });
        }
    }
    let unplaced = report
        .updates
        .iter()
        .zip(taken)
        .filter(|(_, taken)| !taken)
        .map(|(update, _)| {
            let why = match update.class {
                PackageClass::Os => format!(
                    "no ecosystem plugin takes {} packages of this image",
                    update.package_type
                ),
                PackageClass::Library => format!(
                    "no ecosystem plugin found {} packages in the image{}",
                    update.package_type,
                    location(update)
                        .map(|folder| format!(" (the report places it in {folder})"))
                        .unwrap_or_default()
                ),
            };
            Shortfall::not_patched(&update.package, &update.fixed_version, why)
        })
        .collect();
    Ok((shares, unplaced))
}

/// Without a report, library packages are left as they are: says so, naming where the library
/// ecosystems found them, so that nothing is skipped unseen.
fn note_libraries_left(probe: &probe::Probe<'_>, progress: Progress) {
    for detected in &probe.detected {
        if detected.class != PackageClass::Library {
            continue;
        }
        let ecosystem = detected.plugin.as_ecosystem().expect("an ecosystem");
        // Only a note: packages an OS update leaves alone must not stop it.
        let installed = match ecosystem.installed(&probe.files) {
            Ok(installed) => installed,
            Err(error) => {
                progress.warn(&format!(
                    "{} found library packages but could not list them ({error}); they are \
                     left as they are",
                    detected.plugin.name()
                ));
                continue;
            }
        };
        let mut locations: Vec<&str> = installed
            .iter()
            .filter_map(|package| package.location.as_deref())
            .collect();
        locations.sort_unstable();
        locations.dedup();
        progress.event(
            json!({"event": "libraries-left", "plugin": detected.plugin.name(),
                   "packages": installed.len(), "locations": locations}),
            &format!(
                "note: {} {} package(s) in {} ({}) are left as they are: library packages are \
                 updated only from a report",
                installed.len(),
                detected.plugin.name(),
                if locations.len() == 1 {
                    "one folder".to_string()
                } else {
                    format!("{} folders", locations.len())
                },
                locations.join(", ")
            ),
        );
    }
}

/// The updates whose package is installed below its fixed version; those already at it are
/// dropped, and those not installed (where the report says) are added to `unplaced`. When the
/// probe could not list the installed packages (an rpm database only the package manager
/// reads), every update is kept: the report says what is installed, and validation checks the
/// result.
fn still_needed<'b>(
    ecosystem: &crate::plugin::Ecosystem<'_>,
    installed: &[InstalledPackage],
    updates: &'b [PackageUpdate],
    unplaced: &mut Vec<Shortfall>,
) -> anyhow::Result<Vec<&'b PackageUpdate>> {
    if installed.is_empty() {
        return Ok(updates.iter().collect());
    }
    let mut needed = Vec::new();
    for update in updates {
        let shortfall = validate::check(
            ecosystem,
            installed,
            &update.package,
            location(update).as_deref(),
            &update.fixed_version,
        )?;
        match shortfall {
            None => {}
            Some(Shortfall {
                installed: None, ..
            }) => unplaced.push(Shortfall::not_patched(
                &update.package,
                &update.fixed_version,
                match location(update) {
                    Some(folder) => format!("it is not installed in the image at {folder}"),
                    None => "it is not installed in the image".to_string(),
                },
            )),
            Some(_) => needed.push(update),
        }
    }
    Ok(needed)
}

/// The metadata files of the folders a report's library findings name, as probe patterns: the
/// report says where its libraries are, wherever that is.
fn report_library_paths(report: Option<&Report>) -> Vec<String> {
    let mut patterns: Vec<String> = Vec::new();
    for update in report.map_or(&[][..], |report| &report.updates) {
        let Some(folder) = location(update).filter(|folder| !folder.contains('*')) else {
            continue;
        };
        let pattern = format!("{folder}/*.dist-info/METADATA");
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    }
    patterns
}

/// Where a library update lives, for matching installed packages: the folder holding its
/// `*.dist-info` (or `*.egg-info`) folder, from the path the report gives (a `METADATA` file,
/// the metadata folder, or the site-packages folder itself), absolute.
fn location(update: &PackageUpdate) -> Option<String> {
    if update.class != PackageClass::Library {
        return None;
    }
    let path = update.path.as_deref()?;
    let absolute = format!("/{}", path.trim_matches('/'));
    let parts: Vec<&str> = absolute.split('/').collect();
    let folder = match parts
        .iter()
        .position(|part| part.ends_with(".dist-info") || part.ends_with(".egg-info"))
    {
        Some(metadata) => parts[..metadata].join("/"),
        None => absolute,
    };
    Some(folder)
}

/// The tooling image for a target without a package manager: the user's `--tooling-image`, or
/// the plugin's choice (a registry reference only), then the source policy; the choice is shown.
fn tooling_for(
    options: &PatchOptions,
    ecosystem: &crate::plugin::Ecosystem<'_>,
    os: &OsInfo,
    platform: &Platform,
    target: &crate::plugin::types::Target,
    update_all: bool,
) -> anyhow::Result<String> {
    let plugin = ecosystem.plugin().name();
    let (named, by) = match &options.tooling_image {
        Some(image) => (image.clone(), "--tooling-image".to_string()),
        None => {
            let named = ecosystem
                .tooling_image(os, platform, target, update_all)?
                .context("the image has no package manager and its plugin names no tooling image; give one with --tooling-image")?;
            check_plugin_tooling_image(plugin, &named)?;
            (named, format!("plugin {plugin}"))
        }
    };
    let chosen = match &options.source_policy {
        Some(policy) => policy.apply(&named),
        None => named.clone(),
    };
    let mapped = if chosen == named {
        String::new()
    } else {
        format!(", mapped from {named} by the source policy")
    };
    options.progress.event(
        json!({"event": "tooling-image", "image": chosen, "named": named, "by": by}),
        &format!("tooling image: {chosen} (named by {by}{mapped})"),
    );
    Ok(chosen)
}

/// Refuses a tooling image a plugin names unless it is an image in a registry off this machine:
/// a plugin must not make salve read a folder, an archive or the Docker daemon of the host, or a
/// registry on its loopback interface. (The user's `--tooling-image` and source policy may.)
fn check_plugin_tooling_image(plugin: &str, named: &str) -> anyhow::Result<()> {
    let shown = crate::display_safe::one_line(named);
    let refused = |why: String| {
        anyhow::anyhow!(
            "plugin {plugin} names the tooling image {shown:?}, {why}; a plugin may only name an \
             image in a registry (give another with --tooling-image, or map it with a source policy)"
        )
    };
    match named.parse::<Transport>() {
        Ok(Transport::Registry(reference)) => {
            let host = reference.registry();
            if crate::transport::remote::is_loopback(host) {
                return Err(refused(format!(
                    "which is on this machine's loopback registry {host}"
                )));
            }
            Ok(())
        }
        Ok(_) => Err(refused("which is not in a registry".to_string())),
        // A loopback registry the reference grammar cannot read (`[::1]:5000/...`) is still
        // this machine's.
        Err(_)
            if named
                .split('/')
                .next()
                .is_some_and(crate::transport::remote::is_loopback) =>
        {
            let host = named.split('/').next().unwrap_or_default();
            Err(refused(format!(
                "which is on this machine's loopback registry {host}"
            )))
        }
        Err(error) => Err(refused(format!("which is not an image name ({error})"))),
    }
}

/// One plan from several ecosystems' plans (their steps in order).
fn merge_plans(plans: Vec<UpdatePlan>) -> UpdatePlan {
    let mut merged = UpdatePlan {
        steps: Vec::new(),
        exclude_paths: Vec::new(),
        database_paths: Vec::new(),
        warnings: Vec::new(),
    };
    for plan in plans {
        merged.steps.extend(plan.steps);
        for path in plan.exclude_paths {
            if !merged.exclude_paths.contains(&path) {
                merged.exclude_paths.push(path);
            }
        }
        for path in plan.database_paths {
            if !merged.database_paths.contains(&path) {
                merged.database_paths.push(path);
            }
        }
        merged.warnings.extend(plan.warnings);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(path: &str) -> PackageUpdate {
        PackageUpdate {
            package: "urllib3".into(),
            class: PackageClass::Library,
            package_type: "python-pkg".into(),
            path: Some(path.into()),
            installed_version: "1.26.5".into(),
            fixed_version: "1.26.20".into(),
            vulnerabilities: Vec::new(),
            other_fixed_versions: Vec::new(),
        }
    }

    #[test]
    fn a_plugin_may_name_only_registry_images_off_this_machine() {
        for allowed in [
            "debian:bookworm-slim",
            "docker://mcr.microsoft.com/azurelinux/base/core:3.0",
            "registry.example:5000/tools/dnf@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            check_plugin_tooling_image("dpkg", allowed).unwrap();
        }
        for (refused, why) in [
            ("oci:/etc", "not in a registry"),
            ("oci-archive:/root/image.tar", "not in a registry"),
            ("docker-archive:/tmp/x.tar", "not in a registry"),
            ("docker-daemon:debian:12", "not in a registry"),
            ("localhost:5000/tools:1", "loopback registry localhost:5000"),
            ("127.0.0.1:5000/tools:1", "loopback registry 127.0.0.1:5000"),
            ("[::1]:5000/tools:1", "loopback registry [::1]:5000"),
            ("ftp://example/x", "not an image name"),
        ] {
            let error = check_plugin_tooling_image("dpkg", refused)
                .unwrap_err()
                .to_string();
            assert!(error.contains(why), "{refused}: {error}");
            assert!(error.contains("--tooling-image"), "{error}");
        }
    }

    #[test]
    fn a_library_lives_in_the_folder_above_its_metadata() {
        for path in [
            "usr/local/lib/python3.11/dist-packages/urllib3-1.26.5.dist-info/METADATA",
            "/usr/local/lib/python3.11/dist-packages/urllib3-1.26.5.dist-info",
            "/usr/local/lib/python3.11/dist-packages/",
        ] {
            assert_eq!(
                location(&library(path)).as_deref(),
                Some("/usr/local/lib/python3.11/dist-packages"),
                "{path}"
            );
        }
        let mut os = library("x");
        os.class = PackageClass::Os;
        assert_eq!(location(&os), None);
    }
}
