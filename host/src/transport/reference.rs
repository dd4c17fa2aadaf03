//! An image reference, `[registry/]repository[:tag][@digest]`, parsed once where it enters salve
//! (with Docker Hub's implied parts, as Docker reads it) and kept as the user wrote it for
//! messages and names.

use oci_client::Reference;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageReference {
    /// As written.
    written: String,
    /// Parsed, with Docker Hub's implied registry, `library/` and `latest` tag added.
    parsed: Reference,
}

/// Why a text is not an image reference.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{text:?} is not an image reference: {reason}")]
pub struct ReferenceError {
    /// The text.
    pub text: String,
    /// Why.
    pub reason: String,
}

impl FromStr for ImageReference {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<ImageReference, ReferenceError> {
        let parsed = text
            .parse()
            .map_err(|error: oci_client::ParseError| ReferenceError {
                text: text.to_string(),
                reason: error.to_string(),
            })?;
        Ok(ImageReference {
            written: text.to_string(),
            parsed,
        })
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl ImageReference {
    /// The reference as the registry client takes it.
    pub fn oci(&self) -> &Reference {
        &self.parsed
    }

    /// The registry (`host[:port]`; `docker.io` when none is written).
    pub fn registry(&self) -> &str {
        self.parsed.registry()
    }

    /// The reference with Docker Hub's implied parts added (`debian` →
    /// `docker.io/library/debian:latest`), so that two ways of writing one image compare equal
    /// and BuildKit, which wants them, gets them.
    pub fn full(&self) -> String {
        self.parsed.whole()
    }

    /// The repository as written (without tag or digest), and the tag: the one written,
    /// `latest` when none is, or none when the image is named by digest alone.
    pub fn name_and_tag(&self) -> (String, Option<String>) {
        let without_digest = self
            .written
            .split_once('@')
            .map_or(self.written.as_str(), |(name, _)| name);
        let name = match without_digest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => name,
            _ => without_digest,
        };
        (name.to_string(), self.parsed.tag().map(str::to_string))
    }
}

/// True when two image names (from a file: a source policy, an archive's tags) name the same
/// image once Docker Hub's implied parts are added; names that do not parse compare as written.
pub fn same_image(a: &str, b: &str) -> bool {
    match (a.parse::<ImageReference>(), b.parse::<ImageReference>()) {
        (Ok(a), Ok(b)) => a.full() == b.full(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(text: &str) -> ImageReference {
        text.parse().unwrap()
    }

    #[test]
    fn docker_hub_names_get_their_implied_parts() {
        assert_eq!(
            reference("debian").full(),
            "docker.io/library/debian:latest"
        );
        assert_eq!(reference("me/app:1").full(), "docker.io/me/app:1");
        let digest = format!("127.0.0.1:5000/app@sha256:{}", "a".repeat(64));
        assert_eq!(reference(&digest).registry(), "127.0.0.1:5000");
        assert_eq!(reference("localhost/app").full(), "localhost/app:latest");
        assert!(same_image("debian:12", "docker.io/library/debian:12"));
        assert!(!same_image("debian:12", "debian:11"));
        assert_eq!(
            reference("debian").to_string(),
            "debian",
            "shown as written"
        );
    }

    #[test]
    fn names_and_tags_come_from_what_was_written() {
        assert_eq!(
            reference("127.0.0.1:5000/app:1.0").name_and_tag(),
            ("127.0.0.1:5000/app".into(), Some("1.0".into()))
        );
        assert_eq!(
            reference("debian").name_and_tag(),
            ("debian".into(), Some("latest".into()))
        );
        let digest = format!("app@sha256:{}", "a".repeat(64));
        assert_eq!(reference(&digest).name_and_tag(), ("app".into(), None));
        assert!("not a reference".parse::<ImageReference>().is_err());
    }
}
