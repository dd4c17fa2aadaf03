//! Installation as dpkg would leave it, in file operations: the new `status` stanzas (or
//! `status.d` files), each package's `info` files, whiteouts for the old versions' files the new
//! ones no longer ship (unless another package owns them), configuration files the image changed
//! kept (the new one beside them as `.dpkg-dist`, as dpkg does with `--force-confold`), and
//! diverted files written where the diversion sends them.

use super::certificates;
use super::control::{self, Stanza};
use super::reviewed::{PAM_CONFIGS, PAM_SEEN, PASSWD};
use super::scripts::{self, Scene, Verdict};
use super::services::SYSTEMD_MASKED;
use super::timezone::{LOCALTIME, TIMEZONE};
use crate::detect::{STATUS, STATUS_D};
use md5::{Digest, Md5};
use salve_plugin_sdk::{
    FileKind, FileReads, ImageFile, InstallRequest, InstallStep, NativeError, UnpackedPackage,
    WrittenFile,
};
use std::collections::{BTreeMap, BTreeSet};

/// dpkg's folder of per-package files.
pub const INFO: &str = "/var/lib/dpkg/info";

/// Every file of [`INFO`]: what installation reads of it (lists, scripts, triggers), asked for
/// whole so the host can answer from what it read for `native-paths`.
pub const INFO_FILES: &str = "/var/lib/dpkg/info/*";

/// dpkg's alternatives database, one file per name.
pub const ALTERNATIVES: &str = "/var/lib/dpkg/alternatives";

/// dpkg's file triggers: a path, then the package interested in it (`/noawait` or not).
pub const FILE_TRIGGERS: &str = "/var/lib/dpkg/triggers/File";

/// dpkg's diversions database.
pub const DIVERSIONS: &str = "/var/lib/dpkg/diversions";

/// The control members dpkg keeps in `info/` (all but `control`).
const INFO_MEMBERS: &[&str] = &[
    "md5sums",
    "conffiles",
    "preinst",
    "postinst",
    "prerm",
    "postrm",
    "triggers",
    "shlibs",
    "symbols",
    "templates",
    "config",
];

/// The scripts an upgrade runs of the old version.
const OLD_SCRIPTS: &[&str] = &["prerm", "postrm"];

/// The scripts an upgrade runs of the new version (`config` through debconf).
const NEW_SCRIPTS: &[&str] = &["preinst", "postinst", "config"];

/// One round of installation: maintainer scripts and triggers whose effect is not known are
/// `unsupported` (another engine runs them); anything else wrong is `failed`.
pub fn install(request: &InstallRequest) -> Result<InstallStep, NativeError> {
    let Some(read) = &request.read else {
        return first_reads(request)
            .map(InstallStep::Read)
            .map_err(NativeError::Failed);
    };
    let files = scripts::by_path(request.files.iter().chain(read));
    let packaged = scripts::by_path(&request.packaged);
    let mut verdict = Verdict::default();
    // A distroless image's packages were unpacked, not configured, when it was built (as the
    // other engines update it): their scripts are not run, so there is nothing to judge.
    if !request.target.distroless {
        for package in &request.packages {
            judge(request, &files, &packaged, package, &mut verdict)
                .map_err(NativeError::Unsupported)?;
        }
    }
    if verdict.must_read() {
        return Ok(InstallStep::Read(verdict.reads));
    }
    install_judged(request, read, &files, verdict).map_err(NativeError::Failed)
}

