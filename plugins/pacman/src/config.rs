//! What `/etc/pacman.conf` says about packages to leave alone: `IgnorePkg` (names or glob
//! patterns) and `IgnoreGroup`, in the `[options]` section.

/// pacman's configuration file.
pub const PACMAN_CONF: &str = "/etc/pacman.conf";

/// The packages and groups pacman is told to leave alone.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ignored {
    /// `IgnorePkg` entries: names, or patterns with `*`, `?` and `[...]`.
    pub packages: Vec<String>,
    /// `IgnoreGroup` entries.
    pub groups: Vec<String>,
}

/// Reads the `IgnorePkg` and `IgnoreGroup` lines of the `[options]` section (each may appear
/// several times, values separated by spaces).
pub fn ignored(text: &str) -> Ignored {
    let mut found = Ignored::default();
    let mut in_options = false;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_options = section == "options";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let list = match key.trim() {
            "IgnorePkg" if in_options => &mut found.packages,
            "IgnoreGroup" if in_options => &mut found.groups,
            _ => continue,
        };
        list.extend(value.split_whitespace().map(str::to_string));
    }
    found
}

/// Whether a package name matches an `IgnorePkg` entry (pacman matches them as `fnmatch`
/// patterns).
pub fn matches(pattern: &str, name: &str) -> bool {
    glob(pattern.as_bytes(), name.as_bytes())
}

/// `*`, `?` and `[...]` (with `!` or `^` negating, and `a-z` ranges) matching, as `fnmatch`
/// without flags does for names without `/`.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| glob(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && glob(rest, &name[1..]),
        Some((b'[', rest)) => match (class(rest), name.split_first()) {
            (Some((matched, after)), Some((&first, name_rest))) => {
                matched(first) && glob(after, name_rest)
            }
            (None, Some((&first, name_rest))) => first == b'[' && glob(rest, name_rest),
            (_, None) => false,
        },
        Some((&literal, rest)) => name.first() == Some(&literal) && glob(rest, &name[1..]),
    }
}

/// A bracket expression after its `[`: a test for one character and the pattern after the
/// closing `]`; `None` when it does not close (then `[` is a plain character).
type Class<'p> = (Box<dyn Fn(u8) -> bool + 'p>, &'p [u8]);

/// Reads a bracket expression.
fn class(pattern: &[u8]) -> Option<Class<'_>> {
    let (negated, body) = match pattern.first() {
        Some(b'!' | b'^') => (true, &pattern[1..]),
        _ => (false, pattern),
    };
    // A `]` right at the start is a member, not the end.
    let close = body.iter().skip(1).position(|&c| c == b']')? + 1;
    let members = &body[..close];
    let test = move |c: u8| {
        let mut index = 0;
        let mut hit = false;
        while index < members.len() {
            if index + 2 < members.len() && members[index + 1] == b'-' {
                hit |= (members[index]..=members[index + 2]).contains(&c);
                index += 3;
            } else {
                hit |= members[index] == c;
                index += 1;
            }
        }
        hit != negated
    };
    Some((Box::new(test), &body[close + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ignore_lines_of_the_options_section_only() {
        let conf = "# IgnorePkg = commented\n[options]\nHoldPkg = pacman glibc\n\
                    IgnorePkg = linux linux-headers # kernels\nIgnorePkg=python-*\n\
                    IgnoreGroup = gnome\n\n[core]\nInclude = /etc/pacman.d/mirrorlist\n\
                    IgnorePkg = not-an-option\n";
        let found = ignored(conf);
        assert_eq!(found.packages, ["linux", "linux-headers", "python-*"]);
        assert_eq!(found.groups, ["gnome"]);
        assert_eq!(ignored(""), Ignored::default());
    }

    #[test]
    fn patterns_match_as_fnmatch_does() {
        assert!(matches("python-*", "python-requests"));
        assert!(!matches("python-*", "python"));
        assert!(matches("lib?", "libc"));
        assert!(matches("linux[0-9]*", "linux6-lts"));
        assert!(!matches("linux[!0-9]*", "linux6"));
        assert!(matches("linux", "linux"));
        assert!(!matches("linux", "linux-lts"));
        assert!(
            matches("a[b", "a[b"),
            "an unclosed bracket is a plain character"
        );
    }
}
