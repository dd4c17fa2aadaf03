//! Native installation for Alpine images: what `apk upgrade` would do, as file operations.
//! The plugin reads the image's repositories, keys, world and database, asks the host for the
//! signed indexes (checked against the image's keys), resolves as apk would, and writes the
//! database (`installed`, `scripts.tar`, `triggers`) for the packages the host downloads
//! (each checked by its control and data streams) and unpacks. Nothing of the image runs: the
//! scripts apk would run are reproduced where salve has read them (busybox's links,
//! ca-certificates' trigger when it changes nothing) and refused, by name, where it has not.

pub mod applet_links;
pub mod busybox;
pub mod certificates;
pub mod dependency;
pub mod install;
pub mod repositories;
pub mod resolve;
pub mod scripts;
pub mod stanza;
pub mod tar;

use crate::database::INSTALLED;
use base64::Engine as _;
use repositories::Repository;
use resolve::{Available, Universe};
use salve_plugin_sdk::{
    FileKind, ImageFile, NativeError, NativeRequest, PackageCheck, PackageDownload, RepositoryFile,
    Resolution, Selection, SignatureCheck,
};

/// The image's repositories.
pub const REPOSITORIES: &str = "/etc/apk/repositories";
/// The image's apk architecture.
pub const ARCH: &str = "/etc/apk/arch";
/// What the image's owner asked apk for.
pub const WORLD: &str = "/etc/apk/world";
/// The keys apk trusts.
pub const KEYS: &str = "/etc/apk/keys";
/// The installed packages' scripts.
pub const SCRIPTS: &str = "/lib/apk/db/scripts.tar";
/// The installed packages' triggers.
pub const TRIGGERS: &str = "/lib/apk/db/triggers";
/// Extra protected paths (configuration apk does not overwrite when changed).
pub const PROTECTED_PATHS: &str = "/etc/apk/protected_paths.d";

/// The paths native installation reads from an image.
pub fn paths() -> Vec<String> {
    [
        REPOSITORIES,
        ARCH,
        WORLD,
        INSTALLED,
        SCRIPTS,
        TRIGGERS,
        &format!("{KEYS}/*"),
        &format!("{PROTECTED_PATHS}/*"),
        &format!("{}/*", scripts::COMMIT_HOOKS),
    ]
    .map(String::from)
    .into()
}

/// The text of an image file, when the image has it.
pub fn text<'a>(files: &'a [ImageFile], path: &str) -> Option<std::borrow::Cow<'a, str>> {
    files
        .iter()
        .find(|file| file.path == path && file.kind == FileKind::File)
        .and_then(|file| file.content.as_deref())
        .map(String::from_utf8_lossy)
}

/// One round of resolution: the signed indexes first, then the packages to install.
pub fn resolve(request: &NativeRequest) -> Result<Resolution, NativeError> {
    let failed = NativeError::Failed;
    let repositories = repositories::parse(
        &text(&request.files, REPOSITORIES)
            .ok_or_else(|| failed(format!("the image has no {REPOSITORIES}")))?,
    )
    .map_err(NativeError::Unsupported)?;
    if repositories.is_empty() {
        return Err(failed(format!("{REPOSITORIES} names no repository")));
    }
    let keys: Vec<String> = request
        .files
        .iter()
        .filter(|file| file.kind == FileKind::File && file.path.starts_with(&format!("{KEYS}/")))
        .map(|file| file.path.clone())
        .collect();
    if keys.is_empty() {
        return Err(failed(format!(
            "the image trusts no key ({KEYS} is empty), so apk would accept no index"
        )));
    }
    let arch = repositories::architecture(text(&request.files, ARCH).as_deref(), &request.platform)
        .map_err(failed)?;
    let fetched = |url: &str| request.fetched.iter().find(|file| file.url == url);
    let wanted: Vec<RepositoryFile> = repositories
        .iter()
        .map(|repository| repository.index_url(&arch))
        .filter(|url| fetched(url).is_none())
        .map(|url| RepositoryFile {
            url,
            sha256: None,
            size: None,
            signature: Some(SignatureCheck::Apk(keys.clone())),
            accept: None,
            decompress: true,
            optional: false,
        })
        .collect();
    if !wanted.is_empty() {
        return Ok(Resolution::Fetch(wanted));
    }
    let mut available = Vec::new();
    for (order, repository) in repositories.iter().enumerate() {
        let url = repository.index_url(&arch);
        let content = fetched(&url)
            .and_then(|file| file.content.as_deref())
            .ok_or_else(|| failed(format!("{url} was not fetched")))?;
        available.extend(index(&url, content, repository, order)?);
    }
    let installed = stanza::parse(
        &text(&request.files, INSTALLED).unwrap_or_default(),
        INSTALLED,
    )
    .map_err(failed)?;
    let world_text = text(&request.files, WORLD).unwrap_or_default();
    let world = dependency::parse_list(&world_text).map_err(failed)?;
    let pins = repositories::pins(&world_text).map_err(failed)?;
    let universe = Universe {
        available: &available,
        installed: &installed,
        world: &world,
        pins: &pins,
    };
    let resolved = resolve::resolve(&universe, &request.updates)?;
    let mut warnings = resolved.warnings;
    if world.is_empty() {
        warnings.push(format!(
            "the image has no {WORLD}: every installed package is taken as wanted"
        ));
    }
    let packages = resolved
        .chosen
        .into_iter()
        .map(|chosen| download(chosen.package, &arch, chosen.replaces))
        .collect::<Result<_, _>>()?;
    Ok(Resolution::Install(Selection { packages, warnings }))
}

/// The packages of a fetched index (the `APKINDEX` member of its tar archive).
fn index(
    url: &str,
    content: &[u8],
    repository: &Repository,
    order: usize,
) -> Result<Vec<Available>, NativeError> {
    let failed = |reason: String| NativeError::Failed(format!("{url}: {reason}"));
    let members = tar::read(content).map_err(failed)?;
    let member = members
        .iter()
        .find(|member| member.name == "APKINDEX")
        .ok_or_else(|| failed("it holds no APKINDEX".into()))?;
    let text = String::from_utf8_lossy(&member.content);
    Ok(stanza::parse(&text, url)
        .map_err(failed)?
        .into_iter()
        .map(|stanza| Available {
            stanza,
            repository: repository.clone(),
            order,
        })
        .collect())
}

/// What the host downloads for a chosen package: checked by its identity (the index's `C:`).
fn download(
    package: &Available,
    arch: &str,
    replaces: Option<String>,
) -> Result<PackageDownload, NativeError> {
    let stanza = &package.stanza;
    let (name, version) = (stanza.name(), stanza.version());
    let identity = stanza.get('C').unwrap_or_default();
    let sha1 = identity
        .strip_prefix("Q1")
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .filter(|digest| digest.len() == 20)
        .ok_or_else(|| {
            NativeError::Unsupported(format!(
                "{name} {version}'s index checksum {identity:?} is not a SHA-1 (Q1) identity, \
                 which native installation checks packages by"
            ))
        })?;
    let size = stanza
        .get('S')
        .and_then(|size| size.parse().ok())
        .ok_or_else(|| NativeError::Failed(format!("{name} {version} has no size in its index")))?;
    Ok(PackageDownload {
        name: name.to_string(),
        version: version.to_string(),
        architecture: stanza.get('A').unwrap_or(arch).to_string(),
        url: package.repository.package_url(arch, name, version),
        check: PackageCheck::Apk(hex(&sha1)),
        size,
        replaces,
    })
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