/// Judges a package's scripts (the old version's `prerm` and `postrm`, the new one's
/// `preinst`, `postinst` and `config`), its triggers, and the file triggers of other packages
/// its files would activate.
fn judge(
    request: &InstallRequest,
    files: &BTreeMap<&str, &ImageFile>,
    packaged: &BTreeMap<&str, &ImageFile>,
    package: &UnpackedPackage,
    verdict: &mut Verdict,
) -> Result<(), String> {
    let name = package.download.name.as_str();
    let info_name = info_name_of(
        name,
        &package.download.architecture,
        &control_stanza(package)?,
    );
    let installed_md5sums = scripts::content(files, &format!("{INFO}/{info_name}.md5sums"))
        .map(String::from_utf8_lossy);
    let scene = Scene {
        from: package.download.replaces.as_deref(),
        files,
        package,
        packages: &request.packages,
        installed_md5sums: installed_md5sums.as_deref(),
        packaged,
        statuses: &request.statuses,
    };
    let old_info = |suffix: &str| scene.text(&format!("{INFO}/{info_name}.{suffix}"));
    for script in OLD_SCRIPTS {
        if let Some(text) = old_info(script) {
            scripts::judge(name, script, &text, &scene, verdict)?;
        }
    }
    for script in NEW_SCRIPTS {
        if let Some(text) = member(package, script) {
            scripts::judge(
                name,
                script,
                &String::from_utf8_lossy(text),
                &scene,
                verdict,
            )?;
        }
    }
    if let Some(text) = member(package, "triggers") {
        scripts::judge_triggers(
            name,
            &String::from_utf8_lossy(text),
            old_info("triggers").as_deref(),
            verdict,
        )?;
    }
    if member(package, "templates").is_some() {
        scripts::note(
            verdict,
            "debconf's database (/var/cache/debconf) keeps the questions of the versions \
             installed before: debconf reads the new ones when the packages are next configured",
        );
    }
    // Files written or removed under another package's interest activate its trigger.
    let interests = scene.text(FILE_TRIGGERS).unwrap_or_default();
    let old_list = old_info("list").unwrap_or_default();
    let touched: Vec<&str> = package
        .entries
        .iter()
        .map(|entry| entry.path.as_str())
        .chain(old_list.lines())
        .collect();
    for line in interests.lines() {
        let Some((path, interested)) = line.split_once(' ') else {
            continue;
        };
        let under = format!("{}/", path.trim_end_matches('/'));
        if let Some(touched) = touched
            .iter()
            .find(|touched| **touched == path || touched.starts_with(&under))
        {
            return Err(format!(
                "{name}'s {touched} activates the file trigger of {}, whose effect salve cannot \
                 reproduce without running it",
                interested.split('/').next().unwrap_or(interested)
            ));
        }
    }
    Ok(())
}

/// The stanza of a package's control file.
fn control_stanza(package: &UnpackedPackage) -> Result<Stanza, String> {
    let name = &package.download.name;
    let control_text = member(package, "control")
        .ok_or_else(|| format!("{name}: the package has no control file"))?;
    control::parse(&String::from_utf8_lossy(control_text))
        .map_err(|error| format!("{name}: control: {error}"))?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{name}: the control file is empty"))
}

