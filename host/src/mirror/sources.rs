//! The image files that name where packages come from, and their rewritten copies for a run
//! with mirrors: the engines that run the image's package manager put each copy over its file
//! while the steps run (a read-only mount, so nothing of it reaches the patch layer).

use super::Mirrors;
use crate::plugin::types::{FileKind, ImageFile};

/// Where package managers read their repositories: apt, dnf/yum, zypper, apk, pacman and pip
/// (`*` within one path segment).
pub const SOURCE_FILES: [&str; 15] = [
    "/etc/apt/sources.list",
    "/etc/apt/sources.list.d/*",
    "/etc/yum.repos.d/*",
    "/etc/yum.conf",
    "/etc/dnf/dnf.conf",
    "/etc/zypp/repos.d/*",
    "/etc/apk/repositories",
    "/etc/pacman.conf",
    "/etc/pacman.d/*",
    "/etc/pip.conf",
    "/etc/xdg/pip/pip.conf",
    "/root/.pip/pip.conf",
    "/root/.config/pip/pip.conf",
    "/usr/pip.conf",
    "/etc/pip/pip.conf",
];

/// The index pip uses when nothing configures one.
const PYPI_INDEX: &str = "https://pypi.org/simple";

/// A source file's rewritten copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewrittenFile {
    /// The path in the image.
    pub path: String,
    /// The copy's content.
    pub content: Vec<u8>,
}

/// What the steps of a run with mirrors get: rewritten copies of the source files, and
/// environment variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MirroredSources {
    /// Copies of the source files that name an origin.
    pub files: Vec<RewrittenFile>,
    /// `PIP_INDEX_URL`, when pip would use PyPI (no `pip.conf` names an index) and PyPI has a
    /// mirror.
    pub environment: Vec<(String, String)>,
    /// The origins nothing in these files starts with (as the user wrote them).
    pub unused: Vec<String>,
}

/// Why a source file cannot be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    /// A source file is a symbolic link: its copy could not be put in its place.
    #[error(
        "the image's {0} is a symbolic link, which --mirror does not follow; its repositories \
         would not be mirrored"
    )]
    Link(String),
}

impl Mirrors {
    /// The rewritten copies of the source files among `files` (read at [`SOURCE_FILES`]), each
    /// at its path under `at` (`""`, or `/target` for a target under a tooling image); the pip
    /// variable; the origins none of them names.
    pub fn sources(&self, files: &[ImageFile], at: &str) -> Result<MirroredSources, SourcesError> {
        let patterns: Vec<crate::image::glob::Glob> = SOURCE_FILES
            .iter()
            .map(|pattern| crate::image::glob::Glob::new(pattern))
            .collect();
        let mut sources = MirroredSources::default();
        let mut texts: Vec<&str> = Vec::new();
        let mut pip_configured = false;
        for file in files {
            if !patterns.iter().any(|glob| glob.matches(&file.path)) {
                continue;
            }
            if file.kind == FileKind::Symlink {
                return Err(SourcesError::Link(file.path.clone()));
            }
            let Some(text) = file
                .content
                .as_deref()
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
            else {
                continue;
            };
            texts.push(text);
            pip_configured |= file.path.ends_with("pip.conf") && names_an_index(text);
            if let Some(rewritten) = self.rewrite_text(text) {
                sources.files.push(RewrittenFile {
                    path: format!("{at}{}", file.path),
                    content: rewritten.into_bytes(),
                });
            }
        }
        if !pip_configured && let Some(index) = self.rewrite_url(PYPI_INDEX) {
            sources
                .environment
                .push(("PIP_INDEX_URL".to_string(), index));
            texts.push(PYPI_INDEX);
        }
        sources.unused = self.unused(texts).into_iter().map(str::to_string).collect();
        Ok(sources)
    }
}

impl MirroredSources {
    /// The sources of two images the steps see together (a tooling image's and its target's):
    /// both sets of files and variables, and the origins neither names.
    pub fn and(mut self, other: MirroredSources) -> MirroredSources {
        self.files.extend(other.files);
        for variable in other.environment {
            if !self.environment.contains(&variable) {
                self.environment.push(variable);
            }
        }
        self.unused.retain(|origin| other.unused.contains(origin));
        self
    }
}

/// True when a `pip.conf` text sets an index (`index-url`, or `index_url`) in any section.
fn names_an_index(text: &str) -> bool {
    text.lines().any(|line| {
        line.split_once(['=', ':'])
            .is_some_and(|(key, _)| matches!(key.trim(), "index-url" | "index_url"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> ImageFile {
        ImageFile {
            path: path.to_string(),
            kind: FileKind::File,
            content: Some(text.as_bytes().to_vec()),
            link_target: None,
        }
    }

    fn mirrors(values: &[&str]) -> Mirrors {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        Mirrors::parse(&values).unwrap()
    }

    #[test]
    fn only_source_files_naming_an_origin_are_copied() {
        let m = mirrors(&["debian=http://m/debian", "alpine=http://m/alpine"]);
        let files = [
            file(
                "/etc/apt/sources.list",
                "deb http://deb.debian.org/debian bookworm main\n",
            ),
            file(
                "/etc/apt/sources.list.d/other.list",
                "deb http://apt.example/ x main\n",
            ),
            file("/etc/os-release", "HOME_URL=http://deb.debian.org/debian\n"),
        ];
        let sources = m.sources(&files, "/target").unwrap();
        assert_eq!(
            sources.files,
            vec![RewrittenFile {
                path: "/target/etc/apt/sources.list".into(),
                content: b"deb http://m/debian bookworm main\n".to_vec(),
            }]
        );
        assert!(sources.environment.is_empty());
        assert_eq!(sources.unused, vec!["alpine"]);
    }

    #[test]
    fn pip_gets_the_pypi_mirror_when_no_pip_conf_names_an_index() {
        let m = mirrors(&["pypi=http://127.0.0.1:3141/simple"]);
        let sources = m.sources(&[], "").unwrap();
        assert_eq!(
            sources.environment,
            vec![(
                "PIP_INDEX_URL".to_string(),
                "http://127.0.0.1:3141/simple".to_string()
            )]
        );
        assert!(sources.unused.is_empty());
        let own = [file(
            "/etc/pip.conf",
            "[global]\nindex-url = https://own.example/simple\n",
        )];
        let sources = m.sources(&own, "").unwrap();
        assert!(sources.environment.is_empty());
        assert_eq!(sources.unused, vec!["pypi"]);
    }

    #[test]
    fn a_linked_source_file_is_refused() {
        let m = mirrors(&["debian=http://m/debian"]);
        let link = ImageFile {
            path: "/etc/apt/sources.list".into(),
            kind: FileKind::Symlink,
            content: None,
            link_target: Some("/proc/self/environ".into()),
        };
        let error = m.sources(&[link], "").unwrap_err().to_string();
        assert!(
            error.contains("/etc/apt/sources.list is a symbolic link"),
            "{error}"
        );
    }

    #[test]
    fn two_images_sources_combine() {
        let m = mirrors(&["debian=http://m/debian", "alpine=http://m/alpine"]);
        let tooling = m
            .sources(
                &[file(
                    "/etc/apk/repositories",
                    "https://dl-cdn.alpinelinux.org/alpine/v3.20/main\n",
                )],
                "",
            )
            .unwrap();
        let target = m.sources(&[], "/target").unwrap();
        let both = tooling.and(target);
        assert_eq!(both.files.len(), 1);
        assert_eq!(both.unused, vec!["debian"]);
    }
}
