//! The native engine: updates installed by reading and writing files, nothing of the image run.
//! The ecosystem plugin decides (sources, signatures' keyrings, resolution, the package
//! database); the host fetches (signed indexes, packages, each checked against the signed
//! chain), opens the packages, and writes their files, the database files and the whiteouts as
//! the patch layer. No root, no namespaces, no daemon, no emulator: the image's platform, not
//! the host's, decides which packages are used.

pub mod apk;
pub mod apk_signature;
pub mod deb;
pub mod layer;
pub mod openpgp;
pub mod package;
pub mod packaged;
pub mod placement;
pub mod repository;
pub mod wheel;

use super::{Changes, Executed, Job};
use crate::image::blob::normalize;
use crate::image::glob::Glob;
use crate::image::{ImageIndex, read_paths_within};
use crate::plugin::native::{
    FetchedFile, FileReads, InstallRequest, InstallStep, Installation, NativeRequest,
    PackageDownload, PackageEntry, PathStatus, Resolution, UnpackedPackage,
};
use crate::plugin::types::{FileKind, ImageFile, PlanRequest};
use crate::plugin::{Ecosystem, PluginError};
use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use package::{Downloaded, EntryKind, Format};
use placement::Placement;
use repository::Repositories;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// How many files are fetched at once.
const PARALLEL_FETCHES: usize = 4;

/// How many rounds a plugin may ask for more before it is stopped.
const MAX_ROUNDS: usize = 8;

/// The most one image file read for the plugin may hold.
const IMAGE_FILE_CAP: u64 = 64 << 20;

/// Why the native engine cannot make an update that another engine may.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

/// The reason, when `error` says the native engine cannot make the update but another engine
/// may (not when a file was changed on its way, or a version is missing: those fail anywhere).
pub fn unsupported_reason(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(Unsupported(reason)) = cause.downcast_ref::<Unsupported>() {
            return Some(reason.clone());
        }
        match cause.downcast_ref::<PluginError>() {
            Some(PluginError::NotNative { message, .. }) => Some(message.clone()),
            _ => None,
        }
    })
}

/// Where the native engine keeps what it downloads.
#[derive(Clone, Debug)]
pub struct NativeOptions {
    /// The store of repository files and packages, by SHA-256.
    pub store: PathBuf,
}

/// What the native engine installs for: the ecosystem plugin and its plan request.
#[derive(Clone, Copy)]
pub struct NativeWork<'a> {
    /// The plugin that decides.
    pub ecosystem: Ecosystem<'a>,
    /// The image's OS, platform, target and updates.
    pub request: &'a PlanRequest,
    /// The files at the plugins' native paths, read with the probe.
    pub files: &'a [ImageFile],
    /// Every path of the image, indexed with the probe.
    pub index: &'a ImageIndex,
}

