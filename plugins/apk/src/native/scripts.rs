//! The programs apk would run in an update, judged rather than run: each package's scripts for
//! this update (`.pre-upgrade` and `.post-upgrade` of an upgraded package, `.pre-install` and
//! `.post-install` of a new one), the triggers of packages watching a folder the update changes
//! (a new or upgraded package's trigger fires for every folder it watches), and the image's
//! commit hooks (`/etc/apk/commit_hooks.d`). A script salve has read (identified by the SHA-256
//! of its bytes, [`REVIEWED`]) is reproduced or found to do nothing; any other is refused by name.

use super::install::{glob_matches, installed_scripts, owned_folders, package_info};
use super::stanza::Stanza;
use super::{SCRIPTS, TRIGGERS, hex, text};
use salve_plugin_sdk::{FileKind, ImageFile, InstallRequest, NativeError, UnpackedPackage};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Where apk finds the programs it runs before and after each commit.
pub const COMMIT_HOOKS: &str = "/etc/apk/commit_hooks.d";

/// What a script salve has read does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reviewed {
    /// busybox's trigger: `busybox --install -s` for a changed binary folder (`depmod` for a
    /// changed module folder); with `extras`, first `bbsuid --install` and
    /// `busybox-extras --install -s` where those programs exist.
    BusyboxTrigger {
        /// Whether it also runs `bbsuid` and `busybox-extras`.
        extras: bool,
    },
    /// busybox's post-upgrade: links to `/bin/busybox` no applet has any more removed, `ping`
    /// links to `bbsuid` removed, `busybox --install -s`, then the `klogd` user and group added
    /// unless they exist.
    BusyboxPostUpgrade,
    /// Wolfi's glibc commit hook: `ldconfig` after each commit.
    LdconfigCommitHook,
    /// ca-certificates' trigger: `update-ca-certificates`, its output discarded.
    CaCertificatesTrigger,
    /// ca-certificates' `update.d` hook `certhash`: `c_rehash /etc/ssl/certs`.
    CertHashHook,
}

/// Scripts salve has read: the SHA-256 of their bytes, what they do, where they were read.
pub const REVIEWED: [(&str, Reviewed, &str); 6] = [
    (
        "56be2f4b9f99be9fc281314cda5c5e3b45a8123e37ba4938f1405584ce1af443",
        Reviewed::BusyboxTrigger { extras: true },
        "aports main/busybox/busybox.trigger at 79b94adf",
    ),
    (
        "c6a03c09b57c6f3dd8e71b9de39648fbd81e4007d6030e0cf60f7874732c40e8",
        Reviewed::BusyboxTrigger { extras: false },
        "aports main/busybox/busybox.trigger at 13f7afcb",
    ),
    (
        "7a889f45d8e221698c18e315e38ea243cab0cc12935aa10f5e6adce2e4f3f991",
        Reviewed::BusyboxPostUpgrade,
        "aports main/busybox/busybox.post-upgrade at 0ad9f457",
    ),
    (
        "3b7637d6b5e83fe60045d8bd6155b971503ba03f447f3670062368da8916227e",
        Reviewed::LdconfigCommitHook,
        "wolfi-dev/os glibc/ldconfig-commit.sh at 60690845",
    ),
    (
        "1bf77c8eae3220b1bd7dd86561d0899315f51d72257c1aeb4066072ed4304fe5",
        Reviewed::CaCertificatesTrigger,
        "aports main/ca-certificates/ca-certificates.trigger at 43954eb8",
    ),
    (
        "dcdcc8690bcb948d9cf90da1f3e6c504273bd13d560edc7482f141ff17acd76a",
        Reviewed::CertHashHook,
        "aports main/ca-certificates/APKBUILD (certhash)",
    ),
];

/// What the update's scripts do that native installation reproduces.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Judgement {
    /// busybox's post-upgrade runs (busybox is upgraded).
    pub busybox_post_upgrade: bool,
    /// busybox's trigger runs, and whether that version also runs `busybox-extras` and `bbsuid`.
    pub busybox_trigger: Option<bool>,
    /// ca-certificates' trigger runs.
    pub ca_certificates_trigger: bool,
    /// Notes for the user.
    pub warnings: Vec<String>,
}

