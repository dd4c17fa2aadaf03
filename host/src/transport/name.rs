//! Image names with their transport, written the way skopeo users know them:
//! `REF` or `docker://REF` (a registry), `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
//! `docker-archive:FILE[:REF]`, `docker-daemon:REF`.

use super::reference::{ImageReference, ReferenceError};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use thiserror::Error;

/// Why a text does not name an image with its transport.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TransportNameError {
    /// The transport's prefix is there, but not what it needs after it.
    #[error("{text:?} names no {missing}")]
    Empty {
        /// The text.
        text: String,
        /// What is missing: `image`, `folder` or `file`.
        missing: &'static str,
    },
    /// What names the image is not an image reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// A `scheme://` salve does not know.
    #[error(
        "unknown transport {scheme:?} in {text:?}: use docker://, oci:, oci-archive:, \
         docker-archive: or docker-daemon:"
    )]
    UnknownScheme {
        /// The text.
        text: String,
        /// The scheme it names.
        scheme: String,
    },
}

/// Where an image is read from or written to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A registry reference: `registry/repository[:tag][@digest]`.
    Registry(ImageReference),
    /// An OCI image layout folder, and the tag inside it.
    OciLayout {
        /// The folder.
        dir: PathBuf,
        /// The tag, if given.
        tag: Option<String>,
    },
    /// An OCI image layout in a tar file, and the tag inside it.
    OciArchive {
        /// The file.
        file: PathBuf,
        /// The tag, if given.
        tag: Option<String>,
    },
    /// A `docker save` tar file, and the image reference inside it.
    DockerArchive {
        /// The file.
        file: PathBuf,
        /// The reference, if given.
        reference: Option<ImageReference>,
    },
    /// An image in the local Docker daemon.
    DockerDaemon(ImageReference),
}

impl FromStr for Transport {
    type Err = TransportNameError;

    fn from_str(text: &str) -> Result<Transport, TransportNameError> {
        let empty = |missing: &'static str| TransportNameError::Empty {
            text: text.to_string(),
            missing,
        };
        if let Some(reference) = text.strip_prefix("docker://") {
            return registry(reference, empty);
        }
        if let Some(rest) = text.strip_prefix("oci:") {
            let (path, tag) = split_tag(rest);
            if path.is_empty() {
                return Err(empty("folder"));
            }
            return Ok(Transport::OciLayout {
                dir: PathBuf::from(path),
                tag,
            });
        }
        if let Some(rest) = text.strip_prefix("oci-archive:") {
            let (path, tag) = split_tag(rest);
            if path.is_empty() {
                return Err(empty("file"));
            }
            return Ok(Transport::OciArchive {
                file: PathBuf::from(path),
                tag,
            });
        }
        if let Some(rest) = text.strip_prefix("docker-archive:") {
            // The reference after the file may itself hold a `:` (`app:latest`).
            let (path, reference) = match rest.split_once(':') {
                Some((path, reference)) if !reference.is_empty() => {
                    (path, Some(reference.parse::<ImageReference>()?))
                }
                Some((path, _)) => (path, None),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(empty("file"));
            }
            return Ok(Transport::DockerArchive {
                file: PathBuf::from(path),
                reference,
            });
        }
        if let Some(reference) = text.strip_prefix("docker-daemon:") {
            if reference.is_empty() {
                return Err(empty("image"));
            }
            return Ok(Transport::DockerDaemon(reference.parse()?));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(TransportNameError::UnknownScheme {
                text: text.to_string(),
                scheme: scheme.to_string(),
            });
        }
        registry(text, empty)
    }
}

