//! Native installation: updates installed by reading and writing files, nothing of the image
//! run. The plugin reads the image's apt sources, pins and package database, asks the host for
//! the signed repository files it needs (round by round), resolves the updates as apt would,
//! and turns the packages the host downloaded and opened into dpkg's database files.

mod certificates;
mod chiseled;
mod control;
mod index;
mod install;
mod pinning;
mod relations;
mod release;
mod resolve;
mod reviewed;
mod scripts;
mod services;
mod sources;
mod timezone;
mod x509;

use crate::chisel;
use crate::detect::{CHISEL, STATUS, STATUS_D};
use index::Available;
use relations::Clauses;
use release::Release;
use resolve::{Goal, Installed};
use salve_plugin_sdk::{
    FetchedFile, FileKind, ImageFile, InstallRequest, InstallStep, NativeError, NativeRequest,
    PackageCheck, PackageDownload, Platform, RepositoryFile, Resolution, Selection, SignatureCheck,
    Target,
};
use sources::Source;

/// apt's one-line sources.
const SOURCES_LIST: &str = "/etc/apt/sources.list";
/// apt's folder of more sources.
const SOURCES_D: &str = "/etc/apt/sources.list.d";
/// apt's legacy keyring, trusted for every source without `Signed-By`.
const TRUSTED_GPG: &str = "/etc/apt/trusted.gpg";
/// apt's folder of keyrings trusted for every source without `Signed-By`.
const TRUSTED_GPG_D: &str = "/etc/apt/trusted.gpg.d";
/// apt's pins.
const PREFERENCES: &str = "/etc/apt/preferences";
/// apt's folder of more pins.
const PREFERENCES_D: &str = "/etc/apt/preferences.d";

/// Where the host puts the tooling image's files (the contract's prefix for them).
const TOOLING: &str = "/salve-tooling";

/// Where apt's configuration is read: the image's own, or, for a target without apt
/// (distroless), the tooling image's.
fn apt_root(target: &Target) -> &'static str {
    if target.distroless { TOOLING } else { "" }
}

/// What native installation reads: apt's configuration (sources, keyrings, pins) from the image
/// and from the tooling image (the host reads those when the plan names one), the package
/// database from the image, and what the maintainer scripts salve has read look at.
pub fn paths() -> Vec<String> {
    let apt: Vec<String> = [
        SOURCES_LIST.to_string(),
        format!("{SOURCES_D}/*"),
        TRUSTED_GPG.into(),
        format!("{TRUSTED_GPG_D}/*"),
        "/usr/share/keyrings/*".into(),
        "/etc/apt/keyrings/*".into(),
        PREFERENCES.into(),
        format!("{PREFERENCES_D}/*"),
    ]
    .into_iter()
    .collect();
    let mut paths: Vec<String> = apt.iter().map(|path| format!("{TOOLING}{path}")).collect();
    paths.extend(apt);
    paths.extend([
        STATUS.into(),
        format!("{STATUS_D}/*"),
        chisel::MANIFEST.into(),
        install::DIVERSIONS.into(),
        install::INFO_FILES.into(),
        format!("{}/*", install::ALTERNATIVES),
        install::FILE_TRIGGERS.into(),
        reviewed::PASSWD.into(),
        reviewed::PAM_SEEN.into(),
        format!("{}/*", reviewed::PAM_CONFIGS),
        timezone::LOCALTIME.into(),
        timezone::TIMEZONE.into(),
        format!("{}/*", services::SYSTEMD_MASKED),
    ]);
    // Read with the probe, so that reproducing ca-certificates' scripts reads no layer again.
    paths.extend(certificates::image_reads());
    paths
}

/// The files apt's configuration is read from, at apt's own paths: the image's, or the tooling
/// image's with the prefix taken off.
fn apt_files(request: &NativeRequest) -> Vec<ImageFile> {
    let root = apt_root(&request.target);
    request
        .files
        .iter()
        .filter_map(|file| {
            let path = if root.is_empty() {
                (!file.path.starts_with(&format!("{TOOLING}/"))).then_some(file.path.as_str())?
            } else {
                file.path.strip_prefix(root)?
            };
            Some(ImageFile {
                path: path.to_string(),
                ..file.clone()
            })
        })
        .collect()
}

/// What another engine may do.
fn unsupported(message: String) -> NativeError {
    NativeError::Unsupported(message)
}

/// What no engine can do, or repository files that are not valid.
fn failed(message: String) -> NativeError {
    NativeError::Failed(message)
}

/// One round of installation: a Chiseled image's sliced paths and manifest, or dpkg's way.
pub fn install(request: &InstallRequest) -> Result<InstallStep, NativeError> {
    if request.target.manager == CHISEL {
        chiseled::install(request)
    } else {
        install::install(request)
    }
}

