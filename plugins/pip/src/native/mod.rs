//! Native installation of Python packages: `pip install --no-deps NAME==VERSION` into each
//! environment a report names, as file operations. The plugin asks the host for each
//! project's page of the index pip uses (in PEP 691's JSON form), picks the wheel pip would for
//! the environment's interpreter, C library and architecture, and places the wheel's files
//! (the host downloads it, checked against the index's SHA-256, and opens it). A release with
//! no wheel for the environment is refused (pip would build it from source: another engine
//! may). Nothing of the image runs, and no bytecode is written: the first import compiles it.

pub mod index;
pub mod install;
pub mod requirement;
pub mod tags;

use crate::environment::{METADATA_GLOBS, RECORD_GLOBS, python_version};
use crate::metadata::normalise;
use crate::plan::{Placed, placed};
use crate::version;
use salve_plugin_sdk::{
    FileKind, ImageFile, NativeError, NativeRequest, PackageCheck, PackageDownload, RepositoryFile,
    RequestedUpdate, Resolution, Selection,
};
use std::cmp::Ordering;
use tags::{Libc, WheelName};

/// Where musl's dynamic loader is, on musl images.
const MUSL_LOADER: &str = "/lib/ld-musl-*";

/// Where glibc is, on glibc images (the file states its version).
const GLIBC: [&str; 3] = [
    "/lib/*-linux-gnu/libc.so.6",
    "/usr/lib/*-linux-gnu/libc.so.6",
    "/lib64/libc.so.6",
];

/// The paths native installation reads from an image: pip's configuration, the C library,
/// every distribution's `METADATA` (which the probe reads anyway) and `RECORD`.
pub fn paths() -> Vec<String> {
    index::PIP_CONFIGS
        .iter()
        .chain(std::iter::once(&MUSL_LOADER))
        .chain(GLIBC.iter())
        .chain(METADATA_GLOBS.iter())
        .chain(RECORD_GLOBS.iter())
        .map(|path| path.to_string())
        .collect()
}

/// The content of an image file, when the image has it.
pub fn content<'a>(files: &'a [ImageFile], path: &str) -> Option<&'a [u8]> {
    files
        .iter()
        .find(|file| file.path == path && file.kind == FileKind::File)
        .and_then(|file| file.content.as_deref())
}

/// An environment's interpreter version (`11` of Python 3.11), from its folder.
pub fn python_minor(folder: &str) -> Option<u32> {
    python_version(folder)?
        .strip_prefix("python3.")?
        .parse()
        .ok()
}

/// The image's C library.
fn libc(files: &[ImageFile]) -> Option<Libc> {
    let musl = files
        .iter()
        .find(|file| file.path.starts_with("/lib/ld-musl-") && file.kind != FileKind::Missing)
        .map(|file| file.path.as_str());
    let glibc = files
        .iter()
        .filter(|file| file.path.ends_with("/libc.so.6"))
        .find_map(|file| file.content.as_deref());
    tags::libc(musl, glibc)
}

