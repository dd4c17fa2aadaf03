//! copa's bulk configuration (`apiVersion: copa.sh/v1alpha1`, `kind: PatchConfig`), read and
//! checked: what images, which of their tags, and where the patched images go. salve adds one
//! field of its own per image, `report`, a report file (or folder) whose path may hold
//! `{{ .SourceTag }}`.

use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The only `apiVersion` read.
pub const API_VERSION: &str = "copa.sh/v1alpha1";
/// The only `kind` read.
pub const KIND: &str = "PatchConfig";
/// The largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// The largest tag pattern accepted (compiled regex size, bytes).
const MAX_PATTERN_SIZE: usize = 1 << 20;
/// The placeholder copa's templates know.
const SOURCE_TAG: &str = ".SourceTag";
/// The tag template when none is given.
pub const DEFAULT_TAG_TEMPLATE: &str = "{{ .SourceTag }}-patched";

/// Why a configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than any configuration needs to be.
    #[error("{path} is larger than {MAX_CONFIG_BYTES} bytes; it is not a bulk configuration")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The YAML does not parse, or does not have the PatchConfig shape.
    #[error("{path} is not a PatchConfig: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        reason: String,
    },
    /// The document parses but asks for something salve cannot do.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A bulk configuration as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    api_version: String,
    kind: String,
    #[serde(default)]
    chisel_release: Option<String>,
    #[serde(default)]
    target: Option<RawTarget>,
    images: Vec<RawImage>,
}

/// Where patched images go, as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(default)]
    registry: Option<String>,
    #[serde(default)]
    tag: Option<String>,
}

/// One image entry, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawImage {
    name: String,
    image: String,
    tags: RawTags,
    #[serde(default)]
    platforms: Vec<String>,
    #[serde(default)]
    target: Option<RawTarget>,
    #[serde(default)]
    chisel_release: Option<String>,
    #[serde(default)]
    report: Option<String>,
}

/// A tag rule, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTags {
    strategy: String,
    #[serde(default)]
    list: Vec<String>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    max_tags: Option<usize>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// A checked bulk configuration.
#[derive(Debug)]
pub struct PatchConfig {
    /// The images, in the file's order.
    pub images: Vec<ImageSpec>,
    /// Fields read but without effect in salve, to warn about.
    pub ignored: Vec<String>,
}

/// One image entry: a repository, which of its tags, and where their patched images go.
#[derive(Debug)]
pub struct ImageSpec {
    /// The entry's name (unique in the file).
    pub name: String,
    /// The source repository, without tag or digest.
    pub repository: String,
    /// Which tags to patch.
    pub tags: TagRule,
    /// Platforms to patch (empty: all).
    pub platforms: Vec<String>,
    /// The repository patched images go to.
    pub target_repository: String,
    /// The patched tag's template.
    pub tag_template: Template,
    /// The report's path template (resolved against the configuration's folder).
    pub report: Option<Template>,
}

/// Which tags of a repository to patch.
#[derive(Debug)]
pub enum TagRule {
    /// Exactly these.
    List(Vec<String>),
    /// The tags matching a pattern, highest versions first, at most `max` of them.
    Pattern {
        /// The pattern (matched against the whole tag as copa's is: anchored where written).
        pattern: Regex,
        /// The most tags to patch.
        max: Option<usize>,
        /// Tags never patched.
        exclude: BTreeSet<String>,
    },
    /// The highest version among the tags that read as versions.
    Latest {
        /// Tags never patched.
        exclude: BTreeSet<String>,
    },
}

/// A string with `{{ .SourceTag }}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// Literal text and placeholders, in order.
    parts: Vec<TemplatePart>,
}

/// One piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq)]
enum TemplatePart {
    /// Text as written.
    Text(String),
    /// The source tag.
    SourceTag,
}

