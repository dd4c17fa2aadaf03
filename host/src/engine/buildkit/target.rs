//! The images as BuildKit pulls them: the target (by digest from its registry, by name from
//! the Docker daemon BuildKit belongs to, or loaded into that daemon for the run) and the tooling
//! image (from a registry).

use super::address::Address;
use super::random_id;
use crate::engine::Job;
use crate::image::OciLayout;
use crate::image::manifest::Descriptor;
use crate::transport::docker_daemon::{self, TemporaryImage};
use crate::transport::{ImageReference, Transport};
use anyhow::{Context, bail};

/// The working layout's tag for a platform image loaded into Docker for BuildKit.
const LOAD_TAG: &str = "buildkit-input";

/// The target as BuildKit pulls it (fully qualified, as BuildKit requires), and the image
/// loaded into Docker for it, removed from Docker when dropped.
pub fn target(
    job: &Job<'_>,
    address: &Address,
) -> anyhow::Result<(String, Option<TemporaryImage>)> {
    match (job.source, address) {
        (Transport::Registry(reference), _) => {
            let oci = reference.oci();
            let digest = &job.target.descriptor.digest;
            Ok((
                format!("{}/{}@{digest}", oci.registry(), oci.repository()),
                None,
            ))
        }
        (Transport::DockerDaemon(name), Address::Docker(socket))
            if *socket == docker_daemon::socket_path() =>
        {
            Ok((name.full(), None))
        }
        (_, Address::Docker(socket)) => {
            let image = TemporaryImage::new(socket, format!("salve-input:{}", random_id()));
            load(job.layout, &job.target.descriptor, socket, &image)?;
            let name: ImageReference = image.name.parse()?;
            Ok((name.full(), Some(image)))
        }
        (image, address) => bail!(
            "BuildKit at {address} pulls the image it patches from a registry, and {image} is \
             not in one: push it to a registry the daemon reaches, use Docker's BuildKit \
             (--addr docker://), or patch with the local engine (no --addr)"
        ),
    }
}

/// Loads the platform image `manifest` names into the Docker daemon at `socket` as `image`.
fn load(
    layout: &OciLayout,
    manifest: &Descriptor,
    socket: &std::path::Path,
    image: &TemporaryImage,
) -> anyhow::Result<()> {
    layout.tag(LOAD_TAG, manifest)?;
    docker_daemon::write_to(socket, layout, LOAD_TAG, &image.name)
        .context("loading the image into Docker for its BuildKit")
}

/// A tooling image as BuildKit pulls it: a registry reference.
pub fn tooling(image: &str) -> anyhow::Result<String> {
    match image.parse::<Transport>()? {
        Transport::Registry(reference) => Ok(reference.full()),
        other => bail!(
            "the tooling image {other} is not in a registry; BuildKit pulls tooling images \
             from registries (a source policy can point it at a mirror)"
        ),
    }
}