/// [`install`] once every package's scripts are judged.
fn install_judged(
    request: &InstallRequest,
    read: &[ImageFile],
    files: &BTreeMap<&str, &ImageFile>,
    verdict: Verdict,
) -> Result<InstallStep, String> {
    let distroless = request.target.distroless;
    let find = |path: &str| scripts::content(files, path);
    let mut installation = salve_plugin_sdk::no_installation();
    let diversions = parse_diversions(find(DIVERSIONS).unwrap_or_default());
    let status_text = String::from_utf8_lossy(find(STATUS).unwrap_or_default()).into_owned();
    let mut status = if distroless {
        Vec::new()
    } else {
        control::parse(&status_text).map_err(|error| format!("{STATUS}: {error}"))?
    };
    let replaced: BTreeSet<&str> = request
        .packages
        .iter()
        .map(|package| package.download.name.as_str())
        .collect();
    // Who owns each path, among the packages that stay as they are.
    let mut owned_by_others: BTreeSet<&str> = BTreeSet::new();
    for file in read.iter().filter(|file| file.kind == FileKind::File) {
        let Some(name) = file
            .path
            .strip_prefix(INFO)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            continue;
        };
        let Some(package) = name.strip_suffix(".list") else {
            continue;
        };
        let package = package.split(':').next().unwrap_or_default();
        if replaced.contains(package) {
            continue;
        }
        owned_by_others.extend(
            std::str::from_utf8(file.content.as_deref().unwrap_or_default())
                .unwrap_or_default()
                .lines(),
        );
    }

    for package in &request.packages {
        let name = package.download.name.as_str();
        let control_text = member(package, "control").unwrap_or_default();
        let mut stanza = control_stanza(package)?;
        if stanza.get("Package") != Some(name)
            || stanza.get("Version") != Some(package.download.version.as_str())
        {
            return Err(format!(
                "{}: the package file says it is {} {}, not {name} {}",
                package.download.url,
                stanza.get("Package").unwrap_or("?"),
                stanza.get("Version").unwrap_or("?"),
                package.download.version
            ));
        }
        let info_name = info_name(&stanza);
        let old_stanza = status
            .iter()
            .position(|old| old.get("Package") == Some(name));
        let old_info = |suffix: &str| find(&format!("{INFO}/{info_name}.{suffix}"));

        // Configuration files.
        let old_conffiles = old_stanza
            .map(|index| conffiles(status[index].get("Conffiles").unwrap_or_default()))
            .unwrap_or_default();
        let new_conffiles: Vec<String> = member(package, "conffiles")
            .map(|text| {
                String::from_utf8_lossy(text)
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .map(|line| line.trim_start_matches("remove-on-upgrade ").to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut conffile_lines = Vec::new();
        for path in &new_conffiles {
            let entry = package
                .entries
                .iter()
                .find(|entry| entry.path == *path)
                .ok_or_else(|| {
                    format!("{name}: configuration file {path} is not in the package")
                })?;
            let new_md5 = entry.md5.clone().unwrap_or_default();
            let current = find(path).map(|bytes| hex(&Md5::digest(bytes)));
            let recorded = old_conffiles.get(path.as_str());
            let keep = match (&current, recorded) {
                // Deleted by the image's maker: dpkg leaves it deleted.
                (None, Some(_)) => true,
                (None, None) => false,
                (Some(current), Some(recorded)) => current != recorded && &new_md5 != current,
                (Some(current), None) => *current != new_md5,
            };
            if keep {
                installation.kept.push(path.clone());
                let changed = recorded.is_some_and(|recorded| *recorded != new_md5);
                if current.is_some() && (changed || recorded.is_none()) {
                    installation
                        .diverted
                        .push((path.clone(), format!("{path}.dpkg-dist")));
                    installation.kept.pop();
                    installation.warnings.push(format!(
                        "{name}: {path} was changed in the image and is kept; the package's \
                         new version is beside it as {path}.dpkg-dist"
                    ));
                }
            }
            conffile_lines.push(format!(" {path} {new_md5}"));
        }
        for (path, md5) in &old_conffiles {
            if !new_conffiles.contains(path) {
                conffile_lines.push(format!(" {path} {md5} obsolete"));
            }
        }

        // Diversions of the package's files by other packages.
        for entry in &package.entries {
            if let Some((to, by)) = diversions.get(entry.path.as_str())
                && by != name
                && !installation
                    .diverted
                    .iter()
                    .any(|(from, _)| *from == entry.path)
            {
                installation
                    .diverted
                    .push((entry.path.clone(), to.to_string()));
            }
        }

        // Files of the old version that the new one does not ship.
        let new_paths: BTreeSet<&str> = package
            .entries
            .iter()
            .map(|entry| entry.path.as_str())
            .collect();
        if let Some(list) = old_info("list") {
            for path in String::from_utf8_lossy(list).lines() {
                let gone = !new_paths.contains(path)
                    && path != "/."
                    && !owned_by_others.contains(path)
                    && !old_conffiles.contains_key(path);
                if gone && !is_directory_of(path, &new_paths) {
                    let path = diversions
                        .get(path)
                        .filter(|(_, by)| by != name)
                        .map_or(path.to_string(), |(to, _)| to.to_string());
                    installation.removed.push(path);
                }
            }
        }

        // The database.
        if distroless {
            let mut text = control_text.to_vec();
            if !text.ends_with(b"\n") {
                text.push(b'\n');
            }
            installation
                .files
                .push(written(&format!("{STATUS_D}/{name}"), text, 0o644));
            if let Some(md5sums) = member(package, "md5sums") {
                installation.files.push(written(
                    &format!("{STATUS_D}/{name}.md5sums"),
                    md5sums.to_vec(),
                    0o644,
                ));
            }
            continue;
        }
        stanza.set("Status", "install ok installed");
        stanza.remove("Conffiles");
        if !conffile_lines.is_empty() {
            stanza.set("Conffiles", &format!("\n{}", conffile_lines.join("\n")));
        }
        stanza.sort_as_dpkg();
        match old_stanza {
            Some(index) => status[index] = stanza,
            None => {
                let at = status
                    .iter()
                    .position(|old| old.get("Package").is_some_and(|other| other > name))
                    .unwrap_or(status.len());
                status.insert(at, stanza);
            }
        }
        let mut list = String::from("/.\n");
        for entry in &package.entries {
            if entry.path != "/" {
                list.push_str(&entry.path);
                list.push('\n');
            }
        }
        installation.files.push(written(
            &format!("{INFO}/{info_name}.list"),
            list.into_bytes(),
            0o644,
        ));
        for suffix in INFO_MEMBERS {
            let path = format!("{INFO}/{info_name}.{suffix}");
            match member(package, suffix) {
                Some(bytes) => {
                    let mode = if NEW_SCRIPTS.contains(suffix)
                        || OLD_SCRIPTS.contains(suffix)
                        || *suffix == "config"
                    {
                        0o755
                    } else {
                        0o644
                    };
                    installation
                        .files
                        .push(written(&path, bytes.to_vec(), mode));
                }
                None if find(&path).is_some() => installation.removed.push(path),
                None => {}
            }
        }
    }
    if !distroless {
        let mut text = String::new();
        for stanza in &status {
            text.push_str(&stanza.to_text());
            text.push('\n');
        }
        installation
            .files
            .push(written(STATUS, text.into_bytes(), 0o644));
    }
    installation.files.extend(verdict.written);
    installation.links.extend(verdict.links);
    installation.removed.extend(verdict.removed);
    installation.warnings.extend(verdict.notes);
    Ok(InstallStep::Done(installation))
}

/// What the first round reads: [`paths_to_read`] of the image, and what reproducing
/// ca-certificates' scripts reads when the run upgrades it besides its native paths (the
/// packages' certificates, the statuses of its folders).
fn first_reads(request: &InstallRequest) -> Result<FileReads, String> {
    let mut reads = FileReads {
        image: paths_to_read(request)?,
        packaged: Vec::new(),
        statuses: Vec::new(),
    };
    let upgrades_certificates = request
        .packages
        .iter()
        .any(|package| package.download.name == certificates::PACKAGE);
    if upgrades_certificates && !request.target.distroless {
        reads.statuses.extend(certificates::status_reads());
        let under = format!("{}/", certificates::CERTS_DIR);
        reads.packaged.extend(
            request
                .packages
                .iter()
                .flat_map(|package| &package.entries)
                .filter(|entry| entry.kind == FileKind::File && entry.path.starts_with(&under))
                .map(|entry| entry.path.clone()),
        );
    }
    Ok(reads)
}

/// The image paths the first round reads: every package's file list (to know who owns what),
/// the replaced packages' `info` files, and the current state of every configuration file.
fn paths_to_read(request: &InstallRequest) -> Result<Vec<String>, String> {
    let distroless = request.target.distroless;
    let mut paths: Vec<String> = [
        INFO_FILES,
        DIVERSIONS,
        FILE_TRIGGERS,
        PASSWD,
        LOCALTIME,
        TIMEZONE,
        PAM_SEEN,
    ]
    .map(String::from)
    .into();
    paths.push(format!("{PAM_CONFIGS}/*"));
    paths.push(format!("{SYSTEMD_MASKED}/*"));
    for package in &request.packages {
        if !distroless {
            let control_text = member(package, "control").unwrap_or_default();
            let stanza = control::parse(&String::from_utf8_lossy(control_text))?
                .into_iter()
                .next()
                .unwrap_or_default();
            let info_name = info_name_of(
                &package.download.name,
                &package.download.architecture,
                &stanza,
            );
            paths.extend(
                INFO_MEMBERS
                    .iter()
                    .map(|suffix| format!("{INFO}/{info_name}.{suffix}")),
            );
        }
        if let Some(conffiles) = member(package, "conffiles") {
            paths.extend(
                String::from_utf8_lossy(conffiles)
                    .lines()
                    .map(str::trim)
                    .filter(|line| line.starts_with('/'))
                    .map(String::from),
            );
        }
    }
    Ok(paths)
}

/// A control member of a package.
fn member<'a>(package: &'a UnpackedPackage, name: &str) -> Option<&'a [u8]> {
    package
        .control
        .iter()
        .find(|file| file.path == name && file.kind == FileKind::File)
        .and_then(|file| file.content.as_deref())
}