impl Template {
    /// Reads a template; any placeholder but `{{ .SourceTag }}` is refused.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(TemplatePart::Text(rest[..start].to_string()));
            }
            let Some(length) = rest[start..].find("}}") else {
                return Err(format!(
                    "{text:?} opens a placeholder with {{{{ and never closes it"
                ));
            };
            let inner = rest[start + 2..start + length].trim();
            if inner != SOURCE_TAG {
                return Err(format!(
                    "{text:?} uses the placeholder {{{{ {inner} }}}}; the only one known is \
                     {{{{ {SOURCE_TAG} }}}}"
                ));
            }
            parts.push(TemplatePart::SourceTag);
            rest = &rest[start + length + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("{text:?} closes a placeholder it never opened"));
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The text with `source_tag` in place of its placeholders.
    pub fn render(&self, source_tag: &str) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                TemplatePart::Text(text) => text.as_str(),
                TemplatePart::SourceTag => source_tag,
            })
            .collect()
    }
}

/// True for a tag a registry accepts: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric() || first == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// True for an entry name usable as a folder name: `[A-Za-z0-9._-]`, not starting with a dot.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Reads and checks the configuration at `path`.
pub fn load(path: &Path) -> Result<PatchConfig, ConfigError> {
    let read = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read)?.len();
    if size > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    let folder = path.parent().unwrap_or(Path::new("."));
    parse(&text, folder).map_err(|error| match error {
        Problem::Parse(reason) => ConfigError::Parse {
            path: path.to_path_buf(),
            reason,
        },
        Problem::Invalid(reason) => ConfigError::Invalid {
            path: path.to_path_buf(),
            reason,
        },
    })
}

/// What is wrong with a configuration's text.
#[derive(Debug)]
enum Problem {
    /// Not YAML of the PatchConfig shape.
    Parse(String),
    /// The right shape, asking for what cannot be done.
    Invalid(String),
}

/// Reads a configuration's text; relative report paths are taken from `folder`.
fn parse(text: &str, folder: &Path) -> Result<PatchConfig, Problem> {
    let raw: RawConfig =
        serde_yaml_ng::from_str(text).map_err(|error| Problem::Parse(error.to_string()))?;
    let invalid = |reason: String| Problem::Invalid(reason);
    if raw.api_version != API_VERSION || raw.kind != KIND {
        return Err(invalid(format!(
            "apiVersion {:?} kind {:?}: salve reads apiVersion {API_VERSION}, kind {KIND}",
            raw.api_version, raw.kind
        )));
    }
    if raw.images.is_empty() {
        return Err(invalid(
            "`images` is empty: there is nothing to patch".into(),
        ));
    }
    let mut ignored = Vec::new();
    if raw.chisel_release.is_some() {
        ignored.push("chiselRelease".to_string());
    }
    let global = raw.target.unwrap_or_default();
    let mut names = BTreeSet::new();
    let mut images = Vec::new();
    for entry in raw.images {
        let context = |reason: String| invalid(format!("image {:?}: {reason}", entry.name));
        if !is_valid_name(&entry.name) {
            return Err(context(
                "a name is letters, digits, `.`, `_` and `-`, not starting with a dot".into(),
            ));
        }
        if !names.insert(entry.name.clone()) {
            return Err(context("the name is used by two entries".into()));
        }
        if entry.chisel_release.is_some() {
            ignored.push(format!("images[{}].chiselRelease", entry.name));
        }
        let repository = source_repository(&entry.image).map_err(context)?;
        let target = entry.target.clone().unwrap_or_default();
        let target_registry = target.registry.or_else(|| global.registry.clone());
        let target_repository = match target_registry {
            Some(registry) => {
                let registry = registry.trim_end_matches('/');
                if registry.is_empty() || registry.contains(['@', ' ']) {
                    return Err(context(format!(
                        "target registry {registry:?} is not a name"
                    )));
                }
                let last = repository.rsplit('/').next().expect("split yields one");
                format!("{registry}/{last}")
            }
            None => repository.clone(),
        };
        let tag_text = target
            .tag
            .or_else(|| global.tag.clone())
            .unwrap_or_else(|| DEFAULT_TAG_TEMPLATE.to_string());
        let tag_template = Template::parse(&tag_text).map_err(context)?;
        let report = entry
            .report
            .map(|text| {
                let absolute = if Path::new(&text).is_absolute() {
                    text
                } else {
                    folder.join(&text).to_string_lossy().into_owned()
                };
                Template::parse(&absolute)
            })
            .transpose()
            .map_err(context)?;
        let tags = tag_rule(entry.tags).map_err(context)?;
        images.push(ImageSpec {
            name: entry.name,
            repository,
            tags,
            platforms: entry.platforms,
            target_repository,
            tag_template,
            report,
        });
    }
    Ok(PatchConfig { images, ignored })
}

