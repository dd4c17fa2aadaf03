//! Moving images between any transport and a working OCI layout: `fetch` brings an image in,
//! `deliver` sends one out. Everything salve does to an image happens in the working layout.
//! Registries and docker archives get manifests as they are; `oci:` and `oci-archive:` targets
//! get Docker v2 manifests turned into OCI ones, since OCI tools read only those there.

use super::error::TransportError;
use super::name::Transport;
use super::reference::ImageReference;
use super::remote::{PlatformChoice, RegistryClient, RegistryOptions};
use super::{docker_archive, docker_daemon, oci_archive};
use crate::image::convert::to_oci;
use crate::image::layout::OciLayout;
use crate::image::manifest::Descriptor;

/// The tag an `oci:` or `oci-archive:` destination gets when it names none.
pub const DEFAULT_TAG: &str = "latest";

/// Brings the image `source` names into `work`, tagged `work_tag`; returns its descriptor (an
/// index only for a registry or layout image pulled with [`PlatformChoice::All`]).
pub async fn fetch(
    source: &Transport,
    choice: &PlatformChoice,
    work: &OciLayout,
    work_tag: &str,
    options: &RegistryOptions,
) -> Result<Descriptor, TransportError> {
    match source {
        Transport::Registry(reference) => {
            let client = RegistryClient::new(&[reference], options)?;
            Ok(client.pull(reference, choice, work, work_tag).await?)
        }
        Transport::OciLayout { dir, tag } => {
            let layout = OciLayout::open(dir)?;
            let descriptor = layout.resolve(tag.as_deref())?;
            work.import(&layout, &descriptor, work_tag)?;
            Ok(work.resolve(Some(work_tag))?)
        }
        Transport::OciArchive { file, tag } => {
            oci_archive::read(file, tag.as_deref(), work, work_tag)
        }
        Transport::DockerArchive { file, reference } => {
            let reference = reference.as_ref().map(ToString::to_string);
            docker_archive::read(file, reference.as_deref(), work, work_tag)
        }
        Transport::DockerDaemon(reference) => {
            docker_daemon::read(&reference.to_string(), work, work_tag)
        }
    }
}

/// Sends the image tagged `work_tag` in `work` to `target`; `mount_from` names the registry
/// image it came from, whose blobs a registry on the same host can mount instead of receiving.
/// Returns the digest of the manifest (or index) delivered.
pub async fn deliver(
    work: &OciLayout,
    work_tag: &str,
    target: &Transport,
    mount_from: Option<&ImageReference>,
    options: &RegistryOptions,
) -> Result<String, TransportError> {
    let descriptor = work.resolve(Some(work_tag))?;
    match target {
        Transport::Registry(reference) => {
            let client = RegistryClient::new(&[reference], options)?;
            Ok(client.push(work, work_tag, reference, mount_from).await?)
        }
        Transport::OciLayout { dir, tag } => {
            let oci = to_oci(work, &descriptor)?;
            let layout = OciLayout::open_or_create(dir)?;
            layout.import(work, &oci, tag.as_deref().unwrap_or(DEFAULT_TAG))?;
            Ok(oci.digest)
        }
        Transport::OciArchive { file, tag } => {
            let oci = to_oci(work, &descriptor)?;
            oci_archive::write(work, &oci, file, tag.as_deref().unwrap_or(DEFAULT_TAG))?;
            Ok(oci.digest)
        }
        Transport::DockerArchive { file, reference } => {
            let reference = reference.as_ref().map(ToString::to_string);
            docker_archive::write(work, work_tag, file, reference.as_deref())?;
            Ok(descriptor.digest)
        }
        Transport::DockerDaemon(reference) => {
            docker_daemon::write(work, work_tag, &reference.to_string())?;
            Ok(descriptor.digest)
        }
    }
}
