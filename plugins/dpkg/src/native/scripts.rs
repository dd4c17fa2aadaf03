//! Maintainer scripts and triggers, judged rather than run. An upgrade runs the old version's
//! `prerm` and `postrm` and the new one's `preinst` and `postinst` (and `config`, through
//! debconf); native installation runs none of them, so each must be one whose effect on an
//! upgrade is known: nothing, or something the installation reproduces. A script is read as
//! debhelper writes it: sections `# Automatically added by dh_TOOL` ... `# End automatically
//! added section`, judged by their tool and content; the script's own code around them is
//! nothing but the shebang, `set -e`, comments and `exit 0`, or code salve has read
//! ([`reviewed`]). Anything else is a script salve cannot vouch for, and native installation
//! refuses it.

use super::install::{ALTERNATIVES, hex};
use super::reviewed::{self, Unreviewed};
use super::services;
use crate::version;
use salve_plugin_sdk::{
    FileKind, FileReads, ImageFile, PathStatus, SymbolicLink, UnpackedPackage, WrittenFile,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What a package's scripts and triggers mean for an upgrade.
#[derive(Debug)]
pub struct Verdict {
    /// Notes on what was found unnecessary (once per kind).
    pub notes: Vec<String>,
    /// Files the scripts would write, reproduced.
    pub written: Vec<WrittenFile>,
    /// Links the scripts would make, reproduced.
    pub links: Vec<SymbolicLink>,
    /// Paths the scripts would remove.
    pub removed: Vec<String>,
    /// What must be read before the scripts' effect can be reproduced (empty: nothing).
    pub reads: FileReads,
}

impl Default for Verdict {
    fn default() -> Self {
        Verdict {
            notes: Vec::new(),
            written: Vec::new(),
            links: Vec::new(),
            removed: Vec::new(),
            reads: FileReads {
                image: Vec::new(),
                packaged: Vec::new(),
                statuses: Vec::new(),
            },
        }
    }
}

impl Verdict {
    /// Records a note once.
    pub fn note(&mut self, text: &str) {
        note(self, text);
    }

    /// Writes a file whole, replacing what an earlier script wrote there.
    pub fn write(&mut self, path: &str, content: Vec<u8>, mode: u32) {
        self.written.retain(|file| file.path != path);
        self.removed.retain(|removed| removed != path);
        self.written.push(WrittenFile {
            path: path.to_string(),
            content,
            mode,
        });
    }

    /// Makes a symbolic link, replacing what an earlier script made there.
    pub fn link(&mut self, path: &str, target: &str) {
        self.links.retain(|link| link.path != path);
        self.removed.retain(|removed| removed != path);
        self.links.push(SymbolicLink {
            path: path.to_string(),
            target: target.to_string(),
        });
    }

    /// Removes a path, and what an earlier script wrote there.
    pub fn remove(&mut self, path: &str) {
        self.written.retain(|file| file.path != path);
        self.links.retain(|link| link.path != path);
        if !self.removed.iter().any(|removed| removed == path) {
            self.removed.push(path.to_string());
        }
    }

    /// Whether another round must read files first.
    pub fn must_read(&self) -> bool {
        !(self.reads.image.is_empty()
            && self.reads.packaged.is_empty()
            && self.reads.statuses.is_empty())
    }
}

/// What judging a package's scripts may look at.
pub struct Scene<'a> {
    /// The installed version being upgraded (none: a new install).
    pub from: Option<&'a str>,
    /// The image files read for installation, by path (links with their targets).
    pub files: &'a BTreeMap<&'a str, &'a ImageFile>,
    /// The package the scripts belong to, in its new version.
    pub package: &'a UnpackedPackage,
    /// Every package this run installs.
    pub packages: &'a [UnpackedPackage],
    /// The installed version's `md5sums` (what it shipped).
    pub installed_md5sums: Option<&'a str>,
    /// Files of the packages of this run read for installation, by the path they install at.
    pub packaged: &'a BTreeMap<&'a str, &'a ImageFile>,
    /// The modes and owners of image paths read for installation.
    pub statuses: &'a [PathStatus],
}