/// One round of resolution.
pub fn resolve(request: &NativeRequest) -> Result<Resolution, NativeError> {
    let architecture = dpkg_architecture(&request.platform).map_err(unsupported)?;
    let apt = apt_files(request);
    let root = apt_root(&request.target);
    let sources: Vec<Source> = read_sources(&apt)
        .map_err(unsupported)?
        .into_iter()
        .filter(|source| {
            source.architectures.is_empty()
                || source.architectures.iter().any(|a| a == architecture)
        })
        .collect();
    if sources.is_empty() {
        let whose = if root.is_empty() {
            "image"
        } else {
            "tooling image"
        };
        return Err(unsupported(format!(
            "the {whose} names no apt sources for {architecture} in {SOURCES_LIST} or {SOURCES_D}"
        )));
    }
    let fetched =
        |url: &str| -> Option<&FetchedFile> { request.fetched.iter().find(|file| file.url == url) };

    // Round 1: each suite's signed InRelease.
    let mut need = Vec::new();
    for source in &sources {
        let url = in_release_url(source);
        if fetched(&url).is_none() && !need.iter().any(|file: &RepositoryFile| file.url == url) {
            need.push(RepositoryFile {
                url,
                sha256: None,
                size: None,
                signature: Some(SignatureCheck::Openpgp(
                    keyrings_for(source, &apt)
                        .map_err(unsupported)?
                        .into_iter()
                        .map(|keyring| format!("{root}{keyring}"))
                        .collect(),
                )),
                accept: None,
                decompress: false,
                optional: false,
            });
        }
    }
    if !need.is_empty() {
        return Ok(Resolution::Fetch(need));
    }

    // Round 2: the package indexes the releases list for the image's architecture.
    let mut releases = Vec::new();
    for source in &sources {
        let url = in_release_url(source);
        let text = text_of(fetched(&url), &url).map_err(failed)?;
        releases.push(release::parse(text, request.now, &url).map_err(failed)?);
    }
    let mut indexes: Vec<(usize, String)> = Vec::new();
    for (number, (source, release)) in sources.iter().zip(&releases).enumerate() {
        for file in index_files(source, release, architecture).map_err(unsupported)? {
            if fetched(&file.url).is_none() {
                need.push(file.clone());
            }
            indexes.push((number, file.url));
        }
    }
    if !need.is_empty() {
        return Ok(Resolution::Fetch(need));
    }

    // Round 3: resolve.
    let mut available: Vec<Available> = Vec::new();
    for (number, url) in &indexes {
        let text = text_of(fetched(url), url).map_err(failed)?;
        available.extend(
            index::parse(text, &sources[*number].uri, &releases[*number], url).map_err(failed)?,
        );
    }
    let pins = read_pins(&apt).map_err(unsupported)?;
    let chiseled = request.target.manager == CHISEL;
    let installed = if chiseled {
        chiseled::installed(&request.files).map_err(failed)?
    } else {
        read_installed(&request.files).map_err(failed)?
    };
    let goal = Goal {
        updates: request
            .updates
            .iter()
            .map(|update| (update.package.as_str(), update.fixed_version.as_str()))
            .collect(),
        architecture,
        partial: chiseled,
    };
    let mut resolved = resolve::resolve(&installed, &available, &pins, &goal)?;
    if chiseled {
        chiseled::leave_out_new_packages(&mut resolved);
    }
    Ok(Resolution::Install(Selection {
        packages: resolved
            .chosen
            .into_iter()
            .map(|chosen| PackageDownload {
                name: chosen.package.name.to_string(),
                version: chosen.package.version.to_string(),
                architecture: chosen.package.architecture.to_string(),
                url: chosen.package.url(),
                check: PackageCheck::Deb(chosen.package.sha256.to_ascii_lowercase()),
                size: chosen.package.size,
                replaces: chosen.replaces,
            })
            .collect(),
        warnings: resolved.warnings,
    }))
}

/// dpkg's name for an OCI platform's architecture.
fn dpkg_architecture(platform: &Platform) -> Result<&'static str, String> {
    Ok(
        match (platform.architecture.as_str(), platform.variant.as_deref()) {
            ("amd64", _) => "amd64",
            ("arm64", _) => "arm64",
            ("arm", Some("v7") | None) => "armhf",
            ("arm", Some("v5" | "v6")) => "armel",
            ("386", _) => "i386",
            ("ppc64le", _) => "ppc64el",
            ("s390x", _) => "s390x",
            ("riscv64", _) => "riscv64",
            ("mips64le", _) => "mips64el",
            (other, _) => return Err(format!("no Debian architecture for the platform {other}")),
        },
    )
}

/// The `InRelease` of a source.
fn in_release_url(source: &Source) -> String {
    format!("{}/dists/{}/InRelease", source.uri, source.suite)
}