/// One round of resolution: the index's project pages first, then the wheels.
pub fn resolve(request: &NativeRequest) -> Result<Resolution, NativeError> {
    if request.updates.is_empty() {
        return Ok(Resolution::Install(Selection {
            packages: Vec::new(),
            warnings: vec![
                "Python packages are updated only from a report; without one they are left as \
                 they are"
                    .into(),
            ],
        }));
    }
    let configs: Vec<String> = index::PIP_CONFIGS
        .iter()
        .filter_map(|path| content(&request.files, path))
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .collect();
    let index = index::index_url(&configs.iter().map(String::as_str).collect::<Vec<_>>())
        .map_err(NativeError::Unsupported)?;
    let page = |name: &str| format!("{index}/{}/", normalise(name));
    let fetched = |url: &str| request.fetched.iter().find(|file| file.url == url);
    let mut wanted: Vec<RepositoryFile> = Vec::new();
    for update in &request.updates {
        let url = page(&update.package);
        if fetched(&url).is_none() && !wanted.iter().any(|file| file.url == url) {
            wanted.push(RepositoryFile {
                url,
                sha256: None,
                size: None,
                signature: None,
                accept: Some(index::JSON.into()),
                decompress: false,
                optional: false,
            });
        }
    }
    if !wanted.is_empty() {
        return Ok(Resolution::Fetch(wanted));
    }
    let arch = tags::architecture(
        &request.platform.architecture,
        request.platform.variant.as_deref(),
    )
    .ok_or_else(|| {
        NativeError::Unsupported(format!(
            "no wheel platform tag is known for {}",
            request.platform.architecture
        ))
    })?;
    let libc = libc(&request.files).ok_or_else(|| {
        NativeError::Unsupported(
            "the image's C library (glibc's libc.so.6 or musl's loader) was not found, so the \
             wheels it can load are not known"
                .into(),
        )
    })?;
    let mut selection = Selection {
        packages: Vec::new(),
        warnings: Vec::new(),
    };
    for update in &request.updates {
        let Placed { folder, dist_info } = placed(update).map_err(NativeError::Failed)?;
        let url = page(&update.package);
        let content = fetched(&url)
            .and_then(|file| file.content.as_deref())
            .ok_or_else(|| NativeError::Failed(format!("{url} was not fetched")))?;
        let files = index::files(&url, content).map_err(NativeError::Unsupported)?;
        let minor = python_minor(&folder).ok_or_else(|| {
            NativeError::Unsupported(format!(
                "the Python version of {folder} is not in its path, so the wheels it can load \
                 are not known"
            ))
        })?;
        let file = choose(update, &files, minor, arch, libc, &mut selection.warnings)?;
        let old = dist_info
            .rsplit('/')
            .next()
            .and_then(|name| name.strip_suffix(".dist-info"))
            .and_then(|name| name.rsplit_once('-'))
            .map(|(_, version)| version.to_string());
        let size = file.size.ok_or_else(|| {
            NativeError::Unsupported(format!(
                "{url} gives no size for {} (PEP 700), which native installation needs",
                file.filename
            ))
        })?;
        let sha256 = file.hashes.sha256.clone().ok_or_else(|| {
            NativeError::Failed(format!("{url} gives no SHA-256 for {}", file.filename))
        })?;
        if selection.packages.iter().any(|known| known.url == file.url) {
            continue;
        }
        selection.packages.push(PackageDownload {
            name: update.package.clone(),
            version: update.fixed_version.trim().to_string(),
            architecture: arch.to_string(),
            url: file.url.clone(),
            check: PackageCheck::Wheel(sha256.to_ascii_lowercase()),
            size,
            replaces: old,
        });
    }
    Ok(Resolution::Install(selection))
}

