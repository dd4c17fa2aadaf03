//! A Docker build context that applies a patch layer to the image it was made for, for
//! pipelines that build with `docker build` (copa's `generate`).
//!
//! The context holds a `Dockerfile` and `patch.tar`, the patch layer's files without its
//! whiteouts. The Dockerfile starts `FROM` the input image pinned by digest, removes what the
//! layer removes (`RUN` of the image's own `rm`, in exec form: no shell needed), then
//! `ADD patch.tar /`: Docker unpacks a local tar archive keeping its owners, modes, times and
//! extended attributes, where `COPY` of a folder would make root own every file.

use crate::image::squash::copy_entries;
use anyhow::{Context, bail};
use std::cell::RefCell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The whiteout prefix of an OCI layer entry.
const WHITEOUT: &str = ".wh.";

/// The marker of an opaque folder.
const OPAQUE: &str = ".wh..wh..opq";

/// Where the context goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextTarget {
    /// A file, written whole or not at all.
    File(PathBuf),
    /// Standard output (a pipe into `docker build -`).
    Stdout,
}

impl std::fmt::Display for ContextTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContextTarget::File(path) => write!(f, "{}", path.display()),
            ContextTarget::Stdout => f.write_str("standard output"),
        }
    }
}

/// What the context does.
#[derive(Debug)]
pub struct ContextSummary {
    /// Entries of `patch.tar`.
    pub entries: usize,
    /// Paths the Dockerfile removes before adding them.
    pub removed: Vec<String>,
}

/// Splits a patch layer into `patch.tar` (written to `files`) and the absolute paths its
/// whiteouts and opaque markers remove.
fn split_layer(layer: &Path, files: &Path) -> anyhow::Result<(usize, Vec<String>)> {
    let removed = RefCell::new(Vec::new());
    let mut builder = tar::Builder::new(std::fs::File::create(files)?);
    let entries = copy_entries(layer, &mut builder, |path| {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        if name == OPAQUE {
            // Everything below the folder goes; the layer's own entries put back what stays.
            removed.borrow_mut().push(parent.to_string());
            return false;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            removed.borrow_mut().push(format!("{parent}/{hidden}"));
            return false;
        }
        true
    })?;
    builder.into_inner()?.flush()?;
    let removed = removed.into_inner();
    if removed.iter().any(String::is_empty) {
        bail!("the patch layer marks the root folder opaque, which a Dockerfile cannot express");
    }
    Ok((entries, removed))
}

/// The Dockerfile: `FROM base`, the removals with `rm` (when there are any), `ADD patch.tar /`
/// (when there is a patch).
fn dockerfile(
    base: &str,
    source: &str,
    rm: Option<&str>,
    removed: &[String],
    patched: bool,
) -> String {
    let mut text = format!(
        "# Made by salve {} from {}: applies its patch to that image.\n\
         # Build with: docker build -t NAME - < CONTEXT.tar\n\
         FROM {base}\n",
        env!("CARGO_PKG_VERSION"),
        crate::display_safe::one_line(source)
    );
    if let Some(rm) = rm.filter(|_| !removed.is_empty()) {
        let mut argv = vec![rm.to_string(), "-rf".into(), "--".into()];
        argv.extend(removed.iter().cloned());
        text.push_str(&format!(
            "RUN {}\n",
            serde_json::to_string(&argv).expect("strings serialise")
        ));
    }
    if patched {
        text.push_str("ADD patch.tar /\n");
    }
    text
}

