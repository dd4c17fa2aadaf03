//! Debian package versions: parsing and ordering exactly as dpkg does.
//!
//! A version is `[epoch:]upstream[-revision]`. The epoch is a number; the revision is what follows
//! the last `-`; the upstream version may hold letters, digits and `.+~-:`, the revision letters,
//! digits and `.+~`; the upstream version starts with a digit. Every version dpkg calls "bad
//! syntax" is an error here, including those `dpkg --compare-versions` only warns about (invalid
//! characters, no leading digit): salve does not guess. Ordering compares epochs as numbers, then upstream versions, then revisions,
//! each by dpkg's `verrevcmp`: alternating runs of non-digits (letters before other characters,
//! `~` before everything, even the end of the string) and digits (compared as numbers).

use std::cmp::Ordering;

/// A parsed Debian version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version<'a> {
    /// The epoch, 0 when absent.
    pub epoch: u32,
    /// The upstream version.
    pub upstream: &'a str,
    /// The Debian revision, empty when absent.
    pub revision: &'a str,
}

/// Parses a version with dpkg's rules; the error says what is wrong, as dpkg would.
pub fn parse(text: &str) -> Result<Version<'_>, String> {
    let invalid = |why: &str| Err(format!("version {text:?} has bad syntax: {why}"));
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return invalid("version string is empty");
    }
    if trimmed.contains(char::is_whitespace) {
        return invalid("version string has embedded spaces");
    }
    let (epoch, rest) = match trimmed.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
                return invalid("epoch in version is not number");
            }
            let Ok(epoch) = epoch.parse::<u32>() else {
                return invalid("epoch in version is too big");
            };
            if epoch > i32::MAX as u32 {
                return invalid("epoch in version is too big");
            }
            if rest.is_empty() {
                return invalid("nothing after colon in version number");
            }
            (epoch, rest)
        }
        None => (0, trimmed),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((upstream, revision)) => {
            if revision.is_empty() {
                return invalid("revision number is empty");
            }
            (upstream, revision)
        }
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return invalid("version number is empty");
    }
    if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
        return invalid("version number does not start with digit");
    }
    if let Some(bad) = upstream
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !".-+~:".contains(*c))
    {
        return invalid(&format!("invalid character {bad:?} in version number"));
    }
    if let Some(bad) = revision
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !".+~".contains(*c))
    {
        return invalid(&format!("invalid character {bad:?} in revision number"));
    }
    Ok(Version {
        epoch,
        upstream,
        revision,
    })
}

/// Orders two versions like `dpkg --compare-versions`.
pub fn compare(a: &Version<'_>, b: &Version<'_>) -> Ordering {
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

/// Parses and orders two version strings.
pub fn compare_text(a: &str, b: &str) -> Result<Ordering, String> {
    Ok(compare(&parse(a)?, &parse(b)?))
}

/// The weight of a character in a non-digit run: `~` lowest, then the end, then letters, then
/// everything else.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's comparison of one part (upstream or revision).
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (x, y) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if x != y {
                return x.cmp(&y);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_difference = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_difference == Ordering::Equal {
                first_difference = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_difference != Ordering::Equal {
            return first_difference;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare_text(a, b).unwrap()
    }

    #[test]
    fn orders_like_debian_policy_says() {
        // Debian Policy 5.6.12 and dpkg's own test cases.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0-1", "1.0-1", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1-1", "1.0-1", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0-1", "1.0-1.1", Less),
            ("1:0.1", "2.0", Greater),
            ("0:1.0", "1.0", Equal),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0b", Less),
            ("1.0.1", "1.0a", Greater),
            ("1.10", "1.9", Greater),
            ("1.01", "1.1", Equal),
            ("2.0-0", "2.0", Equal),
            ("3.0.13-1~deb12u1", "3.0.11-1~deb12u2", Greater),
            ("3.0.11-1~deb12u2", "3.0.11-1", Less),
            ("1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+b1", Less),
            ("7.68.0-1ubuntu2.18", "7.68.0-1ubuntu2.19", Less),
            ("1.2-3-4", "1.2-3-5", Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(cmp(a, b), expected, "{a} vs {b}");
            assert_eq!(cmp(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn tildes_sort_before_everything_even_the_end() {
        assert_eq!(verrevcmp("~~", "~~a"), Less);
        assert_eq!(verrevcmp("~", "~~a"), Greater);
        assert_eq!(verrevcmp("", "~"), Greater);
        assert_eq!(cmp("1.0~~", "1.0~"), Less);
    }

    #[test]
    fn splits_epoch_upstream_and_revision() {
        let version = parse("2:1.2-3-4").unwrap();
        assert_eq!(
            version,
            Version {
                epoch: 2,
                upstream: "1.2-3",
                revision: "4"
            }
        );
        assert_eq!(parse("1.0").unwrap().revision, "");
    }

    #[test]
    fn invalid_versions_are_errors_like_dpkgs() {
        for (text, why) in [
            ("", "empty"),
            ("1.0 1", "embedded spaces"),
            ("a:1.0", "epoch in version is not number"),
            ("99999999999:1.0", "too big"),
            ("1:", "nothing after colon"),
            ("1.0-", "revision number is empty"),
            ("-1", "version number is empty"),
            ("a1.0", "does not start with digit"),
            ("1.0_1", "invalid character '_' in version number"),
            ("1.0-1_2", "invalid character '_' in revision number"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(why), "{text:?}: {error}");
        }
    }
}