/// The content of a fetched file as text.
fn text_of<'a>(file: Option<&'a FetchedFile>, url: &str) -> Result<&'a str, String> {
    let content = file
        .and_then(|file| file.content.as_deref())
        .ok_or_else(|| format!("the host did not give {url}"))?;
    std::str::from_utf8(content).map_err(|_| format!("{url} is not UTF-8 text"))
}

/// The keyrings a source's `InRelease` must be signed by: its `Signed-By`, else the keyrings
/// apt trusts for every source (`trusted.gpg` and `trusted.gpg.d`).
fn keyrings_for(source: &Source, files: &[ImageFile]) -> Result<Vec<String>, String> {
    let present = |path: &str| {
        files
            .iter()
            .any(|file| file.path == path && file.kind == FileKind::File)
    };
    let keyrings: Vec<String> = if source.signed_by.is_empty() {
        files
            .iter()
            .filter(|file| file.kind == FileKind::File)
            .filter(|file| {
                file.path == TRUSTED_GPG
                    || file.path.starts_with(&format!("{TRUSTED_GPG_D}/"))
                        && (file.path.ends_with(".gpg") || file.path.ends_with(".asc"))
            })
            .map(|file| file.path.clone())
            .collect()
    } else {
        for keyring in &source.signed_by {
            if !present(keyring) {
                return Err(format!(
                    "{}: the keyring {keyring} it is signed by is not in the image (native \
                     installation reads keyrings from {TRUSTED_GPG_D}, /usr/share/keyrings and \
                     /etc/apt/keyrings)",
                    source.origin
                ));
            }
        }
        source.signed_by.clone()
    };
    if keyrings.is_empty() {
        return Err(format!(
            "{}: the image trusts no keyring for {} (nothing in {TRUSTED_GPG_D}, no Signed-By)",
            source.origin, source.uri
        ));
    }
    Ok(keyrings)
}

/// The package indexes of a source for `architecture`: per component, the best-compressed
/// `Packages` the release lists, and `binary-all` where the release keeps `all` packages apart.
fn index_files(
    source: &Source,
    release: &Release,
    architecture: &str,
) -> Result<Vec<RepositoryFile>, String> {
    let mut architectures = vec![architecture];
    if !release.all_in_each_architecture && release.architectures.iter().any(|a| a == "all") {
        architectures.push("all");
    }
    let mut files = Vec::new();
    for component in &source.components {
        for architecture in &architectures {
            let base = format!("{component}/binary-{architecture}/Packages");
            let chosen = [".xz", ".gz", ""]
                .iter()
                .map(|suffix| format!("{base}{suffix}"))
                .find(|path| release.files.contains_key(path))
                .ok_or_else(|| {
                    format!(
                        "{} {} lists no {base} (is {architecture} built there?)",
                        source.uri, source.suite
                    )
                })?;
            let (sha256, size) = &release.files[&chosen];
            files.push(RepositoryFile {
                url: format!("{}/dists/{}/{chosen}", source.uri, source.suite),
                sha256: Some(sha256.clone()),
                size: Some(*size),
                signature: None,
                accept: None,
                decompress: true,
                optional: false,
            });
        }
    }
    Ok(files)
}

/// Every source the image's apt configuration names.
fn read_sources(files: &[ImageFile]) -> Result<Vec<Source>, String> {
    let mut sources = Vec::new();
    for (path, text) in texts(files) {
        if path == SOURCES_LIST || path.starts_with(SOURCES_D) && path.ends_with(".list") {
            sources.extend(sources::parse_list(path, text)?);
        } else if path.starts_with(SOURCES_D) && path.ends_with(".sources") {
            sources.extend(sources::parse_deb822(path, text)?);
        }
    }
    Ok(sources)
}

/// Every pin of the image's apt preferences.
fn read_pins(files: &[ImageFile]) -> Result<Vec<pinning::Pin>, String> {
    let mut pins = Vec::new();
    for (path, text) in texts(files) {
        let in_folder = path.starts_with(&format!("{PREFERENCES_D}/"))
            && (path.ends_with(".pref")
                || !path.rsplit('/').next().unwrap_or_default().contains('.'));
        if path == PREFERENCES || in_folder {
            pins.extend(pinning::parse(path, text)?);
        }
    }
    Ok(pins)
}

