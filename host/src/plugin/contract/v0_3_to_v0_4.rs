//! A plugin built for 0.3 called with 0.4's types: the requests converted down (package entries
//! lose their owners, SHA-1 and SHA-256, which 0.3 has no field for) and the answers converted
//! up (a repository file signed by keyrings is an OpenPGP one asked for in any form, a
//! package's SHA-256 a Debian package's check: 0.3 knew no other).

use super::v0_3::native as old;
use super::v0_4::native as new;

impl From<&new::NativeRequest> for old::NativeRequest {
    fn from(request: &new::NativeRequest) -> Self {
        old::NativeRequest {
            os: request.os.clone(),
            platform: request.platform.clone(),
            target: request.target.clone(),
            updates: request.updates.clone(),
            files: request.files.clone(),
            fetched: request
                .fetched
                .iter()
                .map(|file| old::FetchedFile {
                    url: file.url.clone(),
                    content: file.content.clone(),
                })
                .collect(),
            now: request.now,
        }
    }
}

impl From<old::Resolution> for new::Resolution {
    fn from(resolution: old::Resolution) -> Self {
        match resolution {
            old::Resolution::Fetch(files) => new::Resolution::Fetch(
                files
                    .into_iter()
                    .map(|file| new::RepositoryFile {
                        url: file.url,
                        sha256: file.sha256,
                        size: file.size,
                        signature: (!file.keyrings.is_empty())
                            .then_some(new::SignatureCheck::Openpgp(file.keyrings)),
                        accept: None,
                        decompress: file.decompress,
                        optional: file.optional,
                    })
                    .collect(),
            ),
            old::Resolution::Install(selection) => new::Resolution::Install(new::Selection {
                packages: selection.packages.into_iter().map(Into::into).collect(),
                warnings: selection.warnings,
            }),
        }
    }
}

impl From<old::PackageDownload> for new::PackageDownload {
    fn from(package: old::PackageDownload) -> Self {
        new::PackageDownload {
            name: package.name,
            version: package.version,
            architecture: package.architecture,
            url: package.url,
            check: new::PackageCheck::Deb(package.sha256),
            size: package.size,
            replaces: package.replaces,
        }
    }
}

impl From<&new::PackageDownload> for old::PackageDownload {
    /// A 0.3 plugin installs only what it chose, Debian packages; another format's digest would
    /// stand where it reads a SHA-256.
    fn from(package: &new::PackageDownload) -> Self {
        let (new::PackageCheck::Deb(digest)
        | new::PackageCheck::Apk(digest)
        | new::PackageCheck::Wheel(digest)) = &package.check;
        old::PackageDownload {
            name: package.name.clone(),
            version: package.version.clone(),
            architecture: package.architecture.clone(),
            url: package.url.clone(),
            sha256: digest.clone(),
            size: package.size,
            replaces: package.replaces.clone(),
        }
    }
}

impl From<&new::InstallRequest> for old::InstallRequest {
    fn from(request: &new::InstallRequest) -> Self {
        old::InstallRequest {
            os: request.os.clone(),
            platform: request.platform.clone(),
            target: request.target.clone(),
            files: request.files.clone(),
            read: request.read.clone(),
            packages: request
                .packages
                .iter()
                .map(|package| old::UnpackedPackage {
                    download: (&package.download).into(),
                    control: package.control.clone(),
                    entries: package
                        .entries
                        .iter()
                        .map(|entry| old::PackageEntry {
                            path: entry.path.clone(),
                            kind: entry.kind,
                            mode: entry.mode,
                            link_target: entry.link_target.clone(),
                            md5: entry.md5.clone(),
                        })
                        .collect(),
                })
                .collect(),
            packaged: request.packaged.clone(),
            statuses: request
                .statuses
                .iter()
                .map(|status| old::PathStatus {
                    path: status.path.clone(),
                    kind: status.kind,
                    mode: status.mode,
                    uid: status.uid,
                    gid: status.gid,
                })
                .collect(),
        }
    }
}

impl From<old::InstallStep> for new::InstallStep {
    fn from(step: old::InstallStep) -> Self {
        match step {
            old::InstallStep::Read(reads) => new::InstallStep::Read(new::FileReads {
                image: reads.image,
                packaged: reads.packaged,
                statuses: reads.statuses,
            }),
            old::InstallStep::Done(installation) => new::InstallStep::Done(new::Installation {
                files: installation
                    .files
                    .into_iter()
                    .map(|file| new::WrittenFile {
                        path: file.path,
                        content: file.content,
                        mode: file.mode,
                    })
                    .collect(),
                links: installation
                    .links
                    .into_iter()
                    .map(|link| new::SymbolicLink {
                        path: link.path,
                        target: link.target,
                    })
                    .collect(),
                removed: installation.removed,
                removed_folders: Vec::new(),
                kept: installation.kept,
                diverted: installation.diverted,
                warnings: installation.warnings,
            }),
        }
    }
}

impl From<old::NativeError> for new::NativeError {
    fn from(error: old::NativeError) -> Self {
        match error {
            old::NativeError::Unsupported(reason) => new::NativeError::Unsupported(reason),
            old::NativeError::Failed(reason) => new::NativeError::Failed(reason),
        }
    }
}
