//! Alpine package versions, parsed and ordered as apk-tools does:
//! `digits{.digits}...{letter}{_suffix{digits}}...{~hash}{-rN}`.
//!
//! Tokens compare in turn: the first number and suffix, revision numbers as numbers; later digit
//! runs as numbers unless either has a leading zero (then as text); letters as characters;
//! suffixes by rank (`_alpha` < `_beta` < `_pre` < `_rc` < none < `_cvs` < `_svn` < `_git` <
//! `_hg` < `_p`); commit hashes as text. When one version runs out first it is the older one,
//! unless the other goes on with a pre-release suffix.

use std::cmp::Ordering;

/// The kinds of token, in the order apk-tools allows them to follow one another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNumber,
    CommitHash,
    RevisionNumber,
    End,
    Invalid,
}

/// Suffix ranks; `None` is the pivot between pre- and post-release suffixes.
const SUFFIXES: [&str; 10] = [
    "alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p",
];

/// The rank of "no suffix" in [`SUFFIXES`].
const NO_SUFFIX: usize = 4;

/// One token: its kind, its text, and its numeric value where it has one.
#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    text: &'a [u8],
    number: u64,
    suffix: usize,
}

/// Reads tokens off a version, one at a time.
struct Tokens<'a> {
    rest: &'a [u8],
    current: Token<'a>,
}

impl<'a> Tokens<'a> {
    /// Starts at the version's first (numeric) token.
    fn new(version: &'a str) -> Tokens<'a> {
        let mut tokens = Tokens {
            rest: version.as_bytes(),
            current: Token {
                kind: Kind::InitialDigit,
                text: &[],
                number: 0,
                suffix: NO_SUFFIX,
            },
        };
        tokens.digits();
        tokens
    }

    /// Takes a run of digits as the current token's text and number.
    fn digits(&mut self) {
        let length = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.rest.split_at(length);
        self.current.text = digits;
        self.current.number = digits.iter().fold(0u64, |number, digit| {
            number
                .wrapping_mul(10)
                .wrapping_add(u64::from(digit - b'0'))
        });
        self.rest = rest;
        if length == 0 {
            self.current.kind = Kind::Invalid;
        }
    }

    /// Moves to the next token.
    fn next(&mut self) {
        let previous = self.current.kind;
        let Some(&first) = self.rest.first() else {
            self.current.kind = Kind::End;
            return;
        };
        let invalid = |tokens: &mut Tokens<'_>| tokens.current.kind = Kind::Invalid;
        match first {
            b'a'..=b'z' if previous <= Kind::Digit => {
                self.current.kind = Kind::Letter;
                self.current.text = &self.rest[..1];
                self.rest = &self.rest[1..];
            }
            b'.' | b'0'..=b'9' => {
                if first == b'.' {
                    if previous > Kind::Digit {
                        return invalid(self);
                    }
                    self.rest = &self.rest[1..];
                }
                self.current.kind = match previous {
                    Kind::InitialDigit | Kind::Digit => Kind::Digit,
                    Kind::Suffix => Kind::SuffixNumber,
                    _ => return invalid(self),
                };
                self.digits();
            }
            b'_' if previous <= Kind::SuffixNumber => {
                let name_length = self.rest[1..]
                    .iter()
                    .take_while(|b| b.is_ascii_lowercase())
                    .count();
                let name = &self.rest[1..1 + name_length];
                self.rest = &self.rest[1 + name_length..];
                match SUFFIXES
                    .iter()
                    .position(|suffix| !suffix.is_empty() && suffix.as_bytes() == name)
                {
                    Some(rank) => {
                        self.current.kind = Kind::Suffix;
                        self.current.text = name;
                        self.current.suffix = rank;
                    }
                    None => invalid(self),
                }
            }
            b'~' if previous < Kind::CommitHash => {
                let length = self.rest[1..]
                    .iter()
                    .take_while(|b| b.is_ascii_hexdigit())
                    .count();
                if length == 0 {
                    return invalid(self);
                }
                self.current.kind = Kind::CommitHash;
                self.current.text = &self.rest[1..1 + length];
                self.rest = &self.rest[1 + length..];
            }
            b'-' if previous < Kind::RevisionNumber && self.rest.starts_with(b"-r") => {
                self.rest = &self.rest[2..];
                self.current.kind = Kind::RevisionNumber;
                self.digits();
            }
            _ => invalid(self),
        }
    }
}

/// Compares two tokens of the same kind.
fn compare_tokens(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        Kind::Digit if a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0') => {
            a.text.cmp(b.text)
        }
        Kind::Digit | Kind::InitialDigit | Kind::SuffixNumber | Kind::RevisionNumber => {
            a.number.cmp(&b.number)
        }
        Kind::Letter => a.text.cmp(b.text),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.text.cmp(b.text),
    }
}