/// Runs a job natively.
pub async fn run_job(options: &NativeOptions, job: &Job<'_>) -> anyhow::Result<Executed> {
    let Some(work) = job.native else {
        return Err(Unsupported(
            "it installs one OS ecosystem's updates at a time, and this plan has several".into(),
        )
        .into());
    };
    let platform = job.target.platform.to_string();
    let ecosystem = work.ecosystem;
    let name = ecosystem.plugin().name().to_string();
    let paths = ecosystem.native_paths()?;
    if paths.is_empty() {
        return Err(Unsupported(format!("the {name} plugin does not install natively")).into());
    }
    let layers = &job.target.layers.blobs;
    let (tooling_paths, image_paths): (Vec<String>, Vec<String>) = paths
        .into_iter()
        .partition(|path| path.starts_with(&format!("{TOOLING_PREFIX}/")));
    // The image's files were read with the probe, in its one pass over the layers.
    let globs: Vec<Glob> = image_paths.iter().map(|path| Glob::new(path)).collect();
    let mut files: Vec<ImageFile> = work
        .files
        .iter()
        .filter(|file| globs.iter().any(|glob| glob.matches(&file.path)))
        .cloned()
        .collect();
    if !tooling_paths.is_empty()
        && let Some(image) = job.tooling_image
    {
        files.extend(tooling_files(job, image, &platform, &tooling_paths).await?);
    }
    let index = work.index;
    let repositories = Repositories::new(&options.store, job.mirrors)?;

    // Resolution, round by round.
    job.progress.stage(
        "resolve",
        &format!("{platform}: resolving from the image's repositories"),
    );
    let mut request = NativeRequest {
        os: work.request.os.clone(),
        platform: work.request.platform.clone(),
        target: work.request.target.clone(),
        updates: work.request.updates.clone(),
        files,
        fetched: Vec::new(),
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    };
    let mut rounds = 0;
    let selection = loop {
        job.cancel.check()?;
        rounds += 1;
        if rounds > MAX_ROUNDS {
            bail!(
                "the {name} plugin asked for repository files {MAX_ROUNDS} times without resolving"
            );
        }
        match ecosystem.native_resolve(&request)? {
            Resolution::Install(selection) => break selection,
            Resolution::Fetch(wanted) => {
                let fetched: Vec<FetchedFile> = job
                    .cancel
                    .run(
                        futures_util::stream::iter(wanted.iter())
                            .map(|file| repositories.fetch(file, &request.files))
                            .buffered(PARALLEL_FETCHES)
                            .try_collect(),
                    )
                    .await??;
                request.fetched.extend(fetched);
            }
        }
    };
    for warning in &selection.warnings {
        job.progress.warn(&format!("{platform}: {warning}"));
    }
    let fetched_urls = request.fetched.iter().map(|file| file.url.as_str());
    let package_urls = selection
        .packages
        .iter()
        .map(|package| package.url.as_str());
    let unused = job.mirrors.unused(fetched_urls.chain(package_urls));
    let unused: Vec<String> = unused.into_iter().map(str::to_string).collect();
    super::mirrored::warn_unused(job, &unused);
    drop(request.fetched);

    // Downloads, then the packages opened for the plugin.
    job.progress.stage(
        "download",
        &format!(
            "{platform}: downloading {} package(s)",
            selection.packages.len()
        ),
    );
    let downloaded: Vec<Downloaded> = job
        .cancel
        .run(
            futures_util::stream::iter(selection.packages.iter())
                .map(|package| repositories.download(package))
                .buffered(PARALLEL_FETCHES)
                .try_collect(),
        )
        .await??;
    let packages = unpacked_all(&selection.packages, &downloaded)?;

    // Installation, round by round.
    job.progress.stage(
        "install",
        &format!("{platform}: installing by file operations"),
    );
    let mut install = InstallRequest {
        os: work.request.os.clone(),
        platform: work.request.platform.clone(),
        target: work.request.target.clone(),
        updates: work.request.updates.clone(),
        files: request.files,
        read: None,
        packages,
        packaged: Vec::new(),
        statuses: Vec::new(),
    };
    let mut rounds = 0;
    let installation = loop {
        job.cancel.check()?;
        rounds += 1;
        match ecosystem.native_install(&install)? {
            InstallStep::Done(installation) => break installation,
            InstallStep::Read(reads) if rounds >= MAX_ROUNDS => {
                let asked: Vec<&String> = reads
                    .image
                    .iter()
                    .chain(&reads.packaged)
                    .chain(&reads.statuses)
                    .take(5)
                    .collect();
                bail!(
                    "the {name} plugin asked for files {MAX_ROUNDS} times without installing \
                     (last for {asked:?})"
                );
            }
            InstallStep::Read(FileReads {
                image,
                packaged,
                statuses,
            }) => {
                let mut read = install.read.take().unwrap_or_default();
                match answer_from_first_read(&install.files, &image_paths, index, &image) {
                    Some(answer) => read.extend(answer),
                    None => read.extend(
                        read_paths_within(layers, &image, IMAGE_FILE_CAP, job.database_cap)
                            .context("reading the image's layers")?,
                    ),
                }
                install.read = Some(read);
                install.packaged.extend(
                    packaged::read(&downloaded, &packaged, IMAGE_FILE_CAP, job.database_cap)
                        .context("reading the packages' files")?,
                );
                install.statuses.extend(
                    statuses
                        .iter()
                        .flat_map(|asked| path_statuses(index, asked)),
                );
            }
        }
    };
    check_paths(&name, &installation)?;
    for warning in &installation.warnings {
        job.progress.warn(&format!("{platform}: {warning}"));
    }

    // The layer, every path placed through the image's links.
    let placement = Placement::new(index);
    let blob = job.work.join("native-layer.tar");
    std::fs::create_dir_all(job.work)?;
    // The database read back: the native paths' files as the installation leaves them.
    let in_database = |path: &str| globs.iter().any(|glob| glob.matches(path));
    let written = layer::write(&blob, &downloaded, &installation, &placement, &in_database)?;
    let removed: BTreeSet<&str> = installation.removed.iter().map(String::as_str).collect();
    let mut database = install.files;
    database.retain(|existing| {
        !removed.contains(existing.path.as_str())
            && !installation
                .removed_folders
                .iter()
                .any(|folder| existing.path.starts_with(&format!("{folder}/")))
    });
    for file in written {
        database.retain(|existing| existing.path != file.path);
        database.push(file);
    }
    Ok(Executed {
        changes: Changes::Layers {
            layers: vec![blob],
            mount_points: BTreeSet::new(),
        },
        database,
    })
}