/// The repository an `image` field names; a tag or digest in it is refused (tags come from
/// `tags`).
fn source_repository(image: &str) -> Result<String, String> {
    let image = image.strip_prefix("docker://").unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.is_empty() || image.contains(char::is_whitespace) {
        return Err(format!("image {image:?} is not a repository name"));
    }
    if image.contains('@') || last.contains(':') {
        return Err(format!(
            "image {image:?} names a tag or digest; give the repository alone and its tags \
             under `tags`"
        ));
    }
    Ok(image.to_string())
}

/// Checks a tag rule.
fn tag_rule(raw: RawTags) -> Result<TagRule, String> {
    let exclude: BTreeSet<String> = raw.exclude.into_iter().collect();
    match raw.strategy.as_str() {
        "list" => {
            if raw.pattern.is_some() || raw.max_tags.is_some() {
                return Err("strategy list takes `list`, not `pattern` or `maxTags`".into());
            }
            if raw.list.is_empty() {
                return Err("strategy list needs a non-empty `list`".into());
            }
            if let Some(bad) = raw.list.iter().find(|tag| !is_valid_tag(tag)) {
                return Err(format!("{bad:?} in `list` is not a tag"));
            }
            let mut seen = BTreeSet::new();
            let tags = raw
                .list
                .into_iter()
                .filter(|tag| !exclude.contains(tag) && seen.insert(tag.clone()))
                .collect::<Vec<_>>();
            if tags.is_empty() {
                return Err("every tag in `list` is excluded".into());
            }
            Ok(TagRule::List(tags))
        }
        "pattern" => {
            if !raw.list.is_empty() {
                return Err("strategy pattern takes `pattern`, not `list`".into());
            }
            let Some(pattern) = raw.pattern else {
                return Err("strategy pattern needs `pattern`".into());
            };
            let pattern = regex::RegexBuilder::new(&pattern)
                .size_limit(MAX_PATTERN_SIZE)
                .build()
                .map_err(|error| format!("pattern {pattern:?}: {error}"))?;
            if raw.max_tags == Some(0) {
                return Err("maxTags 0 would patch nothing".into());
            }
            Ok(TagRule::Pattern {
                pattern,
                max: raw.max_tags,
                exclude,
            })
        }
        "latest" => {
            if !raw.list.is_empty() || raw.pattern.is_some() || raw.max_tags.is_some() {
                return Err("strategy latest takes no `list`, `pattern` or `maxTags`".into());
            }
            Ok(TagRule::Latest { exclude })
        }
        other => Err(format!(
            "tag strategy {other:?}: the strategies are list, pattern and latest"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<PatchConfig, Problem> {
        parse(text, Path::new("/configs"))
    }

    const COPA_EXAMPLE: &str = r#"
apiVersion: copa.sh/v1alpha1
kind: PatchConfig
target:
  registry: "ghcr.io/myorg"
  tag: "{{ .SourceTag }}-patched"
images:
  - name: "nginx"
    image: "docker.io/library/nginx"
    tags:
      strategy: "pattern"
      pattern: "^1\\.2[0-9]\\.[0-9]+$"
      maxTags: 3
      exclude: ["1.20.0", "1.20.1"]
  - name: "python"
    image: "docker.io/library/python"
    tags:
      strategy: "list"
      list: ["3.9.18", "3.10.13", "3.11.7"]
    platforms: ["linux/amd64", "linux/arm64"]
    target:
      registry: "quay.io/special"
      tag: "{{.SourceTag}}-fixed"
    report: "reports/python-{{ .SourceTag }}.json"
  - name: "alpine"
    image: "docker.io/library/alpine"
    tags:
      strategy: "latest"
"#;

    #[test]
    fn copas_documented_example_is_read() {
        let config = read(COPA_EXAMPLE).unwrap();
        assert_eq!(config.images.len(), 3);
        let nginx = &config.images[0];
        assert_eq!(nginx.target_repository, "ghcr.io/myorg/nginx");
        assert_eq!(nginx.tag_template.render("1.25.3"), "1.25.3-patched");
        let TagRule::Pattern {
            pattern,
            max,
            exclude,
        } = &nginx.tags
        else {
            panic!("pattern rule")
        };
        assert!(pattern.is_match("1.25.3") && !pattern.is_match("1.19.0"));
        assert_eq!(*max, Some(3));
        assert!(exclude.contains("1.20.1"));
        let python = &config.images[1];
        assert_eq!(python.target_repository, "quay.io/special/python");
        assert_eq!(python.tag_template.render("3.9.18"), "3.9.18-fixed");
        assert_eq!(python.platforms, ["linux/amd64", "linux/arm64"]);
        assert_eq!(
            python.report.as_ref().unwrap().render("3.9.18"),
            "/configs/reports/python-3.9.18.json"
        );
        assert!(matches!(config.images[2].tags, TagRule::Latest { .. }));
        assert_eq!(config.images[2].repository, "docker.io/library/alpine");
        assert!(config.ignored.is_empty());
    }

    #[test]
    fn without_a_target_images_stay_in_their_repository() {
        let config = read(
            "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n- name: a\n  image: \
             127.0.0.1:5000/debian\n  tags: {strategy: list, list: ['1', '2'], exclude: ['2']}\n",
        )
        .unwrap();
        assert_eq!(config.images[0].target_repository, "127.0.0.1:5000/debian");
        assert_eq!(
            config.images[0].tag_template.render("1"),
            "1-patched",
            "copa's default template"
        );
        let TagRule::List(tags) = &config.images[0].tags else {
            panic!("list rule")
        };
        assert_eq!(tags, &["1"]);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                "apiVersion: v1\nkind: PatchConfig\nimages: []",
                "salve reads apiVersion",
            ),
            (
                "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages: []",
                "nothing to patch",
            ),
            (
                "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimagez: []",
                "unknown field `imagez`",
            ),
            (
                "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n- {name: a, image: \
                 r/a:1, tags: {strategy: latest}}",
                "names a tag or digest",
            ),
            (
                "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n- {name: a, image: \
                 r/a, tags: {strategy: newest}}",
                "the strategies are list, pattern and latest",
            ),
            (
                "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n- {name: a, image: \
                 r/a, tags: {strategy: pattern, pattern: '('}}",
                "pattern \"(\"",
            ),
            (
                "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\ntarget: {tag: '{{ .Tag }}'}\n\
                 images:\n- {name: a, image: r/a, tags: {strategy: latest}}",
                "the only one known is {{ .SourceTag }}",
            ),
            (
                "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n- {name: a, image: \
                 r/a, tags: {strategy: latest}}\n- {name: a, image: r/b, tags: {strategy: \
                 latest}}",
                "used by two entries",
            ),
            (
                "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n- {name: ../x, \
                 image: r/a, tags: {strategy: latest}}",
                "a name is letters",
            ),
        ];
        for (text, expected) in cases {
            let message = match read(text) {
                Err(Problem::Parse(message) | Problem::Invalid(message)) => message,
                Ok(_) => panic!("{text:?} was accepted"),
            };
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn chisel_releases_are_read_and_reported_as_ignored() {
        let config = read(
            "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nchiselRelease: ubuntu-24.04\n\
             images:\n- {name: a, image: r/a, chiselRelease: ubuntu-22.04, tags: {strategy: \
             latest}}",
        )
        .unwrap();
        assert_eq!(config.ignored, ["chiselRelease", "images[a].chiselRelease"]);
    }

    #[test]
    fn an_alias_bomb_is_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let previous = (b'a' + level - 1) as char;
            let name = (b'a' + level) as char;
            let items = vec![format!("*{previous}"); 10].join(", ");
            text.push_str(&format!("{name}: &{name} [{items}]\n"));
        }
        text.push_str("apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages: []\n");
        assert!(matches!(read(&text), Err(Problem::Parse(_))));
    }

    #[test]
    fn templates_take_only_the_source_tag() {
        let template = Template::parse("v{{.SourceTag}}-{{ .SourceTag }}").unwrap();
        assert_eq!(template.render("1"), "v1-1");
        assert!(Template::parse("{{ .SourceTag").is_err());
        assert!(Template::parse("x }}").is_err());
        assert!(is_valid_tag("1.25.3-patched") && !is_valid_tag("-x") && !is_valid_tag("a/b"));
    }
}