/// Writes the build context for `layer`, made for the image `base` (a reference `docker build`
/// pulls, pinned by digest); `rm` is the image's `rm` program, needed when the layer removes
/// files. `scratch` is a folder for the intermediate `patch.tar`. Without a layer (nothing to
/// patch) the context builds the image unchanged.
pub fn write_context(
    layer: Option<&Path>,
    base: &str,
    source: &str,
    rm: Option<&str>,
    scratch: &Path,
    target: &ContextTarget,
) -> anyhow::Result<ContextSummary> {
    let files = scratch.join("patch.tar");
    let (entries, removed) = match layer {
        Some(layer) => split_layer(layer, &files).context("reading the patch layer")?,
        None => (0, Vec::new()),
    };
    if !removed.is_empty() && rm.is_none() {
        bail!(
            "the patch removes {} path(s) ({}), which a Dockerfile can only do by running the \
             image's rm, and the image has none (/usr/bin/rm, /bin/rm): patch it with `salve \
             patch` instead",
            removed.len(),
            removed
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let dockerfile = dockerfile(base, source, rm, &removed, layer.is_some());
    match target {
        ContextTarget::File(path) => {
            let parent = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut temporary = tempfile::NamedTempFile::new_in(parent)
                .with_context(|| format!("writing {}", path.display()))?;
            write_tar(&mut temporary, &dockerfile, layer.map(|_| files.as_path()))?;
            temporary
                .persist(path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        ContextTarget::Stdout => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            write_tar(&mut out, &dockerfile, layer.map(|_| files.as_path()))?;
            out.flush()?;
        }
    }
    Ok(ContextSummary { entries, removed })
}

/// Writes the context's tar: `Dockerfile`, then `patch.tar` when there is one.
fn write_tar(out: &mut impl Write, dockerfile: &str, files: Option<&Path>) -> anyhow::Result<()> {
    let mut builder = tar::Builder::new(out);
    let mut header = context_file_header(dockerfile.len() as u64);
    builder.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())?;
    if let Some(files) = files {
        let mut patch = std::fs::File::open(files)?;
        let mut header = context_file_header(patch.metadata()?.len());
        builder.append_data(&mut header, "patch.tar", &mut patch)?;
    }
    builder.into_inner()?.flush()?;
    Ok(())
}

/// The header of a file of the context: root's, mode 0644.
fn context_file_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A layer with a file, a whiteout and an opaque folder with a file in it.
    fn layer(dir: &Path) -> PathBuf {
        let path = dir.join("layer.tar");
        let mut builder = tar::Builder::new(std::fs::File::create(&path).unwrap());
        let mut add = |name: &str, kind: tar::EntryType, data: &[u8], uid: u64| {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o640);
            header.set_uid(uid);
            header.set_entry_type(kind);
            builder.append_data(&mut header, name, data).unwrap();
        };
        add("usr/lib/libx.so.2", tar::EntryType::Regular, b"new", 0);
        add("usr/lib/.wh.libx.so.1", tar::EntryType::Regular, b"", 0);
        add("etc/ssl/certs/", tar::EntryType::Directory, b"", 0);
        add(
            "etc/ssl/certs/.wh..wh..opq",
            tar::EntryType::Regular,
            b"",
            0,
        );
        add("etc/ssl/certs/ca.pem", tar::EntryType::Regular, b"pem", 7);
        builder.into_inner().unwrap().flush().unwrap();
        path
    }

    /// The entries of a tar file: name → content.
    fn entries(reader: impl Read) -> Vec<(String, Vec<u8>, u64)> {
        let mut archive = tar::Archive::new(reader);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let name = entry.path().unwrap().to_string_lossy().into_owned();
                let uid = entry.header().uid().unwrap();
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                (name, data, uid)
            })
            .collect()
    }

    #[test]
    fn whiteouts_become_removals_before_the_files_are_added() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("context.tar");
        let summary = write_context(
            Some(&layer(dir.path())),
            "registry.test/app@sha256:ab",
            "docker://registry.test/app:1",
            Some("/usr/bin/rm"),
            dir.path(),
            &ContextTarget::File(out.clone()),
        )
        .unwrap();
        assert_eq!(summary.entries, 3);
        assert_eq!(summary.removed, ["/usr/lib/libx.so.1", "/etc/ssl/certs"]);
        let context = entries(std::fs::File::open(&out).unwrap());
        assert_eq!(context[0].0, "Dockerfile");
        let dockerfile = String::from_utf8(context[0].1.clone()).unwrap();
        let lines: Vec<&str> = dockerfile.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "FROM registry.test/app@sha256:ab",
                r#"RUN ["/usr/bin/rm","-rf","--","/usr/lib/libx.so.1","/etc/ssl/certs"]"#,
                "ADD patch.tar /"
            ]
        );
        assert_eq!(context[1].0, "patch.tar");
        let files = entries(context[1].1.as_slice());
        let names: Vec<&str> = files.iter().map(|(name, _, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["usr/lib/libx.so.2", "etc/ssl/certs", "etc/ssl/certs/ca.pem"]
        );
        assert_eq!(files[2].2, 7, "owners are kept");
    }

    #[test]
    fn removals_without_rm_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("context.tar");
        let error = write_context(
            Some(&layer(dir.path())),
            "registry.test/app@sha256:ab",
            "docker://registry.test/app:1",
            None,
            dir.path(),
            &ContextTarget::File(out.clone()),
        )
        .unwrap_err();
        assert!(error.to_string().contains("has none"), "{error}");
        assert!(!out.exists());
    }

    #[test]
    fn with_nothing_to_patch_the_context_builds_the_image_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("context.tar");
        let summary = write_context(
            None,
            "registry.test/app@sha256:ab",
            "docker://registry.test/app:1",
            None,
            dir.path(),
            &ContextTarget::File(out.clone()),
        )
        .unwrap();
        assert_eq!(summary.entries, 0);
        let context = entries(std::fs::File::open(&out).unwrap());
        assert_eq!(context.len(), 1);
        let dockerfile = String::from_utf8(context[0].1.clone()).unwrap();
        assert!(
            dockerfile.ends_with("FROM registry.test/app@sha256:ab\n"),
            "{dockerfile}"
        );
    }
}