/// The installed packages, from `status` or `status.d`.
fn read_installed(files: &[ImageFile]) -> Result<Vec<Installed>, String> {
    let mut installed = Vec::new();
    for (path, text) in texts(files) {
        let database = path == STATUS
            || path.starts_with(&format!("{STATUS_D}/")) && !path.ends_with(".md5sums");
        if !database {
            continue;
        }
        for stanza in control::parse(text).map_err(|error| format!("{path}: {error}"))? {
            let status = stanza.get("Status").unwrap_or("install ok installed");
            if !status.ends_with(" installed") {
                continue;
            }
            let relations = |fields: &[&str]| -> Result<Clauses, String> {
                let mut clauses = Clauses::new();
                for field in fields {
                    clauses.extend(
                        relations::parse(stanza.get(field).unwrap_or_default())
                            .map_err(|error| format!("{path}: {error}"))?,
                    );
                }
                Ok(clauses)
            };
            installed.push(Installed {
                name: stanza.require("Package")?.to_string(),
                version: stanza.require("Version")?.to_string(),
                architecture: stanza.get("Architecture").unwrap_or("all").to_string(),
                depends: relations(&["Pre-Depends", "Depends"])?,
                breaks: relations(&["Breaks", "Conflicts"])?,
                provides: relations(&["Provides"])?,
                held: status.starts_with("hold "),
            });
        }
    }
    Ok(installed)
}

/// The regular files among `files`, as text (files that are not UTF-8 are skipped).
fn texts(files: &[ImageFile]) -> impl Iterator<Item = (&str, &str)> {
    files.iter().filter_map(|file| {
        let content = file
            .content
            .as_deref()
            .filter(|_| file.kind == FileKind::File)?;
        Some((file.path.as_str(), std::str::from_utf8(content).ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{file, os, platform, target};

    /// Ubuntu 24.04's own sources file, as its images ship it.
    const UBUNTU_SOURCES: &str = "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\n\
Suites: noble noble-updates noble-backports\nComponents: main universe restricted multiverse\n\
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n\n\
Types: deb\nURIs: http://security.ubuntu.com/ubuntu/\nSuites: noble-security\n\
Components: main universe restricted multiverse\n\
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n";

    fn request(files: Vec<ImageFile>, architecture: &str, distroless: bool) -> NativeRequest {
        let mut target = target("apt");
        target.distroless = distroless;
        NativeRequest {
            os: os("ubuntu", "24.04"),
            platform: platform(architecture),
            target,
            updates: Vec::new(),
            files,
            fetched: Vec::new(),
            now: 1_764_403_954,
        }
    }

    #[test]
    fn the_first_round_asks_each_suites_signed_release_with_its_keyring() {
        let files = vec![
            file("/etc/apt/sources.list.d/ubuntu.sources", UBUNTU_SOURCES),
            file("/usr/share/keyrings/ubuntu-archive-keyring.gpg", "key"),
        ];
        let Ok(Resolution::Fetch(wanted)) = resolve(&request(files, "amd64", false)) else {
            panic!("a first round fetches");
        };
        let urls: Vec<&str> = wanted.iter().map(|file| file.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "http://archive.ubuntu.com/ubuntu/dists/noble/InRelease",
                "http://archive.ubuntu.com/ubuntu/dists/noble-updates/InRelease",
                "http://archive.ubuntu.com/ubuntu/dists/noble-backports/InRelease",
                "http://security.ubuntu.com/ubuntu/dists/noble-security/InRelease",
            ]
        );
        assert!(wanted.iter().all(|file| file.signature
            == Some(SignatureCheck::Openpgp(vec![
                "/usr/share/keyrings/ubuntu-archive-keyring.gpg".into()
            ]))
            && !file.decompress));
    }

    #[test]
    fn a_distroless_target_reads_the_tooling_images_configuration() {
        let files = vec![
            file(
                "/salve-tooling/etc/apt/sources.list",
                "deb http://deb.example/debian bookworm main\n",
            ),
            file("/salve-tooling/etc/apt/trusted.gpg.d/debian.asc", "key"),
            file(
                "/etc/apt/sources.list",
                "deb http://ignored.example/debian bookworm main\n",
            ),
        ];
        let Ok(Resolution::Fetch(wanted)) = resolve(&request(files, "arm64", true)) else {
            panic!("a first round fetches");
        };
        assert_eq!(wanted.len(), 1);
        assert_eq!(
            wanted[0].url,
            "http://deb.example/debian/dists/bookworm/InRelease"
        );
        assert_eq!(
            wanted[0].signature,
            Some(SignatureCheck::Openpgp(vec![
                "/salve-tooling/etc/apt/trusted.gpg.d/debian.asc".into()
            ]))
        );
    }

    #[test]
    fn no_sources_and_unknown_architectures_are_unsupported() {
        let unsupported = |result: Result<Resolution, NativeError>| {
            matches!(result, Err(NativeError::Unsupported(_)))
        };
        assert!(unsupported(resolve(&request(Vec::new(), "amd64", false))));
        let files = vec![file(
            "/etc/apt/sources.list",
            "deb http://x/debian bookworm main\n",
        )];
        assert!(unsupported(resolve(&request(files, "loong64", false))));
        let arm = Platform {
            os: "linux".into(),
            architecture: "arm".into(),
            variant: Some("v7".into()),
        };
        assert_eq!(dpkg_architecture(&arm), Ok("armhf"));
    }
}
