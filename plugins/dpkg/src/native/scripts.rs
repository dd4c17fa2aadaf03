//! Maintainer scripts and triggers, judged rather than run. An upgrade runs the old version's
//! `prerm` and `postrm` and the new one's `preinst` and `postinst`; native installation runs none
//! of them, so each must be one whose effect on an upgrade is known: nothing, or something the
//! installation reproduces. A script is read as debhelper writes it: sections
//! `# Automatically added by dh_TOOL` ... `# End automatically added section`, judged by their
//! tool and content, and around them nothing but the shebang, `set -e`, comments and `exit 0`.
//! Anything else is a script salve cannot vouch for, and native installation refuses it.

use crate::version;

/// What a package's scripts and triggers mean for an upgrade from `from`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Notes on what was found unnecessary (once per kind).
    pub notes: Vec<String>,
}

/// Judges one script of a package being upgraded from version `from` (none: a new install).
pub fn judge(
    package: &str,
    script: &str,
    text: &str,
    from: Option<&str>,
    alternatives: &dyn Fn(&str) -> Option<String>,
    verdict: &mut Verdict,
) -> Result<(), String> {
    let refuse = |line: &str| {
        Err(format!(
            "the {script} script of {package} does something salve cannot reproduce without \
             running it ({:?})",
            line.trim()
        ))
    };
    let mut section: Option<String> = None;
    let mut condition = String::new();
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
                if !boilerplate {
                    return refuse(line);
                }
            }
            Some("dh_installdeb") => {
                if !trimmed.is_empty() && !maintscript_helper_is_done(trimmed, from) {
                    return refuse(line);
                }
            }
            Some("dh_makeshlibs") => {
                note(verdict, LDCONFIG_NOTE);
            }
            Some("dh_installsystemd" | "dh_installinit" | "dh_installsystemduser") => {
                if from.is_none() {
                    return refuse(line);
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
                } else if alternative_is_in_place(trimmed, &condition, from, alternatives) {
                    note(
                        verdict,
                        "update-alternatives is not run: the upgraded packages' alternatives are \
                         registered and linked already, as the scripts would leave them",
                    );
                } else {
                    return refuse(line);
                }
            }
            Some(_) => return refuse(line),
        }
    }
    Ok(())
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
/// alternatives database (`alternatives(NAME)`, the text of `/var/lib/dpkg/alternatives/NAME`)
/// already registers exactly that; `--remove NAME PATH` when it runs only on removal.
fn alternative_is_in_place(
    line: &str,
    condition: &str,
    from: Option<&str>,
    alternatives: &dyn Fn(&str) -> Option<String>,
) -> bool {
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
            from.is_some()
                && slaves.len() % 4 == 0
                && alternatives(name).is_some_and(|database| {
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
fn note(verdict: &mut Verdict, text: &str) {
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

    const PERL_BASE_PREINST: &str = "#!/bin/sh\nset -e\n# Automatically added by dh_installdeb/13.11.4\n\
dpkg-maintscript-helper symlink_to_dir /usr/share/doc/perl-base perl 5.30.0-1 perl-base -- \"$@\"\n\
# End automatically added section\n";

    /// No alternatives registered.
    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn maintscript_helpers_for_older_versions_do_nothing() {
        let mut verdict = Verdict::default();
        judge(
            "perl-base",
            "preinst",
            PERL_BASE_PREINST,
            Some("5.36.0-7"),
            &none,
            &mut verdict,
        )
        .unwrap();
        let error = judge(
            "perl-base",
            "preinst",
            PERL_BASE_PREINST,
            Some("5.28.1-6"),
            &none,
            &mut verdict,
        )
        .unwrap_err();
        assert!(error.contains("preinst script of perl-base"), "{error}");
        assert!(
            judge(
                "perl-base",
                "preinst",
                PERL_BASE_PREINST,
                None,
                &none,
                &mut verdict
            )
            .is_err()
        );
        let escaped = "# Automatically added by dh_installdeb/13\n\
dpkg-maintscript-helper rm_conffile /etc/apt/apt.conf.d/20changelog 1.2.4\\~ -- \"$@\"\n\
# End automatically added section\n";
        judge(
            "apt",
            "postinst",
            escaped,
            Some("2.6.1"),
            &none,
            &mut verdict,
        )
        .unwrap();
    }

    #[test]
    fn anything_outside_known_sections_is_refused_by_its_line() {
        let script = "#!/bin/sh -e\nif [ \"$1\" = configure ]\nthen\n  update-alternatives --remove rename /usr/bin/prename\nfi\n";
        let error = judge(
            "perl",
            "postinst",
            script,
            Some("5.36.0-7"),
            &none,
            &mut Verdict::default(),
        )
        .unwrap_err();
        assert!(
            error.contains("\"if [ \\\"$1\\\" = configure ]\""),
            "{error}"
        );
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
        let database = |name: &str| (name == "awk").then(|| AWK_ALTERNATIVES.to_string());
        let mut verdict = Verdict::default();
        judge(
            "mawk",
            "postinst",
            MAWK_POSTINST,
            Some("1.3.4"),
            &database,
            &mut verdict,
        )
        .unwrap();
        judge(
            "mawk",
            "old prerm",
            MAWK_PRERM,
            Some("1.3.4"),
            &database,
            &mut verdict,
        )
        .unwrap();
        assert!(verdict.notes[0].contains("update-alternatives is not run"));
        // Another priority, another slave, nothing registered, a new install: the script matters.
        let other = |name: &str| database(name).map(|text| text.replace("\n5\n", "\n10\n"));
        assert!(
            judge(
                "mawk",
                "postinst",
                MAWK_POSTINST,
                Some("1.3.4"),
                &other,
                &mut verdict
            )
            .is_err()
        );
        let fewer = MAWK_POSTINST.replace(" \\\n--slave /usr/bin/nawk nawk /usr/bin/mawk", "");
        assert!(
            judge(
                "mawk",
                "postinst",
                &fewer,
                Some("1.3.4"),
                &database,
                &mut verdict
            )
            .is_err()
        );
        assert!(
            judge(
                "mawk",
                "postinst",
                MAWK_POSTINST,
                Some("1.3.4"),
                &none,
                &mut verdict
            )
            .is_err()
        );
        assert!(
            judge(
                "mawk",
                "postinst",
                MAWK_POSTINST,
                None,
                &database,
                &mut verdict
            )
            .is_err()
        );
    }
}
