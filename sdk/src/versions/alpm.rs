//! Arch Linux package versions, `[epoch:]pkgver[-pkgrel]`, ordered as pacman's `vercmp`
//! (libalpm's `alpm_pkg_vercmp`) orders them.
//!
//! Epochs compare first (absent is 0), then versions, then releases when both sides have one.
//! Each part is compared segment by segment: runs of characters other than ASCII letters and
//! digits separate segments, and a side with more separator characters before a segment is the
//! newer; digit runs compare as numbers (leading zeros dropped) and beat letter runs; letter runs
//! compare as text. When one side runs out, it is older unless the other goes on with letters
//! (`1.0a` is older than `1.0`, `1.0.1` newer). Unlike rpm, `~` and `^` are plain separators.
//!
//! pacman accepts nearly any string; salve refuses what cannot be a package's version: an empty
//! version, whitespace and control characters, a non-numeric epoch, an empty or non-numeric
//! release (`1`, `1.1`).

use std::cmp::Ordering;

/// A version split into its parts, as libalpm splits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evr<'a> {
    /// The epoch, `0` when absent.
    pub epoch: &'a str,
    /// `pkgver`.
    pub version: &'a str,
    /// `pkgrel`, when present.
    pub release: Option<&'a str>,
}

/// Splits and checks a version; the error says what is wrong.
pub fn parse(text: &str) -> Result<Evr<'_>, String> {
    let invalid = |why: &str| Err(format!("Arch version {text:?} is invalid: {why}"));
    if text.is_empty() {
        return invalid("it is empty");
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("it holds whitespace or control characters");
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = match text[digits..].strip_prefix(':') {
        Some(rest) if digits > 0 => (&text[..digits], rest),
        Some(_) => return invalid("the epoch is empty"),
        None => ("0", text),
    };
    if rest.contains(':') {
        return invalid("only an epoch may be followed by `:`");
    }
    let (version, release) = match rest.rsplit_once('-') {
        Some((version, release)) => (version, Some(release)),
        None => (rest, None),
    };
    if version.is_empty() {
        return invalid("the version is empty");
    }
    if version.contains(['-', '/']) {
        return invalid("the version holds `-` or `/`");
    }
    if let Some(release) = release {
        let numeric = release
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
        if !numeric {
            return invalid("the release is not a number such as `1` or `1.1`");
        }
    }
    Ok(Evr {
        epoch,
        version,
        release,
    })
}

/// Orders two parsed versions as `vercmp` does.
pub fn compare(a: &Evr<'_>, b: &Evr<'_>) -> Ordering {
    segments(a.epoch, b.epoch)
        .then_with(|| segments(a.version, b.version))
        .then_with(|| match (a.release, b.release) {
            (Some(x), Some(y)) => segments(x, y),
            _ => Ordering::Equal,
        })
}

/// Checks and orders two version strings.
pub fn compare_text(a: &str, b: &str) -> Result<Ordering, String> {
    Ok(compare(&parse(a)?, &parse(b)?))
}

/// libalpm's segment comparison of one part of two versions.
pub fn segments(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return Ordering::Equal;
    }
    // `i`, `j`: where the next segment starts; `end_a`, `end_b`: where the last one ended.
    let (mut i, mut j, mut end_a, mut end_b) = (0, 0, 0, 0);
    while i < a.len() && j < b.len() {
        while i < a.len() && !a[i].is_ascii_alphanumeric() {
            i += 1;
        }
        while j < b.len() && !b[j].is_ascii_alphanumeric() {
            j += 1;
        }
        if i == a.len() || j == b.len() {
            break;
        }
        // More separator characters before the segment: newer.
        if i - end_a != j - end_b {
            return (i - end_a).cmp(&(j - end_b));
        }
        let numeric = a[i].is_ascii_digit();
        let run = |text: &[u8], from: usize| {
            let length = text[from..]
                .iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count();
            from + length
        };
        end_a = run(a, i);
        end_b = run(b, j);
        if end_b == j {
            // A digit run against letters: the digits are newer.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut x, mut y) = (&a[i..end_a], &b[j..end_b]);
        if numeric {
            x = trim_zeros(x);
            y = trim_zeros(y);
            let by_length = x.len().cmp(&y.len());
            if by_length != Ordering::Equal {
                return by_length;
            }
        }
        let by_text = x.cmp(y);
        if by_text != Ordering::Equal {
            return by_text;
        }
        i = end_a;
        j = end_b;
    }
    if i == a.len() && j == b.len() {
        return Ordering::Equal;
    }
    // One side ran out: it is older unless the other goes on with letters; a side going on with
    // letters is older.
    let a_rest = a.get(i);
    let b_rest = b.get(j);
    if (a_rest.is_none() && !b_rest.is_some_and(u8::is_ascii_alphabetic))
        || a_rest.is_some_and(u8::is_ascii_alphabetic)
    {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

/// A digit run without its leading zeros.
fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn orders_like_vercmp() {
        // Each checked against pacman 6.0's `vercmp`; tests/ecosystem_pacman.rs compares
        // thousands more with the real program.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0a", "1.0", Less),
            ("1.0", "1.0.0", Less),
            ("1.0.a", "1.0a", Greater),
            ("1.0~rc1", "1.0", Greater),
            ("1:1.0", "2.0", Greater),
            ("1.0-1", "1.0", Equal),
            ("1.0-2", "1.0-10", Less),
            ("1.0-1.1", "1.0-1", Greater),
            ("2.36-9", "2.36-10", Less),
            ("1.001", "1.1", Equal),
            ("1..0", "1.0", Greater),
            ("1.0alpha", "1.0beta", Less),
            ("1.0", "1.0b", Greater),
            ("0:1.0-1", "1.0-1", Equal),
            ("20240101", "1.0", Greater),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare_text(a, b).unwrap(), expected, "{a} vs {b}");
            assert_eq!(
                compare_text(b, a).unwrap(),
                expected.reverse(),
                "{b} vs {a}"
            );
        }
    }

    #[test]
    fn invalid_versions_are_errors() {
        for version in [
            "", " 1.0", "1.0 -1", ":1.0", "a:1.0", "1:2:3", "-1", "1.0-", "1.0-r1", "1.0-1..1",
            "1.0\n",
        ] {
            assert!(parse(version).is_err(), "{version:?} should be invalid");
        }
        let evr = parse("2:5.2.026-2.1").unwrap();
        assert_eq!(
            (evr.epoch, evr.version, evr.release),
            ("2", "5.2.026", Some("2.1"))
        );
        assert_eq!(parse("1.0").unwrap().release, None);
    }
}
