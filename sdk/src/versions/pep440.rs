//! Python package versions as PEP 440 defines them: parsing with its normalisations, and
//! ordering as `packaging.version.Version` orders them.
//!
//! `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, case-insensitive, with the spellings PEP 440
//! normalises (`v1.0`, `1.0-alpha.1`, `1.0c1`, `1.0-1` for a post-release, `_` and `-` as
//! separators). Anything else is an error.

use std::cmp::Ordering;

/// A parsed version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The epoch (`N!`), 0 when absent.
    pub epoch: u64,
    /// The release numbers.
    pub release: Vec<u64>,
    /// The pre-release: 0 for `a`, 1 for `b`, 2 for `rc`, with its number.
    pub pre: Option<(u8, u64)>,
    /// The post-release number.
    pub post: Option<u64>,
    /// The development-release number.
    pub dev: Option<u64>,
    /// The local version's segments, lower-cased.
    pub local: Vec<LocalSegment>,
}

/// A segment of a local version: numbers sort after words.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LocalSegment {
    /// Letters (and digits mixed in), compared as text.
    Word(String),
    /// Digits only, compared as a number.
    Number(u64),
}

/// Reads a version; the error names what is wrong.
pub fn parse(text: &str) -> Result<Version, String> {
    let invalid = |why: &str| {
        Err(format!(
            "{text:?} is not a valid Python version (PEP 440): {why}"
        ))
    };
    let lower = text.trim().to_ascii_lowercase();
    let mut rest = lower.strip_prefix('v').unwrap_or(&lower);
    if rest.is_empty() {
        return invalid("it is empty");
    }

    let (public, local) = match rest.split_once('+') {
        Some((public, local)) => (public, Some(local)),
        None => (rest, None),
    };
    rest = public;

    let mut epoch = 0;
    if let Some((number, after)) = rest.split_once('!') {
        epoch = match number.parse() {
            Ok(epoch) => epoch,
            Err(_) => return invalid("the epoch before `!` is not a number"),
        };
        rest = after;
    }

    let mut release = Vec::new();
    loop {
        let (number, after) = take_number(rest);
        let Some(number) = number else {
            return invalid("the release must be numbers separated by dots");
        };
        release.push(number);
        rest = after;
        match rest.strip_prefix('.') {
            Some(after) if after.starts_with(|c: char| c.is_ascii_digit()) => rest = after,
            _ => break,
        }
    }

    let mut pre = None;
    let (after, label) = take_label(
        rest,
        &[
            ("alpha", 0),
            ("a", 0),
            ("beta", 1),
            ("b", 1),
            ("preview", 2),
            ("pre", 2),
            ("rc", 2),
            ("c", 2),
        ],
    );
    if let Some(kind) = label {
        let (number, after) = take_separated_number(after);
        pre = Some((kind, number.unwrap_or(0)));
        rest = after;
    }

    let mut post = None;
    let (after, label) = take_label(rest, &[("post", 0), ("rev", 0), ("r", 0)]);
    if label.is_some() {
        let (number, after) = take_separated_number(after);
        post = Some(number.unwrap_or(0));
        rest = after;
    } else if let Some(after) = rest.strip_prefix('-') {
        let (number, after) = take_number(after);
        if let Some(number) = number {
            post = Some(number);
            rest = after;
        }
    }

    let mut dev = None;
    let (after, label) = take_label(rest, &[("dev", 0)]);
    if label.is_some() {
        let (number, after) = take_separated_number(after);
        dev = Some(number.unwrap_or(0));
        rest = after;
    }

    if !rest.is_empty() {
        return invalid(&format!("{rest:?} is left over"));
    }

    let local = match local {
        None => Vec::new(),
        Some(local) => {
            let segments: Vec<&str> = local.split(['.', '-', '_']).collect();
            if segments.iter().any(|segment| {
                segment.is_empty() || !segment.chars().all(|c| c.is_ascii_alphanumeric())
            }) {
                return invalid(
                    "the local version after `+` must be letters and digits separated by dots",
                );
            }
            segments
                .into_iter()
                .map(|segment| match segment.parse() {
                    Ok(number) if segment.bytes().all(|b| b.is_ascii_digit()) => {
                        LocalSegment::Number(number)
                    }
                    _ => LocalSegment::Word(segment.to_string()),
                })
                .collect()
        }
    };

    Ok(Version {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

/// A leading run of digits as a number, and the rest.
fn take_number(text: &str) -> (Option<u64>, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if end == 0 {
        return (None, text);
    }
    (text[..end].parse().ok(), &text[end..])
}

/// An optional separator (`.`, `-`, `_`) then a number, as after a pre-, post- or dev-release
/// label; without a number, nothing is taken.
fn take_separated_number(text: &str) -> (Option<u64>, &str) {
    let after = text.strip_prefix(['.', '-', '_']).unwrap_or(text);
    match take_number(after) {
        (Some(number), rest) => (Some(number), rest),
        (None, _) => (None, text),
    }
}

/// An optional separator then one of `labels` (longest listed first), and the rest.
fn take_label<'a>(text: &'a str, labels: &[(&str, u8)]) -> (&'a str, Option<u8>) {
    let after = text.strip_prefix(['.', '-', '_']).unwrap_or(text);
    for (label, kind) in labels {
        if let Some(rest) = after.strip_prefix(label) {
            return (rest, Some(*kind));
        }
    }
    (text, None)
}

/// Orders two versions as `packaging` does.
pub fn compare(a: &Version, b: &Version) -> Ordering {
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| trimmed(&a.release).cmp(trimmed(&b.release)))
        .then_with(|| pre_key(a).cmp(&pre_key(b)))
        .then_with(|| {
            a.post
                .map(|n| n as i128)
                .unwrap_or(-1)
                .cmp(&b.post.map(|n| n as i128).unwrap_or(-1))
        })
        .then_with(|| dev_key(a).cmp(&dev_key(b)))
        .then_with(|| local_key(a).cmp(&local_key(b)))
}

/// The release without trailing zeros (`1.0.0` equals `1`).
fn trimmed(release: &[u64]) -> &[u64] {
    let end = release.iter().rposition(|n| *n != 0).map_or(0, |i| i + 1);
    &release[..end]
}

/// Pre-release key: a dev release of a final version sorts before its pre-releases; a final
/// version after them.
fn pre_key(version: &Version) -> (i8, u64) {
    match (version.pre, version.post, version.dev) {
        (None, None, Some(_)) => (-1, 0),
        (None, _, _) => (3, 0),
        (Some((kind, number)), _, _) => (kind as i8, number),
    }
}

/// Dev key: no dev release sorts last.
fn dev_key(version: &Version) -> (bool, u64) {
    match version.dev {
        Some(number) => (false, number),
        None => (true, 0),
    }
}

/// Local key: no local version sorts first.
fn local_key(version: &Version) -> Option<&[LocalSegment]> {
    (!version.local.is_empty()).then_some(version.local.as_slice())
}

/// Parses and orders two version strings.
pub fn compare_text(a: &str, b: &str) -> Result<Ordering, String> {
    Ok(compare(&parse(a)?, &parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn orders_like_pep_440() {
        // In increasing order, from PEP 440's examples and packaging's tests.
        let ordered = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
            "1!0.1",
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(compare_text(a, b).unwrap(), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn normalises_alternative_spellings() {
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("v1.0", "1.0"),
            ("1.0-alpha.1", "1.0a1"),
            ("1.0c1", "1.0rc1"),
            ("1.0-pre1", "1.0rc1"),
            ("1.0-1", "1.0.post1"),
            ("1.0-r1", "1.0.post1"),
            ("1.0post", "1.0.post0"),
            ("1.0.DEV", "1.0.dev0"),
            ("1.0+ubuntu-1", "1.0+ubuntu.1"),
            (" 2.31.0 ", "2.31.0"),
        ] {
            assert_eq!(compare_text(a, b).unwrap(), Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn invalid_versions_are_errors() {
        for text in [
            "",
            "v",
            "a1",
            "1.0.x",
            "1.0+",
            "1.0+a..b",
            "1.0 2",
            "1.0rc1rc2",
            "!1",
            "1.0-",
            "1..0",
        ] {
            assert!(parse(text).is_err(), "{text:?} should be invalid");
        }
    }
}