impl Judgement {
    /// Whether busybox's links are to be worked out.
    pub fn busybox(&self) -> bool {
        self.busybox_post_upgrade || self.busybox_trigger.is_some()
    }
}

/// A script's identity (the SHA-256 of its bytes, hex) and what salve knows of it.
pub fn identify(content: &[u8]) -> (String, Option<Reviewed>) {
    let digest = hex(&Sha256::digest(content));
    let reviewed = REVIEWED
        .iter()
        .find(|(sha256, _, _)| *sha256 == digest)
        .map(|(_, reviewed, _)| *reviewed);
    (digest, reviewed)
}

/// Judges every program apk would run in this update; an error names the first that native
/// installation does not reproduce.
pub fn judge(
    request: &InstallRequest,
    database: &[Stanza],
    replaced: &BTreeSet<&str>,
) -> Result<Judgement, NativeError> {
    let mut judgement = Judgement::default();
    for package in &request.packages {
        judge_package_scripts(package, &mut judgement)?;
    }
    judge_triggers(request, database, replaced, &mut judgement)?;
    judge_commit_hooks(&request.files, &mut judgement)?;
    Ok(judgement)
}

/// The refusal of a script salve has not read (or read, but for another time).
fn unsupported(who: &str, script: &str, sha256: &str, when: &str) -> NativeError {
    NativeError::Unsupported(format!(
        "{who} has a {script} script (SHA-256 {sha256}), which apk runs {when}; native \
         installation runs nothing of the image and reproduces only scripts salve has read"
    ))
}

/// A package's own scripts for this update.
fn judge_package_scripts(
    package: &UnpackedPackage,
    judgement: &mut Judgement,
) -> Result<(), NativeError> {
    let upgrade = package.download.replaces.is_some();
    let (run, when): (&[&str], &str) = if upgrade {
        (
            &["pre-upgrade", "post-upgrade"],
            "when it upgrades the package",
        )
    } else {
        (
            &["pre-install", "post-install"],
            "when it installs the package",
        )
    };
    let who = format!("{} {}", package.download.name, package.download.version);
    for script in run {
        let Some(content) = package
            .control
            .iter()
            .find(|member| member.path == format!(".{script}"))
            .and_then(|member| member.content.as_deref())
        else {
            continue;
        };
        match identify(content) {
            (_, Some(Reviewed::BusyboxPostUpgrade)) if *script == "post-upgrade" => {
                judgement.busybox_post_upgrade = true;
            }
            (sha256, _) => return Err(unsupported(&who, &format!(".{script}"), &sha256, when)),
        }
    }
    Ok(())
}

/// A package whose trigger may run: who it is, its patterns, its script, and whether it is new
/// or upgraded (its trigger then fires for every folder it watches).
struct Watcher {
    /// `name version`.
    who: String,
    /// The folders it watches (`fnmatch` patterns).
    patterns: Vec<String>,
    /// Its `.trigger` script, when it has one.
    script: Option<Vec<u8>>,
    /// Whether the update installs it.
    installed_now: bool,
}