impl<'a> Scene<'a> {
    /// The image file at `path`, if it was read.
    pub fn file(&self, path: &str) -> Option<&'a ImageFile> {
        self.files.get(path).copied()
    }

    /// The text of the regular file at `path`.
    pub fn text(&self, path: &str) -> Option<String> {
        content(self.files, path).map(|content| String::from_utf8_lossy(content).into_owned())
    }
}

/// The files read from the image, by path; where two answers name one path, the later one,
/// unless only the earlier is a regular file.
pub fn by_path<'a>(
    files: impl IntoIterator<Item = &'a ImageFile>,
) -> BTreeMap<&'a str, &'a ImageFile> {
    let mut by_path: BTreeMap<&str, &ImageFile> = BTreeMap::new();
    for file in files {
        let earlier_is_file = by_path
            .get(file.path.as_str())
            .is_some_and(|earlier| earlier.kind == FileKind::File);
        if file.kind == FileKind::File || !earlier_is_file {
            by_path.insert(file.path.as_str(), file);
        }
    }
    by_path
}

/// The content of the regular file at `path` among `files`.
pub fn content<'a>(files: &BTreeMap<&str, &'a ImageFile>, path: &str) -> Option<&'a [u8]> {
    files
        .get(path)
        .filter(|file| file.kind == FileKind::File)
        .and_then(|file| file.content.as_deref())
}

