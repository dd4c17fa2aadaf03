//! Step 3 and 4 of a patch: reading what the ecosystem plugins need straight from the layers,
//! the image's OS from its os-release file, and which plugins recognise the image.

use crate::engine::native::TOOLING_PREFIX;
use crate::image::glob::Glob;
use crate::image::{ImageIndex, read_paths_indexed, read_paths_within, read_tree_paths_within};
use crate::plugin::Plugin;
use crate::plugin::types::{FileKind, ImageFile, OsInfo, PackageClass, Target};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// The os-release files, in the order systemd reads them.
const OS_RELEASE: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// The most bytes read for one probed file.
const PROBE_FILE_CAP: u64 = 256 << 20;

/// An ecosystem plugin that recognised the image.
pub struct Detected<'a> {
    /// The plugin.
    pub plugin: &'a Plugin,
    /// What it found.
    pub target: Target,
    /// OS packages or libraries.
    pub class: PackageClass,
}

/// What probing found.
pub struct Probe<'a> {
    /// Every path of the image, when the probe read for the native engine too.
    pub index: Option<ImageIndex>,
    /// The files at the plugins' native paths (not under `/salve-tooling/`), when the probe read
    /// for the native engine too.
    pub native_files: Vec<ImageFile>,
    /// The image's OS.
    pub os: OsInfo,
    /// Every file read.
    pub files: Vec<ImageFile>,
    /// The plugins that recognised the image: the OS one first.
    pub detected: Vec<Detected<'a>>,
}

/// Reads the probe paths of every ecosystem plugin, and `extra` paths (those a report names),
/// from `layers` and asks each plugin to detect. The files read hold at most `total_cap` bytes
/// together: they go to each plugin in one call, whose input is capped. With `native`, the
/// same pass reads the plugins' native paths and indexes the image, for the native engine.
/// Without it, the files are read from `unpacked`, the image already unpacked, when given
/// (no layer decompressed), and from the layers when that fails.
pub fn probe<'a>(
    layers: &[PathBuf],
    unpacked: Option<&Path>,
    ecosystems: &[&'a Plugin],
    extra: &[String],
    total_cap: u64,
    native: bool,
) -> anyhow::Result<Probe<'a>> {
    let mut patterns: Vec<String> = OS_RELEASE.iter().map(|path| path.to_string()).collect();
    for path in extra {
        if !patterns.contains(path) {
            patterns.push(path.clone());
        }
    }
    for plugin in ecosystems {
        let ecosystem = plugin.as_ecosystem().expect("only ecosystems are passed");
        for path in ecosystem.probe_paths()? {
            if !patterns.contains(&path) {
                patterns.push(path);
            }
        }
    }
    let mut native_patterns: Vec<String> = Vec::new();
    if native {
        for plugin in ecosystems {
            let ecosystem = plugin.as_ecosystem().expect("only ecosystems are passed");
            for path in ecosystem.native_paths()? {
                if !path.starts_with(&format!("{TOOLING_PREFIX}/"))
                    && !native_patterns.contains(&path)
                {
                    native_patterns.push(path);
                }
            }
        }
    }
    let read = |patterns: &[String]| -> anyhow::Result<(Vec<ImageFile>, Option<ImageIndex>)> {
        if native {
            let (files, index) = read_paths_indexed(layers, patterns, PROBE_FILE_CAP, total_cap)?;
            return Ok((files, Some(index)));
        }
        // Any failure of the unpacked copy is left to the layers, which say why in their terms.
        let from_tree = unpacked.and_then(|root| {
            read_tree_paths_within(root, patterns, PROBE_FILE_CAP, total_cap)
                .inspect_err(|error| tracing::debug!("probing the layers instead: {error}"))
                .ok()
        });
        let files = match from_tree {
            Some(files) => files,
            None => read_paths_within(layers, patterns, PROBE_FILE_CAP, total_cap)?,
        };
        Ok((files, None))
    };
    let all: Vec<String> = patterns
        .iter()
        .chain(
            native_patterns
                .iter()
                .filter(|path| !patterns.contains(path)),
        )
        .cloned()
        .collect();
    let (read_files, index) = read(&all).context("reading the image's layers")?;
    let globs = |patterns: &[String]| -> Vec<Glob> {
        patterns.iter().map(|pattern| Glob::new(pattern)).collect()
    };
    let (native_globs, probe_globs) = (globs(&native_patterns), globs(&patterns));
    let matches = |globs: &[Glob], path: &str| globs.iter().any(|glob| glob.matches(path));
    let native_files: Vec<ImageFile> = read_files
        .iter()
        .filter(|file| matches(&native_globs, &file.path))
        .cloned()
        .collect();
    let files: Vec<ImageFile> = read_files
        .into_iter()
        .filter(|file| matches(&probe_globs, &file.path))
        .collect();
    let os = os_release(&files)?;
    let mut detected = Vec::new();
    for &plugin in ecosystems {
        let ecosystem = plugin.as_ecosystem().expect("only ecosystems are passed");
        let crate::plugin::PluginInfo::Ecosystem(info) = plugin.info() else {
            continue;
        };
        let applies = info.os_ids.is_empty() || info.os_ids.contains(&os.id);
        if !applies {
            continue;
        }
        if let Some(target) = ecosystem.detect(&os, &files)? {
            detected.push(Detected {
                plugin,
                target,
                class: info.class,
            });
        }
    }
    detected.sort_by_key(|detected| detected.class != PackageClass::Os);
    Ok(Probe {
        index,
        native_files,
        os,
        files,
        detected,
    })
}

/// The image's OS, from the first os-release file it has.
fn os_release(files: &[ImageFile]) -> anyhow::Result<OsInfo> {
    for path in OS_RELEASE {
        let Some(content) = files
            .iter()
            .find(|file| file.path == path && file.kind == FileKind::File)
            .and_then(|file| file.content.as_deref())
        else {
            continue;
        };
        let text = String::from_utf8_lossy(content);
        let field = |name: &str| {
            text.lines().find_map(|line| {
                let value = line.strip_prefix(name)?.strip_prefix('=')?;
                Some(value.trim().trim_matches(['"', '\'']).to_string())
            })
        };
        if let Some(id) = field("ID") {
            return Ok(OsInfo {
                id: id.to_ascii_lowercase(),
                version_id: field("VERSION_ID").unwrap_or_default(),
                codename: field("VERSION_CODENAME").filter(|c| !c.is_empty()),
            });
        }
    }
    bail!(
        "the image has no /etc/os-release or /usr/lib/os-release naming its OS, so salve cannot tell how to patch it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str) -> ImageFile {
        ImageFile {
            path: path.into(),
            kind: FileKind::File,
            content: Some(content.as_bytes().to_vec()),
            link_target: None,
        }
    }

    #[test]
    fn os_release_fields_are_read_with_quotes_removed() {
        let files = [file(
            "/usr/lib/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        )];
        let os = os_release(&files).unwrap();
        assert_eq!((os.id.as_str(), os.version_id.as_str()), ("debian", "12"));
        assert_eq!(os.codename.as_deref(), Some("bookworm"));
        assert!(
            os_release(&[])
                .unwrap_err()
                .to_string()
                .contains("os-release")
        );
    }
}
