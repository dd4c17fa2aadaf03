//! A version ordering that needs no ecosystem: used to pick the highest fixed version when
//! findings for one package disagree, until the package's ecosystem plugin compares them.
//!
//! It compares the way dpkg, rpm and apk agree on common versions: an optional numeric epoch
//! before `:`, then alternating runs of non-digits (compared as text, with `~` before
//! everything, even the end) and digits (compared as numbers).

use std::cmp::Ordering;

/// Orders two versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (epoch_a, rest_a) = split_epoch(a);
    let (epoch_b, rest_b) = split_epoch(b);
    epoch_a
        .cmp(&epoch_b)
        .then_with(|| compare_runs(rest_a, rest_b))
        .then_with(|| a.cmp(b))
}

/// The numeric epoch (0 when absent) and the rest of the version.
fn split_epoch(version: &str) -> (u64, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (epoch.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, version),
    }
}

/// Compares alternating non-digit and digit runs.
fn compare_runs(mut a: &str, mut b: &str) -> Ordering {
    loop {
        let (text_a, after_a) = split_run(a, |c| !c.is_ascii_digit());
        let (text_b, after_b) = split_run(b, |c| !c.is_ascii_digit());
        let order = compare_text(text_a, text_b);
        if order != Ordering::Equal {
            return order;
        }
        let (digits_a, rest_a) = split_run(after_a, |c| c.is_ascii_digit());
        let (digits_b, rest_b) = split_run(after_b, |c| c.is_ascii_digit());
        let order = compare_digits(digits_a, digits_b);
        if order != Ordering::Equal {
            return order;
        }
        if rest_a.is_empty() && rest_b.is_empty() {
            return Ordering::Equal;
        }
        (a, b) = (rest_a, rest_b);
    }
}

/// The longest prefix whose characters satisfy `keep`, and the rest.
fn split_run(text: &str, keep: impl Fn(char) -> bool) -> (&str, &str) {
    let end = text.find(|c: char| !keep(c)).unwrap_or(text.len());
    text.split_at(end)
}

/// dpkg's ordering of non-digit runs: `~` first (even before the end), then the end, then
/// letters, then other characters.
fn compare_text(a: &str, b: &str) -> Ordering {
    let weight = |c: Option<char>| match c {
        Some('~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    };
    let mut a = a.chars();
    let mut b = b.chars();
    loop {
        let (x, y) = (a.next(), b.next());
        if x.is_none() && y.is_none() {
            return Ordering::Equal;
        }
        let order = weight(x).cmp(&weight(y));
        if order != Ordering::Equal {
            return order;
        }
    }
}

/// Compares runs of digits as numbers of any length.
fn compare_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_common_versions() {
        use Ordering::*;
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.2", "1.10", Less),
            ("3.0.13-1~deb12u1", "3.0.11-1~deb12u2", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0a", Less),
            ("1:1.0", "2.0", Greater),
            ("2.34^20220124-1", "2.34-1", Greater),
            ("1.2.3-r1", "1.2.3-r0", Greater),
            ("99999999999999999999999", "1", Greater),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare(a, b), expected, "{a} vs {b}");
            assert_eq!(compare(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn digit_runs_compare_as_numbers_and_ties_break_on_text() {
        assert_eq!(compare_digits("00012", "12"), Ordering::Equal);
        assert_eq!(compare("00012", "12"), Ordering::Less);
    }
}