/// Checks a version against apk-tools' grammar.
pub fn validate(version: &str) -> Result<(), String> {
    let mut tokens = Tokens::new(version);
    while tokens.current.kind < Kind::End {
        tokens.next();
    }
    if tokens.current.kind == Kind::End {
        Ok(())
    } else {
        Err(format!(
            "version {version:?} is not a valid Alpine package version \
             (digits{{.digits}}{{letter}}{{_suffix{{N}}}}{{~hash}}{{-rN}})"
        ))
    }
}

/// Orders two valid versions as `apk version -t` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (Tokens::new(a), Tokens::new(b));
    while x.current.kind == y.current.kind && x.current.kind < Kind::End {
        let order = compare_tokens(&x.current, &y.current);
        if order != Ordering::Equal {
            return order;
        }
        x.next();
        y.next();
    }
    let (a, b) = (x.current, y.current);
    if a.kind == b.kind {
        return Ordering::Equal;
    }
    if a.kind == Kind::Suffix && a.suffix < NO_SUFFIX {
        return Ordering::Less;
    }
    if b.kind == Kind::Suffix && b.suffix < NO_SUFFIX {
        return Ordering::Greater;
    }
    b.kind.cmp(&a.kind)
}

/// Validates and orders two version strings.
pub fn compare_text(a: &str, b: &str) -> Result<Ordering, String> {
    validate(a)?;
    validate(b)?;
    Ok(compare(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn orders_like_apk_tools() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0b", Less),
            ("1.0_alpha", "1.0", Less),
            ("1.0_alpha1", "1.0_alpha2", Less),
            ("1.0_alpha", "1.0_beta", Less),
            ("1.0_beta", "1.0_pre", Less),
            ("1.0_pre", "1.0_rc", Less),
            ("1.0_rc1", "1.0", Less),
            ("1.0", "1.0_p1", Less),
            ("1.0_cvs", "1.0_svn", Less),
            ("1.0_git", "1.0_hg", Less),
            ("1.0_hg", "1.0_p", Less),
            ("1.0-r0", "1.0-r1", Less),
            ("1.0-r10", "1.0-r9", Greater),
            ("1.0", "1.0-r0", Less),
            ("2.12.5-r1", "2.12.6-r0", Less),
            ("1.1.18-r3", "1.1.18-r4", Less),
            ("1.01", "1.1", Less),
            ("1.001", "1.01", Less),
            ("1.0~abc", "1.0~abd", Less),
            ("1.0~abc-r1", "1.0-r1", Greater),
            ("3.0.13-r0", "3.0.9-r0", Greater),
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
            "", "a1", "1.0-1", "1.0_foo", "1..0", "1.0-r", "1.0~", "1.0-r1a", "1.0A", "1.0 ",
        ] {
            assert!(validate(version).is_err(), "{version:?} should be invalid");
        }
        for version in [
            "1",
            "1.0_rc1_p2",
            "1.2.3a_pre4-r5",
            "0.1~deadbeef-r0",
            "20240101",
        ] {
            assert!(validate(version).is_ok(), "{version:?} should be valid");
        }
    }
}