/// The name of a package's files in `info/`: `name:arch` for `Multi-Arch: same` packages.
fn info_name(stanza: &Stanza) -> String {
    info_name_of(
        stanza.get("Package").unwrap_or_default(),
        stanza.get("Architecture").unwrap_or_default(),
        stanza,
    )
}

/// [`info_name`] from its parts.
fn info_name_of(name: &str, architecture: &str, stanza: &Stanza) -> String {
    if stanza.get("Multi-Arch") == Some("same") {
        format!("{name}:{architecture}")
    } else {
        name.to_string()
    }
}

/// A `Conffiles` field: path to recorded MD5 (flags such as `obsolete` dropped).
fn conffiles(field: &str) -> BTreeMap<String, String> {
    field
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.to_string()))
        })
        .collect()
}

/// The diversions database: diverted path to (where it goes, the diverting package; `:` for a
/// local diversion).
fn parse_diversions(bytes: &[u8]) -> BTreeMap<String, (String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks_exact(3)
        .map(|triple| {
            (
                triple[0].to_string(),
                (triple[1].to_string(), triple[2].to_string()),
            )
        })
        .collect()
}

/// Whether `path` is a folder holding something the new version ships (folders are not
/// removed while they hold files).
fn is_directory_of(path: &str, new_paths: &BTreeSet<&str>) -> bool {
    let prefix = format!("{path}/");
    new_paths
        .range(prefix.as_str()..)
        .next()
        .is_some_and(|next| next.starts_with(&prefix))
}

