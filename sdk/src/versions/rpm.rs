//! RPM versions: `[epoch:]version[-release]`, ordered as rpm 4.18's `rpmvercmp` and `rpmverCmp`
//! order them.
//!
//! Epochs compare as numbers (absent is 0), then versions, then releases (with equal versions, a
//! side with a release is newer than one without, as `rpm.vercmp` and `rpmverCmp` say). `rpmvercmp` walks both strings in segments: separators (anything
//! but letters, digits, `~` and `^`) are skipped; `~` sorts before everything, even the end; `^`
//! sorts after the end but before anything else; digit runs compare as numbers and beat letter
//! runs; letter runs compare as text.
//!
//! rpm itself accepts nearly any string. salve refuses what cannot be a package's version:
//! empty parts, whitespace, and characters outside letters, digits and `._+~^` (with `-` only
//! between version and release, and `:` only after an epoch).

use std::cmp::Ordering;

/// A parsed EVR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evr<'a> {
    /// The epoch, `None` when absent (which counts as 0).
    pub epoch: Option<u64>,
    /// The version.
    pub version: &'a str,
    /// The release, `None` when absent.
    pub release: Option<&'a str>,
}

/// Parses `[epoch:]version[-release]`.
pub fn parse(text: &str) -> Result<Evr<'_>, String> {
    let reason = |why: &str| format!("version {text:?} is not a valid RPM version: {why}");
    let invalid = |why: &str| Err(reason(why));
    if text.is_empty() {
        return invalid("it is empty");
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = match text.as_bytes().get(digits) {
        Some(b':') if digits > 0 => {
            let Ok(epoch) = text[..digits].parse::<u64>() else {
                return invalid("the epoch is too big");
            };
            (Some(epoch), &text[digits + 1..])
        }
        _ => (None, text),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((version, release)) => (version, Some(release)),
        None => (rest, None),
    };
    check_part(version, "version").map_err(|why| reason(&why))?;
    if let Some(release) = release {
        check_part(release, "release").map_err(|why| reason(&why))?;
    }
    Ok(Evr {
        epoch,
        version,
        release,
    })
}

/// A version or release: not empty, letters, digits and `._+~^` only.
fn check_part(part: &str, what: &str) -> Result<(), String> {
    if part.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    match part
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !"._+~^".contains(*c))
    {
        Some(bad) => Err(format!("the {what} contains {bad:?}")),
        None => Ok(()),
    }
}

/// Orders two EVRs as rpm does.
pub fn compare(a: &Evr<'_>, b: &Evr<'_>) -> Ordering {
    a.epoch
        .unwrap_or(0)
        .cmp(&b.epoch.unwrap_or(0))
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| match (a.release, b.release) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        })
}

/// Parses and orders two version strings.
pub fn compare_text(a: &str, b: &str) -> Result<Ordering, String> {
    Ok(compare(&parse(a)?, &parse(b)?))
}

/// rpm's segment-by-segment comparison of two version (or release) strings.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && separator(a[i]) {
            i += 1;
        }
        while j < b.len() && separator(b[j]) {
            j += 1;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        if x == Some(b'~') || y == Some(b'~') {
            if x != Some(b'~') {
                return Ordering::Greater;
            }
            if y != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if x == Some(b'^') || y == Some(b'^') {
            if x.is_none() {
                return Ordering::Less;
            }
            if y.is_none() {
                return Ordering::Greater;
            }
            if x != Some(b'^') {
                return Ordering::Greater;
            }
            if y != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(x), Some(_)) = (x, y) else {
            break;
        };
        let numeric = x.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let end_a = i + a[i..].iter().take_while(|c| class(c)).count();
        let end_b = j + b[j..].iter().take_while(|c| class(c)).count();
        if end_b == j {
            // Segments of different kinds: a number beats letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut seg_a, mut seg_b) = (&a[i..end_a], &b[j..end_b]);
        if numeric {
            while seg_a.first() == Some(&b'0') {
                seg_a = &seg_a[1..];
            }
            while seg_b.first() == Some(&b'0') {
                seg_b = &seg_b[1..];
            }
            match seg_a.len().cmp(&seg_b.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match seg_a.cmp(seg_b) {
            Ordering::Equal => {}
            other => return other,
        }
        i = end_a;
        j = end_b;
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn orders_like_rpmvercmp() {
        // rpm's own test vectors (tests/rpmvercmp.at), a selection.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1", Equal),
            ("2.0", "2.0.1", Less),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("5.5p1", "5.5.p1", Equal),
            ("5.6p1", "5.5.p1", Greater),
            ("10.0001", "10.1", Equal),
            ("10.0001", "10.0039", Less),
            ("4.999.9", "5.0", Less),
            ("20101121", "20101122", Less),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("a+", "a_", Equal),
            ("+", "_", Equal),
            ("1.0~rc1", "1.0~rc1", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0^20160101^git1", "1.0^20160101", Greater),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(rpmvercmp(a, b), expected, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn compares_epoch_version_release() {
        let cmp = |a, b| compare_text(a, b).unwrap();
        assert_eq!(cmp("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(cmp("0:1.0-1", "1.0-1"), Equal);
        assert_eq!(cmp("1.0-1.el8", "1.0-2.el8"), Less);
        assert_eq!(
            cmp("1.0", "1.0-5"),
            Less,
            "a release makes the version newer"
        );
        assert_eq!(cmp("1.1.1k-7.el8_6", "1.1.1k-9.el8_7"), Less);
    }

    #[test]
    fn invalid_versions_are_errors() {
        for (text, why) in [
            ("", "empty"),
            ("1.0-", "release is empty"),
            ("1:", "version is empty"),
            ("1.0 1", "contains ' '"),
            ("1.0-1-2", "version contains '-'"),
            ("%{version}", "contains '%'"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(why), "{text:?}: {error}");
        }
        assert_eq!(
            parse("a:1").unwrap_err(),
            "version \"a:1\" is not a valid RPM version: the version contains ':'"
        );
    }
}
