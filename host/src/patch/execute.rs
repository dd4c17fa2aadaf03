//! Step 5 of the flow: the plan run on the chosen engine, and its changes written as the patch
//! layer. The local engine gets the images' layers (a tooling image is pulled here); BuildKit
//! gets references it can pull itself, with an image that lives in no registry loaded into
//! Docker first when the daemon is Docker's.

use super::{PlatformRun, fetch, within};
use crate::engine::buildkit::{self, Daemon, address::Address};
use crate::engine::{Changes, EngineChoice, Executed, Execution, ImageLayers, local, read_image};
use crate::image::digest::sha256;
use crate::image::{LayerOptions, WrittenLayer, squash, write_layer};
use crate::plugin::types::{Platform, UpdatePlan};
use crate::transport::docker_daemon::{self, TemporaryImage};
use crate::transport::name::full_reference;
use crate::transport::{PlatformChoice, Transport};
use anyhow::{Context, bail};
use std::path::Path;

/// The working layout's tag for a platform image loaded into Docker for BuildKit.
const LOAD_TAG: &str = "buildkit-input";

/// Runs the plan on the engine the options choose.
pub(super) async fn execute(
    run: &PlatformRun<'_>,
    target: &ImageLayers,
    platform: &Platform,
    tooling_image: Option<&str>,
    plan: &UpdatePlan,
) -> anyhow::Result<Executed> {
    let progress = run.options.progress;
    let platform_name = crate::report::platform_string(platform);
    match &run.options.engine {
        EngineChoice::Local(options) => {
            let tooling = match tooling_image {
                Some(image) => Some(tooling_layers(run, image, &platform_name).await?),
                None => None,
            };
            progress.stage(
                "execute",
                &format!(
                    "{platform_name}: running {} step(s) in the image",
                    plan.steps.len()
                ),
            );
            let interrupted = run.options.interrupted.clone();
            local::run(&Execution {
                target,
                tooling: tooling.as_ref(),
                architecture: &platform.architecture,
                plan,
                options: *options,
                cache: run.cache,
                work: run.work,
                deadline: run.deadline,
                interrupted: &interrupted,
                database_cap: run.database_cap,
            })
        }
        EngineChoice::Buildkit(daemon) => {
            let tooling = tooling_image.map(registry_reference).transpose()?;
            std::fs::create_dir_all(run.work)?;
            // A loaded image stays in Docker until the run is over (or dropped on Ctrl-C).
            let (reference, _loaded) = buildkit_target(run, daemon)?;
            progress.stage(
                "execute",
                &format!(
                    "{platform_name}: running {} step(s) on BuildKit at {}",
                    plan.steps.len(),
                    daemon.address
                ),
            );
            buildkit::run(&buildkit::Job {
                daemon,
                target: &reference,
                tooling: tooling.as_deref(),
                platform,
                base_blobs: &target.blobs,
                base_diff_ids: &target.diff_ids,
                plan,
                layout: run.layout,
                work: run.work,
                deadline: run.deadline,
                progress,
                database_cap: run.database_cap,
            })
            .await
        }
    }
}

/// Writes the changes as one layer.
pub(super) fn write_patch_layer(
    changes: &Changes,
    blob: &Path,
    options: &LayerOptions,
) -> anyhow::Result<WrittenLayer> {
    let out = std::fs::File::create(blob)?;
    Ok(match changes {
        Changes::Upper(upper) => write_layer(upper, out, options)?,
        Changes::Layers {
            layers,
            mount_points,
        } => {
            let layers: Vec<&Path> = layers.iter().map(|layer| layer.as_path()).collect();
            squash(
                &layers,
                &|path| mount_points.contains(path),
                out,
                options.compression,
                options.threads,
            )?
        }
    })
}

/// The target as BuildKit pulls it (fully qualified, as BuildKit requires), and the image
/// loaded into Docker for it: a registry image by digest; an image of the Docker daemon BuildKit
/// belongs to by name; any other image loaded into that daemon.
fn buildkit_target(
    run: &PlatformRun<'_>,
    daemon: &Daemon,
) -> anyhow::Result<(String, Option<TemporaryImage>)> {
    match (&run.options.image, &daemon.address) {
        (Transport::Registry(reference), _) => {
            let (repository, _) = Transport::Registry(full_reference(reference)).name_and_tag();
            Ok((format!("{repository}@{}", run.manifest.digest), None))
        }
        (Transport::DockerDaemon(name), Address::Docker(socket))
            if *socket == docker_daemon::socket_path() =>
        {
            Ok((full_reference(name), None))
        }
        (_, Address::Docker(socket)) => {
            let image =
                TemporaryImage::new(socket, format!("salve-input:{}", buildkit::random_id()));
            run.layout.tag(LOAD_TAG, run.manifest)?;
            docker_daemon::write_to(socket, run.layout, LOAD_TAG, &image.name)
                .context("loading the image into Docker for its BuildKit")?;
            Ok((full_reference(&image.name), Some(image)))
        }
        (image, address) => bail!(
            "BuildKit at {address} pulls the image it patches from a registry, and {image} is \
             not in one: push it to a registry the daemon reaches, use Docker's BuildKit \
             (--addr docker://), or patch with the local engine (no --addr)"
        ),
    }
}

/// A tooling image as BuildKit pulls it: a registry reference.
fn registry_reference(image: &str) -> anyhow::Result<String> {
    match image.parse::<Transport>()? {
        Transport::Registry(reference) => Ok(full_reference(&reference)),
        other => bail!(
            "the tooling image {other} is not in a registry; BuildKit pulls tooling images \
             from registries (a source policy can point it at a mirror)"
        ),
    }
}

/// Pulls a tooling image for the platform into the working layout (for the local engine).
async fn tooling_layers(
    run: &PlatformRun<'_>,
    image: &str,
    platform: &str,
) -> anyhow::Result<ImageLayers> {
    run.options.progress.stage(
        "tooling",
        &format!("{platform}: reading tooling image {image}"),
    );
    let transport: Transport = image.parse()?;
    let tag = format!(
        "tooling-{}",
        sha256(image.as_bytes()).trim_start_matches("sha256:")
    );
    let descriptor = within(
        run.deadline,
        fetch(
            &transport,
            &PlatformChoice::One(platform.to_string()),
            run.layout,
            &tag,
            &run.options.registry,
        ),
    )
    .await?
    .with_context(|| format!("reading the tooling image {image}"))?;
    let (manifest, config) = read_image(run.layout, &descriptor)?;
    ImageLayers::of(run.layout, &manifest, &config)
}