/// A database file to write.
fn written(path: &str, content: Vec<u8>, mode: u32) -> WrittenFile {
    WrittenFile {
        path: path.to_string(),
        content,
        mode,
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{self, download, file, os, platform, target};
    use salve_plugin_sdk::{Installation, PackageDownload, PackageEntry};

    const STATUS_TEXT: &str = "Package: tool\nStatus: install ok installed\nArchitecture: amd64\n\
Version: 1\nConffiles:\n /etc/tool.conf 11111111111111111111111111111111\n \
/etc/tool.old 22222222222222222222222222222222\nDescription: a tool\n\n\
Package: zlib\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\nDescription: z\n";

    fn entry(path: &str, md5: Option<&str>) -> PackageEntry {
        let kind = if md5.is_some() {
            FileKind::File
        } else {
            FileKind::Directory
        };
        PackageEntry {
            mode: 0o644,
            md5: md5.map(String::from),
            ..testing::entry(path, kind)
        }
    }

    fn request(read: Option<Vec<ImageFile>>) -> InstallRequest {
        InstallRequest {
            os: os("debian", "12"),
            platform: platform("amd64"),
            target: target("apt"),
            updates: Vec::new(),
            files: vec![file(STATUS, STATUS_TEXT)],
            read,
            packages: vec![UnpackedPackage {
                download: PackageDownload {
                    architecture: "amd64".into(),
                    url: "http://x/pool/tool.deb".into(),
                    ..download("tool", "2", Some("1"))
                },
                control: vec![
                    file(
                        "control",
                        "Package: tool\nVersion: 2\nArchitecture: amd64\nDescription: a tool\n",
                    ),
                    file("conffiles", "/etc/tool.conf\n"),
                    file(
                        "md5sums",
                        "33333333333333333333333333333333  usr/bin/tool\n",
                    ),
                ],
                entries: vec![
                    entry("/", None),
                    entry("/etc", None),
                    entry("/etc/tool.conf", Some("44444444444444444444444444444444")),
                    entry("/usr/bin/tool", Some("33333333333333333333333333333333")),
                ],
            }],
            packaged: Vec::new(),
            statuses: Vec::new(),
        }
    }

    fn installation(read: Vec<ImageFile>) -> Installation {
        match install(&request(Some(read))) {
            Ok(InstallStep::Done(installation)) => installation,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_first_round_reads_lists_info_files_and_configuration_files() {
        let Ok(InstallStep::Read(paths)) = install(&request(None)) else {
            panic!("a first round reads");
        };
        for path in [
            "/var/lib/dpkg/info/*",
            "/var/lib/dpkg/info/tool.postrm",
            "/etc/tool.conf",
        ] {
            assert!(
                paths.image.iter().any(|asked| asked == path),
                "{path}: {paths:?}"
            );
        }
    }

    #[test]
    fn status_lists_and_whiteouts_are_what_dpkg_leaves() {
        let list = "/.\n/usr\n/usr/bin\n/usr/bin/tool\n/usr/bin/oldtool\n/usr/share/shared\n/etc/tool.conf\n";
        let done = installation(vec![
            file("/var/lib/dpkg/info/tool.list", list),
            file(
                "/var/lib/dpkg/info/tool.prerm",
                "#!/bin/sh\nset -e\nexit 0\n",
            ),
            file("/var/lib/dpkg/info/zlib.list", "/.\n/usr/share/shared\n"),
            file("/etc/tool.conf", "unchanged by the image\n"),
        ]);
        let written = |path: &str| {
            let file = done.files.iter().find(|file| file.path == path).unwrap();
            String::from_utf8(file.content.clone()).unwrap()
        };
        let status = written(STATUS);
        assert!(status.starts_with("Package: tool\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2\nConffiles:\n /etc/tool.conf 44444444444444444444444444444444\n /etc/tool.old 22222222222222222222222222222222 obsolete\nDescription: a tool\n\nPackage: zlib\n"), "{status}");
        assert_eq!(
            written("/var/lib/dpkg/info/tool.list"),
            "/.\n/etc\n/etc/tool.conf\n/usr/bin/tool\n"
        );
        // Gone: the old program and the old prerm; kept: a file zlib owns too, folders.
        assert_eq!(
            done.removed,
            ["/usr/bin/oldtool", "/var/lib/dpkg/info/tool.prerm"]
        );
        // The image's copy matched neither md5 recorded: it changed it, so it is kept.
        assert_eq!(
            done.diverted,
            [(
                "/etc/tool.conf".to_string(),
                "/etc/tool.conf.dpkg-dist".to_string()
            )]
        );
    }

    #[test]
    fn a_configuration_file_the_image_left_alone_is_replaced() {
        let mut request = request(None);
        let digest = hex(&Md5::digest(b"as shipped\n"));
        request.files = vec![file(
            STATUS,
            STATUS_TEXT.replace("11111111111111111111111111111111", &digest),
        )];
        request.read = Some(vec![file("/etc/tool.conf", "as shipped\n")]);
        let Ok(InstallStep::Done(done)) = install(&request) else {
            panic!("installed");
        };
        assert!(done.kept.is_empty() && done.diverted.is_empty(), "{done:?}");
    }

    #[test]
    fn an_unknown_script_is_unsupported_and_named() {
        let error = install(&request(Some(vec![file(
            "/var/lib/dpkg/info/tool.postrm",
            "#!/bin/sh\nrm -rf /var/cache/tool\n",
        )])))
        .unwrap_err();
        let NativeError::Unsupported(message) = error else {
            panic!("unsupported: {error:?}");
        };
        assert!(message.contains("old postrm script of tool"), "{message}");
    }

    #[test]
    fn files_under_another_package_s_trigger_interest_are_unsupported() {
        let interest =
            "/usr/share/debianutils/shells.d debianutils/noawait\n/usr/bin/tool-docs man-db\n";
        let quiet = installation(vec![file(FILE_TRIGGERS, "/usr/share/man man-db/noawait\n")]);
        assert!(
            quiet
                .warnings
                .iter()
                .all(|warning| !warning.contains("trigger"))
        );
        let error = install(&request(Some(vec![file(
            FILE_TRIGGERS,
            interest.replace("/usr/bin/tool-docs", "/usr/bin"),
        )])))
        .unwrap_err();
        let NativeError::Unsupported(message) = error else {
            panic!("unsupported: {error:?}");
        };
        assert!(
            message.contains("/usr/bin/tool activates the file trigger of man-db"),
            "{message}"
        );
        // A file the old version had and the new one drops activates it too.
        let error = install(&request(Some(vec![
            file(FILE_TRIGGERS, "/usr/share/tool man-db\n"),
            file(
                "/var/lib/dpkg/info/tool.list",
                "/.\n/usr/share/tool/old.txt\n",
            ),
        ])))
        .unwrap_err();
        assert!(
            format!("{error:?}").contains("/usr/share/tool/old.txt"),
            "{error:?}"
        );
    }
}