/// Refuses an installation naming a path that is not absolute and clean (`/a/b`: no `..`,
/// `.` or empty segments), or whose last segment is a whiteout's (`.wh.`): the plugin's
/// answer is untrusted, and such a path would write outside its place or delete files.
fn check_paths(plugin: &str, installation: &Installation) -> anyhow::Result<()> {
    let paths = installation
        .files
        .iter()
        .map(|file| &file.path)
        .chain(installation.links.iter().map(|link| &link.path))
        .chain(&installation.removed)
        .chain(&installation.removed_folders)
        .chain(&installation.kept)
        .chain(
            installation
                .diverted
                .iter()
                .flat_map(|(from, to)| [from, to]),
        );
    for path in paths {
        let clean = normalize(path).as_deref() == Some(path.as_str());
        let whiteout = path
            .rsplit('/')
            .next()
            .is_some_and(|name| name.starts_with(".wh."));
        if !clean || whiteout || path.contains('\0') {
            bail!(
                "the {plugin} plugin's installation names {:?}, which is not a clean absolute \
                 path it may write; nothing was written",
                crate::display_safe::one_line(path)
            );
        }
    }
    Ok(())
}

/// The statuses `asked` names: an exact path's (`missing` when absent), or those of every path
/// a pattern matches (a folder's listing, without contents).
fn path_statuses(index: &ImageIndex, asked: &str) -> Vec<PathStatus> {
    let glob = Glob::new(asked);
    if glob.is_exact() {
        return vec![path_status(index, asked)];
    }
    index
        .matching(&glob)
        .map(|path| path_status(index, path))
        .collect()
}

/// The mode and owners of `path` as the image's index shows them.
fn path_status(index: &ImageIndex, path: &str) -> PathStatus {
    let status = index.status(path).unwrap_or_default();
    PathStatus {
        path: path.to_string(),
        kind: index.kind(path),
        mode: status.mode,
        uid: status.uid,
        gid: status.gid,
    }
}

/// The answer to `asked` from the first read (`files`, read for `patterns`) and the image's
/// index, when they hold it: a pattern read then, a path read then, a small configuration file
/// the index kept, or a path the index shows is missing or a folder (with no link above it).
/// `None`: the layers must be read again.
fn answer_from_first_read(
    files: &[ImageFile],
    patterns: &[String],
    index: &ImageIndex,
    asked: &[String],
) -> Option<Vec<ImageFile>> {
    let mut answer = Vec::new();
    for pattern in asked {
        let glob = Glob::new(pattern);
        if !glob.is_exact() {
            if !patterns.contains(pattern) {
                return None;
            }
            answer.extend(
                files
                    .iter()
                    .filter(|file| glob.matches(&file.path))
                    .cloned(),
            );
            continue;
        }
        let path = normalize(pattern)?;
        if let Some(file) = files.iter().find(|file| file.path == path) {
            answer.push(file.clone());
            continue;
        }
        let through_link = path
            .match_indices('/')
            .skip(1)
            .any(|(at, _)| index.kind(&path[..at]) == FileKind::Symlink);
        if let Some(content) = index.kept(&path).filter(|_| !through_link) {
            answer.push(ImageFile {
                path,
                kind: FileKind::File,
                content: Some(content.to_vec()),
                link_target: None,
            });
            continue;
        }
        let kind = index.kind(&path);
        if through_link || !matches!(kind, FileKind::Missing | FileKind::Directory) {
            return None;
        }
        answer.push(ImageFile {
            path,
            kind,
            content: None,
            link_target: None,
        });
    }
    Some(answer)
}

/// The prefix under which the plugin reads the tooling image's files (read when the plan names
/// a tooling image, for a target without sources or keyrings of its own).
pub const TOOLING_PREFIX: &str = "/salve-tooling";

/// The files at `paths` (under [`TOOLING_PREFIX`]) of the job's tooling image, with the prefix.
async fn tooling_files(
    job: &Job<'_>,
    image: &str,
    platform: &str,
    paths: &[String],
) -> anyhow::Result<Vec<ImageFile>> {
    let tooling = super::pull_tooling(job, image, platform).await?;
    let inside: Vec<String> = paths
        .iter()
        .map(|path| path[TOOLING_PREFIX.len()..].to_string())
        .collect();
    let files = read_paths_within(&tooling.blobs, &inside, IMAGE_FILE_CAP, job.database_cap)
        .with_context(|| format!("reading the tooling image {image}"))?;
    Ok(files
        .into_iter()
        .map(|file| ImageFile {
            path: format!("{TOOLING_PREFIX}{}", file.path),
            ..file
        })
        .collect())
}