impl Transport {
    /// The image's repository name and tag, for naming what is made from it: a reference's
    /// name without tag or digest, or a file's or folder's name without extension; the tag given
    /// (`latest` when none is, or none when the image is named by digest alone).
    pub fn name_and_tag(&self) -> (String, Option<String>) {
        let stem = |path: &std::path::Path| {
            path.file_stem()
                .map_or_else(|| "image".to_string(), |s| s.to_string_lossy().into_owned())
        };
        let or_latest = |tag: &Option<String>| Some(tag.clone().unwrap_or_else(|| "latest".into()));
        match self {
            Transport::Registry(reference) | Transport::DockerDaemon(reference) => {
                reference.name_and_tag()
            }
            Transport::DockerArchive {
                reference: Some(reference),
                ..
            } => reference.name_and_tag(),
            Transport::OciLayout { dir, tag } => (stem(dir), or_latest(tag)),
            Transport::OciArchive { file, tag } => (stem(file), or_latest(tag)),
            Transport::DockerArchive { file, .. } => (stem(file), Some("latest".into())),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with = |prefix: &str, path: &PathBuf, suffix: Option<String>| match suffix {
            Some(suffix) => format!("{prefix}:{}:{suffix}", path.display()),
            None => format!("{prefix}:{}", path.display()),
        };
        match self {
            Transport::Registry(reference) => write!(f, "docker://{reference}"),
            Transport::OciLayout { dir, tag } => f.write_str(&with("oci", dir, tag.clone())),
            Transport::OciArchive { file, tag } => {
                f.write_str(&with("oci-archive", file, tag.clone()))
            }
            Transport::DockerArchive { file, reference } => f.write_str(&with(
                "docker-archive",
                file,
                reference.as_ref().map(ToString::to_string),
            )),
            Transport::DockerDaemon(reference) => write!(f, "docker-daemon:{reference}"),
        }
    }
}

/// A registry reference; `empty` is the error when there is none.
fn registry(
    reference: &str,
    empty: impl Fn(&'static str) -> TransportNameError,
) -> Result<Transport, TransportNameError> {
    if reference.is_empty() {
        return Err(empty("image"));
    }
    Ok(Transport::Registry(reference.parse()?))
}

/// `PATH[:TAG]`: the tag is what follows the last `:` when no `/` follows it.
fn split_tag(text: &str) -> (&str, Option<String>) {
    match text.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') && !tag.is_empty() => (path, Some(tag.to_string())),
        _ => (text, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digest of the right length.
    const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn parse(text: &str) -> Transport {
        text.parse().unwrap()
    }

    fn reference(text: &str) -> ImageReference {
        text.parse().unwrap()
    }

    #[test]
    fn reads_every_transport_as_skopeo_writes_it() {
        assert_eq!(
            parse("nginx:1.25"),
            Transport::Registry(reference("nginx:1.25"))
        );
        assert_eq!(
            parse(&format!("docker://127.0.0.1:5000/app@{DIGEST}")),
            Transport::Registry(reference(&format!("127.0.0.1:5000/app@{DIGEST}")))
        );
        assert_eq!(
            parse("oci:/tmp/layout:patched"),
            Transport::OciLayout {
                dir: "/tmp/layout".into(),
                tag: Some("patched".into())
            }
        );
        assert_eq!(
            parse("oci:./layout"),
            Transport::OciLayout {
                dir: "./layout".into(),
                tag: None
            }
        );
        assert_eq!(
            parse("oci-archive:image.tar:v1"),
            Transport::OciArchive {
                file: "image.tar".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            parse("docker-archive:/tmp/app.tar"),
            Transport::DockerArchive {
                file: "/tmp/app.tar".into(),
                reference: None
            }
        );
        assert_eq!(
            parse("docker-archive:/tmp/app.tar:app:latest"),
            Transport::DockerArchive {
                file: "/tmp/app.tar".into(),
                reference: Some(reference("app:latest"))
            }
        );
        assert_eq!(
            parse("docker-daemon:app:latest"),
            Transport::DockerDaemon(reference("app:latest"))
        );
    }

    #[test]
    fn names_and_tags_come_from_references_and_paths() {
        let name = |text: &str| parse(text).name_and_tag();
        assert_eq!(
            name("127.0.0.1:5000/app:1"),
            ("127.0.0.1:5000/app".into(), Some("1".into()))
        );
        assert_eq!(
            name("127.0.0.1:5000/app"),
            ("127.0.0.1:5000/app".into(), Some("latest".into()))
        );
        assert_eq!(name(&format!("app@{DIGEST}")), ("app".into(), None));
        assert_eq!(
            name(&format!("app:1@{DIGEST}")),
            ("app".into(), Some("1".into()))
        );
        assert_eq!(name("oci:/tmp/img:v1"), ("img".into(), Some("v1".into())));
        assert_eq!(
            name("oci-archive:/tmp/img.tar"),
            ("img".into(), Some("latest".into()))
        );
        assert_eq!(
            name("docker-archive:/tmp/a.tar"),
            ("a".into(), Some("latest".into()))
        );
    }

    #[test]
    fn names_round_trip_through_display() {
        for text in [
            "docker://nginx:1.25",
            "oci:/tmp/layout:patched",
            "docker-daemon:app:latest",
        ] {
            assert_eq!(parse(text).to_string(), text);
        }
    }

    #[test]
    fn bad_names_are_clear_errors() {
        assert!(
            "oci:"
                .parse::<Transport>()
                .unwrap_err()
                .to_string()
                .contains("names no folder")
        );
        assert!(
            "s3://bucket/x"
                .parse::<Transport>()
                .unwrap_err()
                .to_string()
                .contains("unknown transport \"s3\"")
        );
        assert!("docker://".parse::<Transport>().is_err());
        assert!("has space".parse::<Transport>().is_err());
    }
}
