//! `salve copy SOURCE TARGET`: moves an image between transports through a working layout, the
//! way `skopeo copy` does, keeping manifests and blobs byte for byte where the target allows.

use super::registry_options::RegistryArgs;
use crate::image::OciLayout;
use crate::transport::{PlatformChoice, Transport, deliver, fetch};
use anyhow::Context;
use clap::Args;

/// Arguments of `salve copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Where the image comes from (`REF`, `docker://REF`, `oci:DIR[:TAG]`,
    /// `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]`, `docker-daemon:REF`).
    source: Transport,

    /// Where it goes, in the same notation.
    target: Transport,

    /// From a multi-platform image, copy only this platform (`os/arch[/variant]`); by
    /// default every platform is copied.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,

    /// How registries are reached.
    #[command(flatten)]
    registry: RegistryArgs,
}

/// The working layout's tag for the image being copied.
const WORK_TAG: &str = "copy";

/// Runs `salve copy`.
pub fn run(args: CopyArgs) -> anyhow::Result<()> {
    let work_dir = tempfile::tempdir().context("creating a working folder")?;
    let work = OciLayout::open_or_create(work_dir.path())?;
    let choice = match &args.platform {
        Some(platform) => PlatformChoice::One(platform.clone()),
        None => PlatformChoice::All,
    };
    let options = args.registry.options();
    let mount_from = match &args.source {
        Transport::Registry(reference) => Some(reference),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    let digest = runtime.block_on(async {
        fetch(&args.source, &choice, &work, WORK_TAG, &options)
            .await
            .with_context(|| format!("reading {}", args.source))?;
        deliver(&work, WORK_TAG, &args.target, mount_from, &options)
            .await
            .with_context(|| format!("writing {}", args.target))
    })?;
    super::emit(&format!("{digest}\n"))?;
    Ok(())
}