/// The downloaded packages opened for the plugin, on every core (decompressing their data is
/// most of the work).
fn unpacked_all(
    downloads: &[PackageDownload],
    files: &[Downloaded],
) -> anyhow::Result<Vec<UnpackedPackage>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(downloads.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<anyhow::Result<UnpackedPackage>>>> =
        downloads.iter().map(|_| Default::default()).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let (Some(download), Some(file)) = (downloads.get(at), files.get(at)) else {
                        break;
                    };
                    let opened = unpacked(download, file);
                    *slots[at]
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(opened);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .unwrap_or_else(|| Err(anyhow::anyhow!("a package was not opened")))
        })
        .collect()
}

/// A downloaded package opened for the plugin.
fn unpacked(download: &PackageDownload, file: &Downloaded) -> anyhow::Result<UnpackedPackage> {
    let listing = package::list(file).with_context(|| format!("opening {}", download.url))?;
    let digest_of =
        |format: Format, digest: &Option<String>| digest.clone().filter(|_| file.format == format);
    Ok(UnpackedPackage {
        download: download.clone(),
        control: listing
            .control
            .into_iter()
            .map(|(name, bytes)| ImageFile {
                path: name,
                kind: FileKind::File,
                content: Some(bytes),
                link_target: None,
            })
            .collect(),
        entries: listing
            .entries
            .into_iter()
            .map(|entry| PackageEntry {
                path: entry.path,
                kind: match entry.kind {
                    EntryKind::File | EntryKind::HardLink => FileKind::File,
                    EntryKind::Directory => FileKind::Directory,
                    EntryKind::Symlink => FileKind::Symlink,
                },
                mode: entry.mode,
                size: entry.size,
                uid: entry.uid,
                gid: entry.gid,
                link_target: entry
                    .link_target
                    .filter(|_| entry.kind == EntryKind::Symlink),
                md5: digest_of(Format::Deb, &entry.digest),
                sha1: digest_of(Format::Apk, &entry.digest),
                sha256: digest_of(Format::Wheel, &entry.digest),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> ImageFile {
        ImageFile {
            path: path.into(),
            kind: FileKind::File,
            content: Some(b"x".to_vec()),
            link_target: None,
        }
    }

    #[test]
    fn a_pattern_asks_for_the_status_of_every_path_it_matches_and_an_exact_path_for_its_own() {
        let index = ImageIndex::of(&[
            ("/bin", FileKind::Directory, None),
            ("/bin/ls", FileKind::Symlink, Some("/bin/busybox")),
            ("/bin/busybox", FileKind::File, None),
            ("/bin/sub/deeper", FileKind::File, None),
            ("/sbin", FileKind::Directory, None),
        ]);
        let listed: Vec<(String, FileKind)> = path_statuses(&index, "/bin/*")
            .into_iter()
            .map(|status| (status.path, status.kind))
            .collect();
        assert_eq!(
            listed,
            [
                ("/bin/busybox".to_string(), FileKind::File),
                ("/bin/ls".to_string(), FileKind::Symlink),
            ]
        );
        let exact = path_statuses(&index, "/bin/cat");
        assert_eq!(exact.len(), 1);
        assert_eq!(
            (exact[0].path.as_str(), exact[0].kind),
            ("/bin/cat", FileKind::Missing)
        );
        assert!(path_statuses(&index, "/usr/bin/*").is_empty());
    }

    #[test]
    fn later_reads_are_answered_from_the_first_when_it_holds_them() {
        let files = [file("/info/a.list"), file("/info/b.list")];
        let patterns = ["/info/*".to_string()];
        let index = ImageIndex::of(&[
            ("/info", FileKind::Directory, None),
            ("/info/a.list", FileKind::File, None),
            ("/info/b.list", FileKind::File, None),
            ("/etc", FileKind::Directory, None),
            ("/etc/x.conf", FileKind::File, None),
            ("/lib", FileKind::Symlink, Some("usr/lib")),
        ]);
        let asked = |paths: &[&str]| {
            let paths: Vec<String> = paths.iter().map(|path| path.to_string()).collect();
            answer_from_first_read(&files, &patterns, &index, &paths)
        };
        let answer = asked(&["/info/*", "/info/a.list", "/info/c.postrm", "/etc"]).unwrap();
        let kinds: Vec<(&str, FileKind)> = answer
            .iter()
            .map(|file| (file.path.as_str(), file.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("/info/a.list", FileKind::File),
                ("/info/b.list", FileKind::File),
                ("/info/a.list", FileKind::File),
                ("/info/c.postrm", FileKind::Missing),
                ("/etc", FileKind::Directory),
            ]
        );
        // A file not read then, a path through a link, a pattern not read then: read again.
        assert!(asked(&["/etc/x.conf"]).is_none());
        assert!(asked(&["/lib/missing"]).is_none());
        assert!(asked(&["/etc/*"]).is_none());
    }
}
