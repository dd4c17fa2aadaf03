//! Path patterns for probing images: `/`-separated segments where `*` matches any run of
//! characters within one segment (`/usr/lib/python3*/site-packages/*.dist-info/METADATA`), and a
//! segment that is exactly `**` matches any number of whole segments, none included
//! (`/**/lib/python3*/site-packages/*.dist-info/METADATA` finds environments anywhere).

/// A parsed pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    /// The pattern's segments (without the leading `/`).
    segments: Vec<String>,
}

impl Glob {
    /// Parses an absolute pattern.
    pub fn new(pattern: &str) -> Glob {
        Glob {
            segments: pattern
                .trim_start_matches('/')
                .split('/')
                .filter(|segment| !segment.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// True when the pattern has no `*`: it names one path.
    pub fn is_exact(&self) -> bool {
        !self.segments.iter().any(|segment| segment.contains('*'))
    }

    /// True when the absolute `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        segments_match(&self.segments, &parts(path))
    }

    /// True when some path strictly below the folder `folder` could match: a walk of a tree
    /// need not enter a folder for which this is false.
    pub fn may_match_below(&self, folder: &str) -> bool {
        segments_continue(&self.segments, &parts(folder))
    }
}

/// The parts of an absolute path, empty ones left out.
fn parts(path: &str) -> Vec<&str> {
    path.split('/').filter(|part| !part.is_empty()).collect()
}

/// True when `parts` can be followed by more parts so that the whole matches `segments`.
fn segments_continue(segments: &[String], parts: &[&str]) -> bool {
    let Some((part, others)) = parts.split_first() else {
        return !segments.is_empty();
    };
    match segments.split_first() {
        None => false,
        Some((first, rest)) if first == "**" => {
            segments_continue(rest, parts) || segments_continue(segments, others)
        }
        Some((first, rest)) => segment_matches(first, part) && segments_continue(rest, others),
    }
}

/// Matches path parts against pattern segments, `**` taking any number of parts.
fn segments_match(segments: &[String], parts: &[&str]) -> bool {
    match segments.split_first() {
        None => parts.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=parts.len()).any(|skip| segments_match(rest, &parts[skip..]))
        }
        Some((first, rest)) => match parts.split_first() {
            Some((part, others)) => segment_matches(first, part) && segments_match(rest, others),
            None => false,
        },
    }
}

/// `*`-wildcard matching within one segment.
fn segment_matches(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_within_one_segment() {
        let glob = Glob::new("/usr/lib/python3*/site-packages/*.dist-info/METADATA");
        assert!(!glob.is_exact());
        assert!(
            glob.matches("/usr/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA")
        );
        assert!(glob.matches("usr/lib/python3/site-packages/a.dist-info/METADATA"));
        assert!(!glob.matches("/usr/lib/python3.11/site-packages/x/y.dist-info/METADATA"));
        assert!(!glob.matches("/usr/lib/python2.7/site-packages/a.dist-info/METADATA"));
        assert!(Glob::new("/var/lib/dpkg/status.d/*").matches("/var/lib/dpkg/status.d/tzdata"));
        assert!(Glob::new("/etc/os-release").is_exact());
    }

    #[test]
    fn double_stars_match_any_number_of_segments() {
        let glob = Glob::new("/**/lib/python3*/site-packages/*.dist-info/METADATA");
        assert!(!glob.is_exact());
        for path in [
            "/lib/python3.11/site-packages/a-1.dist-info/METADATA",
            "/app/.venv/lib/python3.11/site-packages/a-1.dist-info/METADATA",
            "/home/app/.local/lib/python3.12/site-packages/a-1.dist-info/METADATA",
            "/usr/src/app/env/lib/python3.9/site-packages/a-1.dist-info/METADATA",
        ] {
            assert!(glob.matches(path), "{path}");
        }
        assert!(!glob.matches("/app/lib/python3.11/site-packages/a/b.dist-info/METADATA"));
        assert!(!glob.matches("/app/lib/python3.11/site-packages/a-1.dist-info/RECORD"));
        let ends = Glob::new("/srv/**");
        assert!(ends.matches("/srv") && ends.matches("/srv/a/b"));
        assert!(!ends.matches("/srvx/a"));
    }

    #[test]
    fn folders_worth_entering() {
        let glob = Glob::new("/usr/lib/python3*/site-packages/*.dist-info/METADATA");
        for folder in ["/", "/usr", "/usr/lib", "/usr/lib/python3.11/site-packages"] {
            assert!(glob.may_match_below(folder), "{folder}");
        }
        for folder in [
            "/etc",
            "/usr/share",
            "/usr/lib/python2.7",
            "/usr/lib/python3/site-packages/a.dist-info/METADATA",
        ] {
            assert!(!glob.may_match_below(folder), "{folder}");
        }
        let anywhere = Glob::new("/**/lib/python3*/site-packages/*.dist-info/METADATA");
        assert!(anywhere.may_match_below("/any/where/at/all"));
        assert!(Glob::new("/srv/**").may_match_below("/srv/a"));
        let status = Glob::new("/var/lib/dpkg/status.d/*");
        assert!(status.may_match_below("/var/lib/dpkg/status.d"));
        assert!(!status.may_match_below("/var/lib/rpm"));
        assert!(!status.may_match_below("/var/lib/dpkg/status.d/tzdata"));
    }

    #[test]
    fn segment_patterns() {
        assert!(segment_matches("*", ""));
        assert!(segment_matches("a*b*c", "axxbyyc"));
        assert!(!segment_matches("a*b*c", "axxbyy"));
        assert!(segment_matches("*.md5sums", "x.md5sums"));
        assert!(!segment_matches("ab*ba", "aba"));
    }
}