/// The triggers that fire in this update.
fn judge_triggers(
    request: &InstallRequest,
    database: &[Stanza],
    replaced: &BTreeSet<&str>,
    judgement: &mut Judgement,
) -> Result<(), NativeError> {
    let changed = changed_folders(request, database, replaced);
    let all_folders: BTreeSet<String> = database
        .iter()
        .filter(|stanza| !replaced.contains(stanza.name()))
        .flat_map(owned_folders)
        .chain(request.packages.iter().flat_map(package_folders))
        .collect();
    for watcher in watchers(request, database, replaced)? {
        let watched: &BTreeSet<String> = if watcher.installed_now {
            &all_folders
        } else {
            &changed
        };
        let fired: Vec<&String> = watched
            .iter()
            .filter(|folder| {
                watcher
                    .patterns
                    .iter()
                    .any(|pattern| glob_matches(pattern, folder))
            })
            .collect();
        let Some(first) = fired.first() else {
            continue;
        };
        let Some(script) = &watcher.script else {
            return Err(NativeError::Unsupported(format!(
                "{}'s trigger watches {first}, which the update changes, and its script is not \
                 in {SCRIPTS}",
                watcher.who
            )));
        };
        let (sha256, reviewed) = identify(script);
        match reviewed {
            Some(Reviewed::BusyboxTrigger { extras }) => {
                if let Some(modules) = fired.iter().find(|folder| {
                    folder.starts_with("/lib/modules/") || folder.starts_with("/usr/lib/modules/")
                }) {
                    return Err(NativeError::Unsupported(format!(
                        "{}'s trigger would run depmod for {modules}, which native installation \
                         does not reproduce",
                        watcher.who
                    )));
                }
                judgement.busybox_trigger = Some(extras);
            }
            Some(Reviewed::CaCertificatesTrigger) => judgement.ca_certificates_trigger = true,
            _ => {
                let when = format!("when the update changes {first}");
                return Err(unsupported(&watcher.who, ".trigger", &sha256, &when));
            }
        }
    }
    Ok(())
}

/// The packages with triggers after the update: the installed ones the update keeps (from
/// `triggers` and `scripts.tar`), then the new and upgraded ones (from their `.PKGINFO` and
/// `.trigger`).
fn watchers(
    request: &InstallRequest,
    database: &[Stanza],
    replaced: &BTreeSet<&str>,
) -> Result<Vec<Watcher>, NativeError> {
    let scripts = installed_scripts(&request.files)?;
    let mut watchers = Vec::new();
    for line in text(&request.files, TRIGGERS).unwrap_or_default().lines() {
        let mut words = line.split_whitespace();
        let Some(identity) = words.next() else {
            continue;
        };
        let Some(owner) = database
            .iter()
            .find(|stanza| stanza.get('C') == Some(identity))
        else {
            continue;
        };
        if replaced.contains(owner.name()) {
            continue;
        }
        let script_name = format!("{}-{}.{identity}.trigger", owner.name(), owner.version());
        watchers.push(Watcher {
            who: format!("{} {}", owner.name(), owner.version()),
            patterns: words.map(String::from).collect(),
            script: scripts
                .iter()
                .find(|member| member.name == script_name)
                .map(|member| member.content.clone()),
            installed_now: false,
        });
    }
    for package in &request.packages {
        let patterns = new_triggers(package);
        if patterns.is_empty() {
            continue;
        }
        watchers.push(Watcher {
            who: format!("{} {}", package.download.name, package.download.version),
            patterns,
            script: package
                .control
                .iter()
                .find(|member| member.path == ".trigger")
                .and_then(|member| member.content.clone()),
            installed_now: true,
        });
    }
    Ok(watchers)
}

