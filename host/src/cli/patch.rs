//! `salve patch`: patch an image's vulnerable packages (copa's flags and defaults, so its users
//! can switch by changing the binary's name).

use super::options::PluginOptions;
use super::run_args::RunArgs;
use crate::image::Compression;
use crate::patch::Delivery;
use crate::transport::Transport;
use anyhow::bail;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Arguments of `salve patch`.
#[derive(Debug, Args)]
pub struct PatchArgs {
    /// The image, the report, the engine.
    #[command(flatten)]
    run: RunArgs,

    /// The patched image's tag (or a full image name) [default: the input's tag with
    /// `-SUFFIX`].
    #[arg(short, long, value_name = "TAG")]
    tag: Option<String>,

    /// The suffix added to the input's tag when --tag is not given.
    #[arg(long, value_name = "SUFFIX", default_value = "patched")]
    tag_suffix: String,

    /// Push the patched image to the input's registry.
    #[arg(long, conflicts_with_all = ["oci_dir", "output_image"])]
    push: bool,

    /// Write the patched image into this OCI layout folder.
    #[arg(long, value_name = "DIR", conflicts_with = "output_image")]
    oci_dir: Option<PathBuf>,

    /// Load the patched image into this engine when neither --push nor --oci-dir is given.
    #[arg(short, long, value_name = "LOADER", default_value = "docker")]
    loader: Loader,

    /// Write the patched image here, in any transport's notation (overrides the naming flags).
    #[arg(long, value_name = "TRANSPORT:REF")]
    output_image: Option<Transport>,

    /// Write an OpenVEX document of the vulnerabilities fixed to this file.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// The VEX document's format.
    #[arg(short, long, value_name = "FORMAT", default_value = "openvex")]
    format: VexFormat,

    /// The patch layer's compression.
    #[arg(long, value_name = "FORMAT", default_value = "gzip")]
    compression: LayerCompression,
}

/// Where a patched image is loaded.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Loader {
    /// The Docker engine at $DOCKER_HOST or /var/run/docker.sock.
    Docker,
}

/// VEX formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum VexFormat {
    /// OpenVEX 0.2.0.
    Openvex,
}

/// Layer compressions.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum LayerCompression {
    /// gzip, read everywhere.
    Gzip,
    /// zstd (OCI manifests only).
    Zstd,
}

/// Runs `salve patch`.
pub fn run(args: PatchArgs, plugin_options: &PluginOptions) -> anyhow::Result<()> {
    let engine = args.run.engine_or_reexec(plugin_options)?;
    let output = output_of(&args)?;
    if let Transport::DockerDaemon(_) = &output {
        crate::transport::docker_daemon::check_reachable().map_err(|error| {
            anyhow::anyhow!(
                "{error}\n(the patched image would be loaded there; write it elsewhere with \
                 --push, --oci-dir or --output-image)"
            )
        })?;
    }
    let delivery = Delivery::Image {
        output,
        vex: args.output.clone(),
        compression: match args.compression {
            LayerCompression::Gzip => Compression::Gzip,
            LayerCompression::Zstd => Compression::Zstd,
        },
    };
    args.run.execute(engine, delivery, plugin_options)?;
    Ok(())
}

/// Where the patched image goes, from the naming flags as copa reads them.
fn output_of(args: &PatchArgs) -> anyhow::Result<Transport> {
    if let Some(output) = &args.output_image {
        return Ok(output.clone());
    }
    let (repository, input_tag) = args.run.image.name_and_tag();
    let reference = match &args.tag {
        Some(tag) if tag.contains('/') || tag.contains(':') => tag.clone(),
        Some(tag) => format!("{repository}:{tag}"),
        None => {
            let Some(input_tag) = input_tag else {
                bail!(
                    "the input image has no tag to add -{} to; name the output with --tag",
                    args.tag_suffix
                );
            };
            format!("{repository}:{input_tag}-{}", args.tag_suffix)
        }
    };
    let tag = reference.rsplit_once(':').map(|(_, tag)| tag.to_string());
    Ok(if args.push {
        Transport::Registry(reference.parse()?)
    } else if let Some(dir) = &args.oci_dir {
        Transport::OciLayout {
            dir: dir.clone(),
            tag,
        }
    } else {
        match args.loader {
            Loader::Docker => Transport::DockerDaemon(reference.parse()?),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: PatchArgs,
    }

    fn output(line: &[&str]) -> anyhow::Result<Transport> {
        let mut argv = vec!["salve"];
        argv.extend_from_slice(line);
        output_of(&Wrapper::try_parse_from(argv).unwrap().args)
    }

    #[test]
    fn outputs_are_named_as_copa_names_them() {
        assert_eq!(
            output(&["-i", "127.0.0.1:5000/app:1.0", "--push"]).unwrap(),
            Transport::Registry("127.0.0.1:5000/app:1.0-patched".parse().unwrap())
        );
        assert_eq!(
            output(&["-i", "app:1.0", "-t", "fixed"]).unwrap(),
            Transport::DockerDaemon("app:fixed".parse().unwrap())
        );
        assert_eq!(
            output(&["-i", "app", "--tag-suffix", "s", "--push"]).unwrap(),
            Transport::Registry("app:latest-s".parse().unwrap())
        );
        assert_eq!(
            output(&["-i", "oci:/tmp/img:v1", "--oci-dir", "/tmp/out"]).unwrap(),
            Transport::OciLayout {
                dir: "/tmp/out".into(),
                tag: Some("v1-patched".into())
            }
        );
        let by_digest = format!("app@sha256:{}", "a".repeat(64));
        assert!(
            output(&["-i", &by_digest, "--push"])
                .unwrap_err()
                .to_string()
                .contains("--tag")
        );
        assert_eq!(
            output(&["-i", "app:1", "--output-image", "oci-archive:/tmp/x.tar:t"]).unwrap(),
            Transport::OciArchive {
                file: "/tmp/x.tar".into(),
                tag: Some("t".into())
            }
        );
    }
}