/// The wheel of the fixed version pip would install into an environment of Python 3.`minor`.
fn choose<'a>(
    update: &RequestedUpdate,
    files: &'a [index::IndexFile],
    minor: u32,
    arch: &str,
    libc: Libc,
    warnings: &mut Vec<String>,
) -> Result<&'a index::IndexFile, NativeError> {
    let fixed = update.fixed_version.trim();
    let python = format!("3.{minor}");
    let of_version: Vec<(&index::IndexFile, WheelName)> = files
        .iter()
        .filter_map(|file| Some((file, tags::wheel_name(&file.filename)?)))
        .filter(|(_, wheel)| {
            version::compare_text(&wheel.version, fixed).ok() == Some(Ordering::Equal)
        })
        .filter(|(file, _)| {
            file.requires_python.as_deref().is_none_or(|specifiers| {
                requirement::parse(&format!("python{specifiers}"))
                    .and_then(|requirement| requirement.allows(&python))
                    .unwrap_or(true)
            })
        })
        .collect();
    let supported = tags::supported(minor, arch, libc);
    let names: Vec<&WheelName> = of_version.iter().map(|(_, wheel)| wheel).collect();
    let Some(best) = tags::best(&names, &supported) else {
        return Err(NativeError::Unsupported(format!(
            "{} {fixed} has no wheel for Python 3.{minor} on {arch} ({}): pip would build it \
             from source, which native installation does not",
            update.package,
            match libc {
                Libc::Glibc(minor) => format!("glibc 2.{minor}"),
                Libc::Musl(minor) => format!("musl 1.{minor}"),
            }
        )));
    };
    let file = of_version[best].0;
    if file.yanked.is_yanked() {
        warnings.push(format!(
            "{} was yanked from the index; pip installs it when pinned, as the report pins it",
            file.filename
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::FetchedFile;
    use salve_plugin_sdk::testing::{file, os, platform, target, update};

    const VENV: &str = "/opt/app/lib/python3.11/site-packages";

    fn request(fetched: Vec<FetchedFile>) -> NativeRequest {
        let mut urllib3 = update("urllib3", "1.26.20");
        urllib3.path = Some(format!("{VENV}/urllib3-1.26.5.dist-info/METADATA"));
        NativeRequest {
            os: os("debian", "12"),
            platform: platform("amd64"),
            target: target("pip"),
            updates: vec![urllib3],
            files: vec![
                file(
                    "/etc/pip.conf",
                    "[global]\nindex-url = https://mirror.example/simple/\n",
                ),
                file(
                    "/usr/lib/x86_64-linux-gnu/libc.so.6",
                    "GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.",
                ),
            ],
            fetched,
            now: 0,
        }
    }

    fn page(files: &str) -> Vec<FetchedFile> {
        vec![FetchedFile {
            url: "https://mirror.example/simple/urllib3/".into(),
            content: Some(format!("{{\"files\": [{files}]}}").into_bytes()),
        }]
    }

    #[test]
    fn the_index_page_is_asked_for_then_the_best_wheel_of_the_fixed_version_chosen() {
        let Ok(Resolution::Fetch(wanted)) = resolve(&request(Vec::new())) else {
            panic!("a first round fetches");
        };
        assert_eq!(wanted[0].url, "https://mirror.example/simple/urllib3/");
        assert_eq!(wanted[0].accept.as_deref(), Some(index::JSON));
        let files = r#"
            {"filename": "urllib3-1.26.20.tar.gz", "url": "https://f/u.tar.gz", "hashes": {"sha256": "aa"}, "size": 9},
            {"filename": "urllib3-1.26.19-py2.py3-none-any.whl", "url": "https://f/old.whl", "hashes": {"sha256": "bb"}, "size": 9},
            {"filename": "urllib3-1.26.20-py2.py3-none-any.whl", "url": "https://f/new.whl", "hashes": {"sha256": "CC"}, "size": 140, "requires-python": ">=2.7, !=3.0.*"}"#;
        let Ok(Resolution::Install(selection)) = resolve(&request(page(files))) else {
            panic!("the second round chooses");
        };
        let chosen = &selection.packages[0];
        assert_eq!(chosen.url, "https://f/new.whl");
        assert_eq!(chosen.check, PackageCheck::Wheel("cc".into()));
        assert_eq!(chosen.replaces.as_deref(), Some("1.26.5"));
    }

    #[test]
    fn a_release_without_a_wheel_for_the_environment_is_left_to_pip() {
        let files = r#"
            {"filename": "urllib3-1.26.20.tar.gz", "url": "https://f/u.tar.gz", "hashes": {"sha256": "aa"}, "size": 9},
            {"filename": "urllib3-1.26.20-cp312-cp312-manylinux_2_17_x86_64.whl", "url": "https://f/312.whl", "hashes": {"sha256": "bb"}, "size": 9},
            {"filename": "urllib3-1.26.20-py3-none-any.whl", "url": "https://f/new.whl", "hashes": {"sha256": "cc"}, "size": 9, "requires-python": ">=3.12"}"#;
        let error = resolve(&request(page(files)));
        assert!(matches!(error, Err(NativeError::Unsupported(message))
            if message.contains("has no wheel for Python 3.11 on x86_64 (glibc 2.36)")));
        let html = vec![FetchedFile {
            url: "https://mirror.example/simple/urllib3/".into(),
            content: Some(b"<html><a href='u.whl'>u.whl</a></html>".to_vec()),
        }];
        assert!(
            matches!(resolve(&request(html)), Err(NativeError::Unsupported(message))
            if message.contains("PEP 691"))
        );
    }
}
