//! The contract's values as plugin tests build them: each builder fills in what a test rarely
//! varies (Linux on amd64, no variant, nothing held, no warnings), and a test changes a field of
//! the result where it needs another value.

use crate::{
    FileKind, ImageFile, InstalledPackage, OsInfo, PackageCheck, PackageDownload, PackageEntry,
    PlanRequest, Platform, RequestedUpdate, Target, UnpackedPackage,
};

/// An OS by its os-release `ID` and `VERSION_ID`, without a codename.
pub fn os(id: &str, version_id: &str) -> OsInfo {
    OsInfo {
        id: id.into(),
        version_id: version_id.into(),
        codename: None,
    }
}

/// Linux on the given OCI architecture, without a variant.
pub fn platform(architecture: &str) -> Platform {
    Platform {
        os: "linux".into(),
        architecture: architecture.into(),
        variant: None,
    }
}

/// A regular file at `path` holding `content`.
pub fn file(path: &str, content: impl AsRef<[u8]>) -> ImageFile {
    ImageFile {
        path: path.into(),
        kind: FileKind::File,
        content: Some(content.as_ref().to_vec()),
        link_target: None,
    }
}

/// Nothing at `path`.
pub fn missing(path: &str) -> ImageFile {
    ImageFile {
        path: path.into(),
        kind: FileKind::Missing,
        content: None,
        link_target: None,
    }
}

/// What `detect` returns for an image whose package manager is `manager` and runs in it: not
/// distroless, nothing held, no runtime, no warnings.
pub fn target(manager: &str) -> Target {
    Target {
        manager: manager.into(),
        distroless: false,
        held: Vec::new(),
        runtime: None,
        warnings: Vec::new(),
    }
}

/// An update of `package` to at least `fixed_version`, without a path.
pub fn update(package: &str, fixed_version: &str) -> RequestedUpdate {
    RequestedUpdate {
        package: package.into(),
        fixed_version: fixed_version.into(),
        path: None,
    }
}

/// A plan request for `os` on Linux amd64, with no tooling image.
pub fn plan_request(os: OsInfo, target: Target, updates: Vec<RequestedUpdate>) -> PlanRequest {
    PlanRequest {
        os,
        platform: platform("amd64"),
        target,
        updates,
        tooling_image: None,
    }
}

/// A package as a database records it, without a location.
pub fn installed(name: &str, version: &str, architecture: Option<&str>) -> InstalledPackage {
    InstalledPackage {
        name: name.into(),
        version: version.into(),
        architecture: architecture.map(Into::into),
        location: None,
    }
}

/// A Debian package to download: `name` at `version` for `all`, replacing `replaces`, from
/// nowhere (an empty URL, an empty checksum, size 0).
pub fn download(name: &str, version: &str, replaces: Option<&str>) -> PackageDownload {
    PackageDownload {
        name: name.into(),
        version: version.into(),
        architecture: "all".into(),
        url: String::new(),
        check: PackageCheck::Deb(String::new()),
        size: 0,
        replaces: replaces.map(Into::into),
    }
}

/// A downloaded package with no control members and no entries.
pub fn unpacked(download: PackageDownload) -> UnpackedPackage {
    UnpackedPackage {
        download,
        control: Vec::new(),
        entries: Vec::new(),
    }
}

/// A package entry of `kind` at `path`, owned by root, mode `0o644` (`0o755` for a folder),
/// without a link target or digests.
pub fn entry(path: &str, kind: FileKind) -> PackageEntry {
    PackageEntry {
        path: path.into(),
        kind,
        mode: if kind == FileKind::Directory {
            0o755
        } else {
            0o644
        },
        size: 0,
        uid: 0,
        gid: 0,
        link_target: None,
        md5: None,
        sha1: None,
        sha256: None,
    }
}
