//! Which tooling image to use: copa's source policy (`EXPERIMENTAL_BUILDKIT_SOURCE_POLICY` names a
//! JSON file of `rules`, each `CONVERT`ing images whose `selector.identifier` matches into
//! `updates.identifier`), and a plain `--tooling-image` override. Identifiers are written
//! `docker-image://NAME`; a selector may end in `*` to match by prefix. Digests are allowed.

use crate::transport::reference::same_image;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a source policy cannot be used.
#[derive(Debug, Error)]
pub enum SourcePolicyError {
    /// The file could not be read.
    #[error("source policy {}: {error}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not a policy.
    #[error("source policy {}: {error}", file.display())]
    NotJson {
        /// The file.
        file: PathBuf,
        /// Why.
        error: serde_json::Error,
    },
    /// A rule salve does not apply.
    #[error(
        "source policy {}: rule {number} is {action:?}; salve applies CONVERT rules with an \
         `updates` identifier",
        file.display()
    )]
    Rule {
        /// The file.
        file: PathBuf,
        /// The rule's number, from 1.
        number: usize,
        /// Its action.
        action: String,
    },
}

/// The environment variable copa users set to the policy file.
pub const POLICY_VARIABLE: &str = "EXPERIMENTAL_BUILDKIT_SOURCE_POLICY";

/// A parsed policy.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SourcePolicy {
    /// The rules, applied in order; the first that matches wins.
    #[serde(default)]
    rules: Vec<Rule>,
}

/// One rule.
#[derive(Clone, Debug, Deserialize)]
struct Rule {
    /// `CONVERT` (other actions are refused when the policy is read).
    action: String,
    /// Which images it applies to.
    selector: Identifier,
    /// What to use instead.
    #[serde(default)]
    updates: Option<Identifier>,
}

/// `{"identifier": "docker-image://…"}`.
#[derive(Clone, Debug, Deserialize)]
struct Identifier {
    /// The image, with its `docker-image://` scheme.
    identifier: String,
}

/// The scheme BuildKit gives image identifiers.
const SCHEME: &str = "docker-image://";

impl SourcePolicy {
    /// Reads a policy file, refusing rules salve cannot apply.
    pub fn read(path: &Path) -> Result<SourcePolicy, SourcePolicyError> {
        let file = || path.to_path_buf();
        let text = std::fs::read_to_string(path).map_err(|error| SourcePolicyError::Read {
            file: file(),
            error,
        })?;
        let policy: SourcePolicy =
            serde_json::from_str(&text).map_err(|error| SourcePolicyError::NotJson {
                file: file(),
                error,
            })?;
        for (index, rule) in policy.rules.iter().enumerate() {
            if !rule.action.eq_ignore_ascii_case("CONVERT") || rule.updates.is_none() {
                return Err(SourcePolicyError::Rule {
                    file: file(),
                    number: index + 1,
                    action: rule.action.clone(),
                });
            }
        }
        Ok(policy)
    }

    /// The policy named by `$EXPERIMENTAL_BUILDKIT_SOURCE_POLICY`, if set.
    pub fn from_environment() -> Result<Option<SourcePolicy>, SourcePolicyError> {
        match std::env::var_os(POLICY_VARIABLE) {
            Some(path) if !path.is_empty() => SourcePolicy::read(Path::new(&path)).map(Some),
            _ => Ok(None),
        }
    }

    /// The image to use for `image` (a reference without scheme).
    pub fn apply(&self, image: &str) -> String {
        for rule in &self.rules {
            let selector = rule.selector.identifier.trim_start_matches(SCHEME);
            let matches = match selector.strip_suffix('*') {
                Some(prefix) => image.starts_with(prefix),
                None => same_image(selector, image),
            };
            if let (true, Some(updates)) = (matches, &rule.updates) {
                return updates.identifier.trim_start_matches(SCHEME).to_string();
            }
        }
        image.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Result<SourcePolicy, SourcePolicyError> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        SourcePolicy::read(file.path())
    }

    #[test]
    fn convert_rules_replace_matching_images() {
        let policy = policy(
            r#"{"rules":[
              {"action":"CONVERT","selector":{"identifier":"docker-image://docker.io/library/debian:12-slim"},
               "updates":{"identifier":"docker-image://127.0.0.1:5000/debian@sha256:aa"}},
              {"action":"CONVERT","selector":{"identifier":"docker-image://docker.io/library/python:*"},
               "updates":{"identifier":"docker-image://127.0.0.1:5000/python:3.11-slim"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            policy.apply("docker.io/library/debian:12-slim"),
            "127.0.0.1:5000/debian@sha256:aa"
        );
        assert_eq!(
            policy.apply("debian:12-slim"),
            "127.0.0.1:5000/debian@sha256:aa"
        );
        assert_eq!(
            policy.apply("docker.io/library/python:3.11-slim"),
            "127.0.0.1:5000/python:3.11-slim"
        );
        assert_eq!(policy.apply("alpine:3.19"), "alpine:3.19");
    }

    #[test]
    fn other_actions_are_refused() {
        let error =
            policy(r#"{"rules":[{"action":"DENY","selector":{"identifier":"docker-image://x"}}]}"#)
                .unwrap_err()
                .to_string();
        assert!(error.contains("rule 1 is \"DENY\""), "{error}");
        assert!(policy("{").is_err());
    }
}
