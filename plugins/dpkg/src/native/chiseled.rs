//! Native installation into a Chiseled image: the image holds only the paths its slices cut from
//! each package, so an update writes those paths alone from the new version (the rest of the
//! package stays out) and rewrites Chisel's manifest with the new versions, the new `.deb`s'
//! SHA-256 and each path's new SHA-256, size, mode and link. Chisel runs no maintainer scripts, so none is judged; a path a slice's
//! mutation script changed when the image was cut (`final_sha256`) cannot be made again, and
//! is refused.

use super::install::hex;
use super::resolve::{Installed, Resolved};
use crate::chisel::{self, Entry, MANIFEST, Manifest};
use salve_plugin_sdk::{
    FileKind, FileReads, ImageFile, InstallRequest, InstallStep, NativeError, PackageCheck,
    PackageEntry, UnpackedPackage, WrittenFile,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The packages the manifest lists, with no relations (Chisel keeps none: slices name slices).
pub fn installed(files: &[ImageFile]) -> Result<Vec<Installed>, String> {
    Ok(chisel::installed(files)?
        .into_iter()
        .map(|package| Installed {
            name: package.name,
            version: package.version,
            architecture: package.architecture.unwrap_or_else(|| "all".into()),
            depends: Default::default(),
            breaks: Default::default(),
            provides: Default::default(),
            held: false,
        })
        .collect())
}

/// Leaves out the packages resolution would add (dependencies of the new versions the image
/// was not cut from): slices, not packages, say what a Chiseled image holds.
pub fn leave_out_new_packages(resolved: &mut Resolved<'_>) {
    let (kept, new): (Vec<_>, Vec<_>) = std::mem::take(&mut resolved.chosen)
        .into_iter()
        .partition(|chosen| chosen.replaces.is_some());
    resolved.chosen = kept;
    for chosen in new {
        resolved.warnings.push(format!(
            "{} {} is left out: a new version depends on it, and the image's slices hold \
             nothing of it (Chisel resolves slices, not package dependencies)",
            chosen.package.name, chosen.package.version
        ));
    }
}

/// One round: first the sliced files of the new versions (to digest them), then the file
/// operations and the new manifest.
pub fn install(request: &InstallRequest) -> Result<InstallStep, NativeError> {
    let manifest_file = request
        .files
        .iter()
        .find(|file| file.path == MANIFEST && file.kind == FileKind::File)
        .ok_or_else(|| NativeError::Failed(format!("the image has no {MANIFEST}")))?;
    let mut manifest = Manifest::read(manifest_file.content.as_deref().unwrap_or_default())
        .map_err(NativeError::Failed)?;
    let plans = request
        .packages
        .iter()
        .map(|package| Sliced::of(&manifest, package))
        .collect::<Result<Vec<_>, _>>()?;
    if request.read.is_none() {
        return Ok(InstallStep::Read(FileReads {
            image: Vec::new(),
            packaged: plans.iter().flat_map(|plan| plan.written_files()).collect(),
            statuses: Vec::new(),
        }));
    }
    let packaged: BTreeMap<&str, &[u8]> = request
        .packaged
        .iter()
        .filter_map(|file| Some((file.path.as_str(), file.content.as_deref()?)))
        .collect();
    let mut installation = salve_plugin_sdk::no_installation();
    for plan in &plans {
        plan.apply(&mut manifest, &packaged, &mut installation)
            .map_err(NativeError::Failed)?;
    }
    installation.files.push(WrittenFile {
        path: MANIFEST.into(),
        content: manifest.write(),
        mode: manifest_file_mode(&manifest),
    });
    Ok(InstallStep::Done(installation))
}

/// What one package's update does to a Chiseled image.
struct Sliced<'a> {
    /// The new version, opened.
    package: &'a UnpackedPackage,
    /// The files and links those slices installed, with the new version's entry for each, if
    /// it has one.
    paths: Vec<(String, Option<&'a PackageEntry>)>,
}

impl<'a> Sliced<'a> {
    /// The update of `package` in the image `manifest` describes.
    fn of(manifest: &Manifest, package: &'a UnpackedPackage) -> Result<Sliced<'a>, NativeError> {
        let name = package.download.name.as_str();
        let slices: BTreeSet<String> = manifest
            .entries
            .iter()
            .filter_map(|entry| match entry {
                Entry::Slice(slice) if chisel::package_of(&slice.name) == name => {
                    Some(slice.name.clone())
                }
                _ => None,
            })
            .collect();
        let entries: BTreeMap<&str, &PackageEntry> = package
            .entries
            .iter()
            .map(|entry| (entry.path.trim_end_matches('/'), entry))
            .collect();
        let mut paths = Vec::new();
        for path in manifest.paths() {
            if !path.slices.iter().any(|slice| slices.contains(slice)) {
                continue;
            }
            if !path.final_sha256.is_empty() {
                return Err(NativeError::Unsupported(format!(
                    "{} of {name} was changed by its slice's mutation script when the image \
                     was cut, which salve cannot run again",
                    path.path
                )));
            }
            // Folders stay as the image has them; the manifest is Chisel's own.
            if path.path.ends_with('/') || path.path == MANIFEST {
                continue;
            }
            paths.push((path.path.clone(), entries.get(path.path.as_str()).copied()));
        }
        Ok(Sliced { package, paths })
    }

    /// The new version's regular files among the sliced paths.
    fn written_files(&self) -> impl Iterator<Item = String> + '_ {
        self.paths.iter().filter_map(|(path, entry)| {
            entry
                .filter(|entry| entry.kind == FileKind::File)
                .map(|_| path.clone())
        })
    }

    /// Writes the sliced paths (every other path of the package is kept out) and brings the
    /// manifest up to date. A sliced path the new version does not ship stays as it is (a slice
    /// may make paths of its own, which only Chisel knows), and is named.
    fn apply(
        &self,
        manifest: &mut Manifest,
        packaged: &BTreeMap<&str, &[u8]>,
        installation: &mut salve_plugin_sdk::Installation,
    ) -> Result<(), String> {
        let download = &self.package.download;
        let name = download.name.as_str();
        let written: BTreeSet<&str> = self
            .paths
            .iter()
            .filter(|(_, entry)| entry.is_some_and(|e| e.kind != FileKind::Directory))
            .map(|(path, _)| path.as_str())
            .collect();
        // Everything else of the package stays out, folders included (the image has its own).
        installation.kept.extend(
            self.package
                .entries
                .iter()
                .map(|entry| entry.path.trim_end_matches('/'))
                .filter(|path| !path.is_empty() && !written.contains(path))
                .map(str::to_string),
        );
        let PackageCheck::Deb(deb_sha256) = &download.check else {
            return Err(format!("{name}: not a Debian package"));
        };
        for entry in &mut manifest.entries {
            match entry {
                Entry::Package(package) if package.name == name => {
                    package.version = download.version.clone();
                    package.sha256 = deb_sha256.clone();
                    package.arch = download.architecture.clone();
                }
                Entry::Path(path) => {
                    let bare = path.path.trim_end_matches('/');
                    if let Some((_, Some(new))) = self.paths.iter().find(|(p, _)| p == bare) {
                        describe(path, new, packaged)
                            .map_err(|error| format!("{name}: {error}"))?;
                    }
                }
                _ => {}
            }
        }
        let unshipped: Vec<&str> = self
            .paths
            .iter()
            .filter(|(_, entry)| entry.is_none())
            .map(|(path, _)| path.as_str())
            .collect();
        if !unshipped.is_empty() {
            installation.warnings.push(format!(
                "{name} {} does not ship {} of the paths its slices installed; they stay as \
                 they are: {}",
                download.version,
                unshipped.len(),
                unshipped.join(", ")
            ));
        }
        Ok(())
    }
}

/// Sets a path entry to what the new version ships there.
fn describe(
    path: &mut chisel::Path,
    new: &PackageEntry,
    packaged: &BTreeMap<&str, &[u8]>,
) -> Result<(), String> {
    path.mode = format!("0{:o}", new.mode & 0o7777);
    match new.kind {
        FileKind::File => {
            let bare = path.path.trim_end_matches('/');
            let bytes = packaged
                .get(bare)
                .ok_or_else(|| format!("the host did not give {bare} of the new version"))?;
            path.sha256 = hex(&Sha256::digest(bytes));
            path.size = bytes.len() as u64;
            path.link.clear();
        }
        FileKind::Symlink => {
            path.link = new.link_target.clone().unwrap_or_default();
            path.sha256.clear();
            path.size = 0;
        }
        FileKind::Directory | FileKind::Missing => {}
    }
    Ok(())
}

/// The manifest's own mode as its entry records it, else `0644`.
fn manifest_file_mode(manifest: &Manifest) -> u32 {
    manifest
        .paths()
        .find(|path| path.path == MANIFEST)
        .and_then(|path| u32::from_str_radix(&path.mode, 8).ok())
        .unwrap_or(0o644)
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{download, entry, file, os, platform, target};
    use salve_plugin_sdk::{Installation, PackageDownload};

    /// The manifest of an image cut from zlib1g's libraries and base-files' release file.
    fn manifest_text() -> String {
        let lib = "/usr/lib/x86_64-linux-gnu";
        format!(
            "{{\"jsonwall\":\"1.0\",\"schema\":\"1.0\",\"count\":10}}\n\
             {{\"kind\":\"package\",\"name\":\"base-files\",\"version\":\"12.4\",\"sha256\":\"aa\",\"arch\":\"amd64\"}}\n\
             {{\"kind\":\"package\",\"name\":\"zlib1g\",\"version\":\"1:1.2\",\"sha256\":\"bb\",\"arch\":\"amd64\"}}\n\
             {{\"kind\":\"path\",\"path\":\"/usr/lib/os-release\",\"mode\":\"0644\",\"slices\":[\"base-files_release-info\"],\"sha256\":\"cc\",\"size\":3}}\n\
             {{\"kind\":\"path\",\"path\":\"{lib}/\",\"mode\":\"0755\",\"slices\":[\"zlib1g_libs\"]}}\n\
             {{\"kind\":\"path\",\"path\":\"{lib}/libz.so.1\",\"mode\":\"0777\",\"slices\":[\"zlib1g_libs\"],\"link\":\"libz.so.1.2\"}}\n\
             {{\"kind\":\"path\",\"path\":\"{lib}/libz.so.1.2\",\"mode\":\"0644\",\"slices\":[\"zlib1g_libs\"],\"sha256\":\"dd\",\"size\":4}}\n\
             {{\"kind\":\"path\",\"path\":\"{lib}/libz.so.1.2.old\",\"mode\":\"0644\",\"slices\":[\"zlib1g_libs\"],\"sha256\":\"ee\",\"size\":4}}\n\
             {{\"kind\":\"slice\",\"name\":\"base-files_release-info\"}}\n\
             {{\"kind\":\"slice\",\"name\":\"zlib1g_libs\"}}\n"
        )
    }

    fn compressed(text: &str) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(
            text.as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        )
    }

    fn request(read: Option<Vec<ImageFile>>, packaged: Vec<ImageFile>) -> InstallRequest {
        let lib = "/usr/lib/x86_64-linux-gnu";
        let link = PackageEntry {
            link_target: Some("libz.so.1.3".into()),
            ..entry(&format!("{lib}/libz.so.1"), FileKind::Symlink)
        };
        InstallRequest {
            os: os("ubuntu", "24.04"),
            platform: platform("amd64"),
            target: target(crate::detect::CHISEL),
            updates: Vec::new(),
            files: vec![ImageFile {
                content: Some(compressed(&manifest_text())),
                ..file(MANIFEST, "")
            }],
            read,
            packages: vec![UnpackedPackage {
                download: PackageDownload {
                    architecture: "amd64".into(),
                    check: PackageCheck::Deb("ff".into()),
                    ..download("zlib1g", "1:1.3", Some("1:1.2"))
                },
                control: Vec::new(),
                entries: vec![
                    entry("/usr", FileKind::Directory),
                    entry(lib, FileKind::Directory),
                    link,
                    entry(&format!("{lib}/libz.so.1.2"), FileKind::File),
                    entry("/usr/share/doc/zlib1g/changelog.gz", FileKind::File),
                ],
            }],
            packaged,
            statuses: Vec::new(),
        }
    }

    #[test]
    fn the_sliced_paths_alone_are_written_and_the_manifest_follows() {
        let Ok(InstallStep::Read(reads)) = install(&request(None, Vec::new())) else {
            panic!("the first round reads the sliced files");
        };
        assert_eq!(reads.packaged, ["/usr/lib/x86_64-linux-gnu/libz.so.1.2"]);
        let packaged = vec![file("/usr/lib/x86_64-linux-gnu/libz.so.1.2", "new!!")];
        let done: Installation = match install(&request(Some(Vec::new()), packaged)) {
            Ok(InstallStep::Done(done)) => done,
            other => panic!("{other:?}"),
        };
        // The changelog and the folders are not written; the library and its link are.
        for kept in [
            "/usr",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/share/doc/zlib1g/changelog.gz",
        ] {
            assert!(
                done.kept.iter().any(|path| path == kept),
                "{kept}: {:?}",
                done.kept
            );
        }
        assert!(!done.kept.iter().any(|path| path.contains("libz.so")));
        assert!(done.removed.is_empty(), "nothing of the image is removed");
        assert!(
            done.warnings[0].contains("libz.so.1.2.old"),
            "{:?}",
            done.warnings
        );
        let [manifest] = &done.files[..] else {
            panic!("one file: {:?}", done.files)
        };
        assert_eq!(manifest.path, MANIFEST);
        let written = Manifest::read(&manifest.content).unwrap();
        let zlib = written.packages().find(|p| p.name == "zlib1g").unwrap();
        assert_eq!(
            (zlib.version.as_str(), zlib.sha256.as_str()),
            ("1:1.3", "ff")
        );
        let path = |name: &str| {
            written
                .paths()
                .find(|p| p.path == format!("/usr/lib/x86_64-linux-gnu/{name}"))
                .unwrap()
                .clone()
        };
        assert_eq!(path("libz.so.1").link, "libz.so.1.3");
        let library = path("libz.so.1.2");
        assert_eq!(library.sha256, hex(&Sha256::digest(b"new!!")));
        assert_eq!(library.size, 5);
        assert_eq!(path("libz.so.1.2.old").sha256, "ee", "left as it is");
        let base_files = written.packages().find(|p| p.name == "base-files").unwrap();
        assert_eq!(base_files.version, "12.4", "other packages untouched");
    }

    #[test]
    fn a_path_a_mutation_script_changed_is_refused() {
        let mut request = request(None, Vec::new());
        let changed = manifest_text().replace(
            "\"sha256\":\"dd\"",
            "\"sha256\":\"dd\",\"final_sha256\":\"00\"",
        );
        request.files[0].content = Some(compressed(&changed));
        match install(&request) {
            Err(NativeError::Unsupported(message)) => {
                assert!(message.contains("mutation script"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