/// The folders a new package's trigger watches (`.PKGINFO`'s `triggers`, space-separated).
pub fn new_triggers(package: &UnpackedPackage) -> Vec<String> {
    package_info(package)
        .unwrap_or_default()
        .into_iter()
        .filter(|(key, _)| key == "triggers")
        .flat_map(|(_, value)| {
            value
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The folders apk marks changed: every folder of the new packages and of the ones they
/// replace (rooted: `/usr/bin`).
fn changed_folders(
    request: &InstallRequest,
    database: &[Stanza],
    replaced: &BTreeSet<&str>,
) -> BTreeSet<String> {
    database
        .iter()
        .filter(|stanza| replaced.contains(stanza.name()))
        .flat_map(owned_folders)
        .chain(request.packages.iter().flat_map(package_folders))
        .collect()
}

/// A new package's folders (rooted), those its entries name and those holding its files.
fn package_folders(package: &UnpackedPackage) -> Vec<String> {
    package
        .entries
        .iter()
        .filter_map(|entry| {
            if entry.kind == FileKind::Directory {
                Some(entry.path.trim_end_matches('/').to_string())
            } else {
                entry
                    .path
                    .rsplit_once('/')
                    .map(|(folder, _)| folder.to_string())
            }
        })
        .filter(|folder| !folder.is_empty())
        .collect()
}

/// The image's commit hooks: each must be one salve has read.
fn judge_commit_hooks(files: &[ImageFile], judgement: &mut Judgement) -> Result<(), NativeError> {
    let prefix = format!("{COMMIT_HOOKS}/");
    for hook in files.iter().filter(|file| {
        file.path
            .strip_prefix(&prefix)
            .is_some_and(|name| !name.starts_with('.') && !name.contains('/'))
    }) {
        let content = match hook.kind {
            FileKind::File => hook.content.as_deref().unwrap_or_default(),
            FileKind::Missing | FileKind::Directory => continue,
            _ => {
                return Err(NativeError::Unsupported(format!(
                    "the commit hook {} is not a regular file; apk would run what it names",
                    hook.path
                )));
            }
        };
        match identify(content) {
            (_, Some(Reviewed::LdconfigCommitHook)) => judgement.warnings.push(format!(
                "{} would run ldconfig after the update: /etc/ld.so.cache is not regenerated \
                 (libraries keep their names in the standard folders, where the dynamic linker \
                 finds them without its cache)",
                hook.path
            )),
            (sha256, _) => {
                return Err(NativeError::Unsupported(format!(
                    "apk would run the commit hook {} (SHA-256 {sha256}) before and after the \
                     update; native installation runs nothing of the image and reproduces only \
                     hooks salve has read",
                    hook.path
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tar;
    use super::*;
    use crate::database::INSTALLED;
    use salve_plugin_sdk::testing::{download, entry, file, os, platform, target, unpacked};
    use salve_plugin_sdk::{PackageCheck, PackageDownload};

    const DATABASE: &str = "C:Q1pcfTfDNEbNKQc2s1tia7da05M8Q=\nP:watcher\nV:1-r0\nF:etc\n\n\
C:Q1myMNfd7u5v5UTgNHeq1e31qTjZU=\nP:demo\nV:1-r0\nF:usr/bin\nR:demo\n\n";

    fn request(packages: Vec<UnpackedPackage>, files: Vec<ImageFile>) -> InstallRequest {
        InstallRequest {
            os: os("alpine", "3.22.2"),
            platform: platform("amd64"),
            target: target("apk"),
            updates: Vec::new(),
            files: [vec![file(INSTALLED, DATABASE)], files].concat(),
            read: None,
            packages,
            packaged: Vec::new(),
            statuses: Vec::new(),
        }
    }

    fn upgraded(
        name: &str,
        control: &[(&str, &str)],
        entries: &[(&str, FileKind)],
    ) -> UnpackedPackage {
        let mut package = unpacked(PackageDownload {
            check: PackageCheck::Apk("00".repeat(20)),
            ..download(name, "2-r0", Some("1-r0"))
        });
        package.control = control
            .iter()
            .map(|(path, text)| file(path, text))
            .collect();
        package.entries = entries
            .iter()
            .map(|(path, kind)| entry(path, *kind))
            .collect();
        package
    }

    fn judged(request: &InstallRequest) -> Result<Judgement, NativeError> {
        let database = super::super::stanza::parse(DATABASE, INSTALLED).unwrap();
        let replaced: BTreeSet<&str> = request
            .packages
            .iter()
            .map(|package| package.download.name.as_str())
            .collect();
        judge(request, &database, &replaced)
    }

    fn refusal(request: &InstallRequest) -> String {
        match judged(request) {
            Err(NativeError::Unsupported(message)) => message,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn the_reviewed_scripts_are_named_by_distinct_sha256_digests() {
        let digests: BTreeSet<&str> = REVIEWED.iter().map(|(sha256, _, _)| *sha256).collect();
        assert_eq!(digests.len(), REVIEWED.len());
        for sha256 in digests {
            assert!(
                sha256.len() == 64
                    && sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
        assert_eq!(identify(b"#!/bin/sh\n").1, None);
    }

    #[test]
    fn unread_scripts_are_refused_with_their_digest_and_scripts_for_other_times_pass() {
        let script = "#!/bin/sh\necho hi\n";
        let digest = hex(&Sha256::digest(script));
        let package = upgraded(
            "demo",
            &[(".post-upgrade", script)],
            &[("/usr/bin/demo", FileKind::File)],
        );
        let message = refusal(&request(vec![package], Vec::new()));
        assert!(
            message.contains(&format!(
                "demo 2-r0 has a .post-upgrade script (SHA-256 {digest})"
            )),
            "{message}"
        );
        assert!(message.contains("when it upgrades the package"));
        let package = upgraded(
            "demo",
            &[(".post-install", script), (".pre-deinstall", script)],
            &[("/usr/bin/demo", FileKind::File)],
        );
        assert_eq!(
            judged(&request(vec![package], Vec::new())).unwrap(),
            Judgement::default()
        );
    }

    #[test]
    fn triggers_fire_for_changed_folders_and_for_every_watched_folder_of_a_new_trigger() {
        // watcher 1-r0 watches /usr/bin; its script is not one salve has read.
        let scripts = tar::write(&[tar::Member {
            name: "watcher-1-r0.Q1pcfTfDNEbNKQc2s1tia7da05M8Q=.trigger".into(),
            mtime: 0,
            content: b"#!/bin/sh\nupdate-something\n".to_vec(),
        }]);
        let watching = vec![
            file(TRIGGERS, "Q1pcfTfDNEbNKQc2s1tia7da05M8Q= /usr/bin /opt/*\n"),
            ImageFile {
                content: Some(scripts),
                ..file(SCRIPTS, "")
            },
        ];
        // A folder entry alone marks /usr/bin changed, as apk marks every folder of a package.
        let package = upgraded("demo", &[], &[("/usr/bin", FileKind::Directory)]);
        let message = refusal(&request(vec![package], watching.clone()));
        assert!(
            message.contains("watcher 1-r0 has a .trigger script"),
            "{message}"
        );
        assert!(
            message.contains("when the update changes /usr/bin"),
            "{message}"
        );
        // demo's old folders are changed too (its old files go): another package elsewhere.
        let elsewhere = upgraded("other", &[], &[("/srv/other", FileKind::File)]);
        assert!(judged(&request(vec![elsewhere], watching)).is_ok());

        // A new trigger fires for what it watches even where nothing changed.
        let package = upgraded(
            "demo",
            &[
                (".PKGINFO", "pkgname = demo\ntriggers = /etc /nothing\n"),
                (".trigger", "#!/bin/sh\n"),
            ],
            &[("/srv/demo", FileKind::File)],
        );
        let message = refusal(&request(vec![package], Vec::new()));
        assert!(
            message.contains("demo 2-r0 has a .trigger script"),
            "{message}"
        );
        assert!(
            message.contains("when the update changes /etc"),
            "{message}"
        );
        // A trigger with no script is refused too (apk would fail to run it).
        let package = upgraded("demo", &[(".PKGINFO", "triggers = /etc\n")], &[]);
        assert!(refusal(&request(vec![package], Vec::new())).contains("its script is not in"));
    }

    #[test]
    fn commit_hooks_other_than_read_ones_are_refused() {
        let hook = format!("{COMMIT_HOOKS}/local.sh");
        let message = refusal(&request(
            Vec::new(),
            vec![file(&hook, "#!/bin/sh\nexit 0\n")],
        ));
        assert!(
            message.contains("apk would run the commit hook /etc/apk/commit_hooks.d/local.sh"),
            "{message}"
        );
        let hidden = file(&format!("{COMMIT_HOOKS}/.keep"), "");
        assert!(judged(&request(Vec::new(), vec![hidden])).is_ok());
        let link = ImageFile {
            kind: FileKind::Symlink,
            content: None,
            link_target: Some("/usr/bin/x".into()),
            ..file(&hook, "")
        };
        assert!(refusal(&request(Vec::new(), vec![link])).contains("not a regular file"));
    }
}