/// An absolute `path` with `.`, `..` and repeated slashes resolved by name alone, as
/// `realpath -m -s` does.
pub fn lexical(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Judges one script (`preinst`, `postinst`, `config` of the new version; `prerm`, `postrm` of
/// the installed one) of `package`.
pub fn judge(
    package: &str,
    script: &str,
    text: &str,
    scene: &Scene,
    verdict: &mut Verdict,
) -> Result<(), String> {
    let shown = if matches!(script, "prerm" | "postrm") {
        format!("old {script}")
    } else {
        script.to_string()
    };
    let refuse = |line: &str, why: &str| {
        Err(format!(
            "the {shown} script of {package} does something salve cannot reproduce without \
             running it ({:?}){why}",
            line.trim()
        ))
    };
    let from = scene.from;
    let mut section: Option<String> = None;
    let mut condition = String::new();
    let mut own_line: Option<String> = None;
    for line in joined_lines(text) {
        let line = line.as_str();
        let trimmed = line.trim();
        if let Some(tool) = trimmed.strip_prefix("# Automatically added by ") {
            section = Some(tool.split('/').next().unwrap_or_default().to_string());
            continue;
        }
        if trimmed == "# End automatically added section" {
            section = None;
            continue;
        }
        match section.as_deref() {
            None => {
                let boilerplate = trimmed.is_empty()
                    || trimmed.starts_with('#')
                    || matches!(trimmed, "set -e" | "set -eu" | "set -e -u" | "exit 0");
                if !boilerplate && own_line.is_none() {
                    own_line = Some(line.to_string());
                }
            }
            Some("dh_installdeb") => {
                if !trimmed.is_empty() && !maintscript_helper_is_done(trimmed, from) {
                    return refuse(line, "");
                }
            }
            Some("dh_makeshlibs") => {
                note(verdict, LDCONFIG_NOTE);
            }
            Some("dh_installsystemd" | "dh_installinit" | "dh_installsystemduser") => {
                if from.is_none() {
                    return refuse(line, "");
                }
                if let Err(why) = services::units_stay_as_they_are(trimmed, scene) {
                    return refuse(line, &format!(": {why}"));
                }
                note(
                    verdict,
                    "service hooks (systemd units, init scripts) do nothing in an image: \
                     nothing runs, and an upgrade keeps the units enabled as they were",
                );
            }
            Some("dh_installdebconf") => {}
            Some("dh_installalternatives") => {
                if trimmed.starts_with("if ") {
                    condition = trimmed.to_string();
                } else if trimmed == "fi" || trimmed.is_empty() {
                } else if alternative_is_in_place(trimmed, &condition, scene) {
                    note(
                        verdict,
                        "update-alternatives is not run: the upgraded packages' alternatives are \
                         registered and linked already, as the scripts would leave them",
                    );
                } else {
                    return refuse(line, "");
                }
            }
            Some(_) => return refuse(line, ""),
        }
    }
    let Some(own_line) = own_line else {
        return Ok(());
    };
    let sha256 = hex(&Sha256::digest(own_code(text).as_bytes()));
    match reviewed::vouch(package, script, &sha256, scene, verdict) {
        Ok(()) => {
            note(
                verdict,
                "maintainer scripts salve has read were not run: on these upgrades they do \
                 nothing, or what salve reproduced",
            );
            Ok(())
        }
        Err(Unreviewed::Unknown) => refuse(
            &own_line,
            &format!("; its own code (SHA-256 {sha256}) is not among the scripts salve has read"),
        ),
        Err(Unreviewed::Needs(why)) => Err(format!(
            "the {shown} script of {package} is one salve has read, but not for this upgrade: \
             {why}"
        )),
    }
}

/// A script's own code: its lines outside debhelper's sections, exactly as written.
fn own_code(text: &str) -> String {
    let mut code = String::new();
    let mut in_section = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with("# Automatically added by ") {
            in_section = true;
        } else if trimmed == "# End automatically added section" {
            in_section = false;
        } else if !in_section {
            code.push_str(line);
        }
    }
    code
}

/// A script's lines, each with the lines it continues with a trailing `\\` joined to it.
fn joined_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(start) => {
                current.push_str(start);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Whether an `update-alternatives` line of debhelper's section does nothing on this upgrade:
/// `--install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]...` when the image's
/// alternatives database (`/var/lib/dpkg/alternatives/NAME`) already registers exactly that; `--remove NAME PATH` when it runs only on removal.
fn alternative_is_in_place(line: &str, condition: &str, scene: &Scene) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    match &words[..] {
        ["update-alternatives", "--remove", _, _] => condition == r#"if [ "$1" = "remove" ]; then"#,
        [
            "update-alternatives",
            "--install",
            link,
            name,
            path,
            priority,
            slaves @ ..,
        ] => {
            scene.from.is_some()
                && slaves.len() % 4 == 0
                && scene
                    .text(&format!("{ALTERNATIVES}/{name}"))
                    .is_some_and(|database| {
                        let wanted: Vec<(&str, &str, &str)> = slaves
                            .chunks(4)
                            .filter(|slave| slave[0] == "--slave")
                            .map(|slave| (slave[1], slave[2], slave[3]))
                            .collect();
                        wanted.len() * 4 == slaves.len()
                            && registered(&database, link, path, priority, &wanted)
                    })
        }
        _ => false,
    }
}

/// Whether an alternatives database (dpkg's format: mode, master link, slave name and link
/// pairs, a blank line, then per alternative its path, priority and slave paths) registers
/// `path` at `priority` for `link`, with exactly the `slaves` (link, name, path).
fn registered(
    database: &str,
    link: &str,
    path: &str,
    priority: &str,
    slaves: &[(&str, &str, &str)],
) -> bool {
    let lines: Vec<&str> = database.lines().collect();
    let Some(blank) = lines.iter().position(|line| line.is_empty()) else {
        return false;
    };
    if lines.get(1) != Some(&link) || blank < 2 || (blank - 2) % 2 != 0 {
        return false;
    }
    let names: Vec<(&str, &str)> = lines[2..blank]
        .chunks(2)
        .map(|pair| (pair[0], pair[1]))
        .collect();
    let block = 2 + names.len();
    let mut at = blank + 1;
    while at < lines.len() && !lines[at].is_empty() {
        let Some(alternative) = lines.get(at..at + block) else {
            return false;
        };
        if alternative[0] == path {
            return alternative[1] == priority
                && names.len() == slaves.len()
                && slaves.iter().all(|(slave_link, name, slave_path)| {
                    names
                        .iter()
                        .position(|(known, known_link)| known == name && known_link == slave_link)
                        .is_some_and(|index| alternative[2 + index] == *slave_path)
                });
        }
        at += block;
    }
    false
}

/// The note for ldconfig's trigger and debhelper's ldconfig calls.
pub const LDCONFIG_NOTE: &str = "ldconfig is not run: the updated libraries keep their names in \
     the standard library folders, where the dynamic linker finds them without its cache";

/// Records a note once.
pub fn note(verdict: &mut Verdict, text: &str) {
    if !verdict.notes.iter().any(|existing| existing == text) {
        verdict.notes.push(text.to_string());
    }
}

/// True for a `dpkg-maintscript-helper CMD ... PRIOR-VERSION [PACKAGE] -- "$@"` line that does
/// nothing on an upgrade from `from`: the helper acts only when upgrading from a version up to
/// PRIOR-VERSION.
fn maintscript_helper_is_done(line: &str, from: Option<&str>) -> bool {
    let Some(from) = from else {
        return false;
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let ["dpkg-maintscript-helper", command, arguments @ ..] = &words[..] else {
        return false;
    };
    let Some(end) = arguments.iter().position(|word| *word == "--") else {
        return false;
    };
    if arguments.get(end + 1) != Some(&"\"$@\"") {
        return false;
    }
    // Arguments before `--`: paths, then the prior version, then optionally the package.
    let paths = match *command {
        "rm_conffile" => 1,
        "mv_conffile" | "symlink_to_dir" | "dir_to_symlink" => 2,
        _ => return false,
    };
    let Some(prior) = arguments.get(paths) else {
        return false;
    };
    let prior = prior.replace('\\', "");
    // dpkg-maintscript-helper acts when the old version is `le-nl` the prior version.
    version::compare_text(from, &prior).is_ok_and(|order| order.is_gt())
}

/// Judges a package's `triggers` control file: activating `ldconfig` is known (see
/// [`LDCONFIG_NOTE`]); interests must be those the installed version already registered.
pub fn judge_triggers(
    package: &str,
    text: &str,
    old: Option<&str>,
    verdict: &mut Verdict,
) -> Result<(), String> {
    let interests = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|line| line.starts_with("interest"))
            .map(String::from)
            .collect()
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with("interest") {
            continue;
        }
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            [
                "activate" | "activate-noawait" | "activate-await",
                "ldconfig",
            ] => note(verdict, LDCONFIG_NOTE),
            _ => {
                return Err(format!(
                    "{package} activates the trigger {line:?}, whose effect salve cannot \
                     reproduce without running it"
                ));
            }
        }
    }
    if interests(text) != interests(old.unwrap_or_default()) {
        return Err(format!(
            "{package} changes the triggers it is interested in, which native installation \
             does not register"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{download, entry, unpacked};

    const PERL_BASE_PREINST: &str = "#!/bin/sh\nset -e\n# Automatically added by dh_installdeb/13.11.4\n\
dpkg-maintscript-helper symlink_to_dir /usr/share/doc/perl-base perl 5.30.0-1 perl-base -- \"$@\"\n\
# End automatically added section\n";

    /// A package as the tests install it.
    fn package(name: &str) -> UnpackedPackage {
        unpacked(salve_plugin_sdk::PackageDownload {
            architecture: "amd64".into(),
            ..download(name, "99", None)
        })
    }

    /// Judges `script` of `package` upgraded from `from` in an image with these text files.
    fn judge_in(
        package_name: &str,
        script: &str,
        text: &str,
        from: Option<&str>,
        files: &[(&str, &str)],
        verdict: &mut Verdict,
    ) -> Result<(), String> {
        judge_shipping(package_name, script, text, from, files, &APT_UNITS, verdict)
    }

    /// apt's timers, as both versions ship them (md5, path).
    const APT_UNITS: [(&str, &str); 2] = [
        (
            "11111111111111111111111111111111",
            "/lib/systemd/system/apt-daily.timer",
        ),
        (
            "22222222222222222222222222222222",
            "/lib/systemd/system/apt-daily-upgrade.timer",
        ),
    ];

    /// [`judge_in`], the new version shipping `units` (md5, path), the installed one apt's.
    fn judge_shipping(
        package_name: &str,
        script: &str,
        text: &str,
        from: Option<&str>,
        files: &[(&str, &str)],
        units: &[(&str, &str)],
        verdict: &mut Verdict,
    ) -> Result<(), String> {
        let files: Vec<ImageFile> = files
            .iter()
            .map(|(path, content)| salve_plugin_sdk::testing::file(path, content))
            .collect();
        let by_path = by_path(&files);
        let mut package = package(package_name);
        package.entries = units
            .iter()
            .map(|(md5, path)| salve_plugin_sdk::PackageEntry {
                md5: Some(md5.to_string()),
                ..entry(path, FileKind::File)
            })
            .collect();
        let installed_md5sums: String = APT_UNITS
            .iter()
            .map(|(md5, path)| format!("{md5}  {}\n", &path[1..]))
            .collect();
        let scene = Scene {
            from,
            files: &by_path,
            package: &package,
            packages: std::slice::from_ref(&package),
            installed_md5sums: Some(&installed_md5sums),
            packaged: &BTreeMap::new(),
            statuses: &[],
        };
        judge(package_name, script, text, &scene, verdict)
    }

    /// No alternatives registered.
    const NONE: &[(&str, &str)] = &[];

    #[test]
    fn maintscript_helpers_for_older_versions_do_nothing() {
        let mut verdict = Verdict::default();
        judge_in(
            "perl-base",
            "preinst",
            PERL_BASE_PREINST,
            Some("5.36.0-7"),
            NONE,
            &mut verdict,
        )
        .unwrap();
        let error = judge_in(
            "perl-base",
            "preinst",
            PERL_BASE_PREINST,
            Some("5.28.1-6"),
            NONE,
            &mut verdict,
        )
        .unwrap_err();
        assert!(error.contains("preinst script of perl-base"), "{error}");
        assert!(
            judge_in(
                "perl-base",
                "preinst",
                PERL_BASE_PREINST,
                None,
                NONE,
                &mut verdict
            )
            .is_err()
        );
        let escaped = "# Automatically added by dh_installdeb/13\n\
dpkg-maintscript-helper rm_conffile /etc/apt/apt.conf.d/20changelog 1.2.4\\~ -- \"$@\"\n\
# End automatically added section\n";
        judge_in(
            "apt",
            "postinst",
            escaped,
            Some("2.6.1"),
            NONE,
            &mut verdict,
        )
        .unwrap();
    }

    #[test]
    fn anything_outside_known_sections_is_refused_by_its_line() {
        let script = "#!/bin/sh -e\nif [ \"$1\" = configure ]\nthen\n  update-alternatives --remove rename /usr/bin/prename\nfi\n";
        let error = judge_in(
            "perl",
            "postinst",
            script,
            Some("5.36.0-7"),
            NONE,
            &mut Verdict::default(),
        )
        .unwrap_err();
        assert!(
            error.contains("\"if [ \\\"$1\\\" = configure ]\""),
            "{error}"
        );
    }

    const PERL_POSTINST: &str = include_str!("testdata/perl.postinst");
    const APT_POSTINST: &str = include_str!("testdata/apt.postinst");

    #[test]
    fn scripts_salve_has_read_pass_only_on_the_upgrades_they_were_read_for() {
        let mut verdict = Verdict::default();
        judge_in(
            "perl",
            "postinst",
            PERL_POSTINST,
            Some("5.36.0-7"),
            NONE,
            &mut verdict,
        )
        .unwrap();
        assert!(
            verdict.notes[0].contains("salve has read"),
            "{:?}",
            verdict.notes
        );
        // From before 5.36: the script triggers perl-major-upgrade.
        let error = judge_in(
            "perl",
            "postinst",
            PERL_POSTINST,
            Some("5.34.0-5"),
            NONE,
            &mut verdict,
        )
        .unwrap_err();
        assert!(
            error.contains("not for this upgrade") && error.contains("5.36.0~"),
            "{error}"
        );
        // The image registers the alternative the script removes.
        let rename = [(
            "/var/lib/dpkg/alternatives/rename",
            "auto\n/usr/bin/rename\n\n",
        )];
        let error = judge_in(
            "perl",
            "postinst",
            PERL_POSTINST,
            Some("5.36.0-7"),
            &rename,
            &mut verdict,
        )
        .unwrap_err();
        assert!(error.contains("alternatives for rename"), "{error}");
        // One byte of its own code changed, or another package's name: not read.
        let changed = PERL_POSTINST.replace("/usr/bin/prename", "/usr/bin/rename");
        let error = judge_in(
            "perl",
            "postinst",
            &changed,
            Some("5.36.0-7"),
            NONE,
            &mut verdict,
        )
        .unwrap_err();
        assert!(
            error.contains("is not among the scripts salve has read"),
            "{error}"
        );
        assert!(
            judge_in(
                "perl-x",
                "postinst",
                PERL_POSTINST,
                Some("5.36.0-7"),
                NONE,
                &mut verdict
            )
            .is_err()
        );
        // A debhelper section changed around it: its own code is still the code read.
        let newer = PERL_POSTINST.replace("13.11.4", "13.11.5");
        judge_in(
            "perl",
            "postinst",
            &newer,
            Some("5.36.0-7"),
            NONE,
            &mut verdict,
        )
        .unwrap();
    }

    #[test]
    fn apt_s_postinst_needs_the_user_it_would_add() {
        let mut verdict = Verdict::default();
        let passwd = [(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n",
        )];
        judge_in(
            "apt",
            "postinst",
            APT_POSTINST,
            Some("2.6.1"),
            &passwd,
            &mut verdict,
        )
        .unwrap();
        let error = judge_in(
            "apt",
            "postinst",
            APT_POSTINST,
            Some("2.6.1"),
            &passwd[..0],
            &mut verdict,
        )
        .unwrap_err();
        assert!(error.contains("the user _apt"), "{error}");
        let error = judge_in(
            "apt",
            "postinst",
            APT_POSTINST,
            Some("2.4.4"),
            &passwd,
            &mut verdict,
        )
        .unwrap_err();
        assert!(error.contains("2.4.5"), "{error}");
        assert!(judge_in("apt", "postinst", APT_POSTINST, None, &passwd, &mut verdict).is_err());
    }

    #[test]
    fn service_hooks_pass_only_for_units_as_they_were_and_not_masked() {
        let passwd = [(
            "/etc/passwd",
            "_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n",
        )];
        let mut verdict = Verdict::default();
        judge_in(
            "apt",
            "postinst",
            APT_POSTINST,
            Some("2.6.1"),
            &passwd,
            &mut verdict,
        )
        .unwrap();
        assert!(
            verdict
                .notes
                .iter()
                .any(|note| note.contains("service hooks"))
        );
        let changed = [
            APT_UNITS[0],
            ("33333333333333333333333333333333", APT_UNITS[1].1),
        ];
        let error = judge_shipping(
            "apt",
            "postinst",
            APT_POSTINST,
            Some("2.6.1"),
            &passwd,
            &changed,
            &mut verdict,
        )
        .unwrap_err();
        assert!(
            error.contains("apt-daily-upgrade.timer is not the unit file"),
            "{error}"
        );
        let masked = [
            passwd[0],
            (
                "/var/lib/systemd/deb-systemd-helper-masked/apt-daily.timer",
                "",
            ),
        ];
        let error = judge_in(
            "apt",
            "postinst",
            APT_POSTINST,
            Some("2.6.1"),
            &masked,
            &mut verdict,
        )
        .unwrap_err();
        assert!(error.contains("apt-daily.timer masked"), "{error}");
    }

    #[test]
    fn ldconfig_triggers_are_known_and_new_interests_are_not() {
        let mut verdict = Verdict::default();
        judge_triggers(
            "libzstd1",
            "# Triggers added by dh_makeshlibs\nactivate-noawait ldconfig\n",
            None,
            &mut verdict,
        )
        .unwrap();
        assert_eq!(verdict.notes, [LDCONFIG_NOTE]);
        assert!(
            judge_triggers(
                "man-db",
                "interest-noawait /usr/share/man\n",
                None,
                &mut verdict
            )
            .is_err()
        );
        judge_triggers(
            "man-db",
            "interest-noawait /usr/share/man\n",
            Some("interest-noawait /usr/share/man\n"),
            &mut verdict,
        )
        .unwrap();
        assert!(
            judge_triggers(
                "x",
                "activate-noawait update-initramfs\n",
                None,
                &mut verdict
            )
            .is_err()
        );
    }

    const MAWK_POSTINST: &str = "#!/bin/sh\nset -e\n# Automatically added by dh_installalternatives/13.7.1\n\
if [ \"$1\" = \"configure\" ] || [ \"$1\" = \"abort-upgrade\" ]; then\n\
        update-alternatives --install /usr/bin/awk awk /usr/bin/mawk 5 \\\n\
            --slave /usr/share/man/man1/awk.1.gz awk.1.gz /usr/share/man/man1/mawk.1.gz \\\n\
            --slave /usr/bin/nawk nawk /usr/bin/mawk\n\
fi\n# End automatically added section\n";

    const MAWK_PRERM: &str = "#!/bin/sh\nset -e\n# Automatically added by dh_installalternatives/13.7.1\n\
if [ \"$1\" = \"remove\" ]; then\n\tupdate-alternatives --remove awk /usr/bin/mawk\nfi\n\
# End automatically added section\n";

    const AWK_ALTERNATIVES: &str = "auto\n/usr/bin/awk\nawk.1.gz\n/usr/share/man/man1/awk.1.gz\n\
nawk\n/usr/bin/nawk\n\n/usr/bin/mawk\n5\n/usr/share/man/man1/mawk.1.gz\n/usr/bin/mawk\n\n";

    #[test]
    fn alternatives_already_registered_as_the_script_would_are_left_alone() {
        let database: &[(&str, &str)] = &[("/var/lib/dpkg/alternatives/awk", AWK_ALTERNATIVES)];
        let mut verdict = Verdict::default();
        judge_in(
            "mawk",
            "postinst",
            MAWK_POSTINST,
            Some("1.3.4"),
            database,
            &mut verdict,
        )
        .unwrap();
        judge_in(
            "mawk",
            "prerm",
            MAWK_PRERM,
            Some("1.3.4"),
            database,
            &mut verdict,
        )
        .unwrap();
        assert!(verdict.notes[0].contains("update-alternatives is not run"));
        // Another priority, another slave, nothing registered, a new install: the script matters.
        let other_priority = AWK_ALTERNATIVES.replace("\n5\n", "\n10\n");
        let other: &[(&str, &str)] = &[("/var/lib/dpkg/alternatives/awk", &other_priority)];
        assert!(
            judge_in(
                "mawk",
                "postinst",
                MAWK_POSTINST,
                Some("1.3.4"),
                other,
                &mut verdict
            )
            .is_err()
        );
        let fewer = MAWK_POSTINST.replace(" \\\n--slave /usr/bin/nawk nawk /usr/bin/mawk", "");
        assert!(
            judge_in(
                "mawk",
                "postinst",
                &fewer,
                Some("1.3.4"),
                database,
                &mut verdict
            )
            .is_err()
        );
        assert!(
            judge_in(
                "mawk",
                "postinst",
                MAWK_POSTINST,
                Some("1.3.4"),
                NONE,
                &mut verdict
            )
            .is_err()
        );
        assert!(
            judge_in(
                "mawk",
                "postinst",
                MAWK_POSTINST,
                None,
                database,
                &mut verdict
            )
            .is_err()
        );
    }
}
