//! apt pinning (`/etc/apt/preferences`, `/etc/apt/preferences.d/*`): the priority of each
//! version a repository offers. A version matched by no pin has priority 500; the first pin
//! whose `Package` and `Pin` match gives it. Pins by release (`a=`, `n=`, `o=`, `l=`, `c=`),
//! origin and version (`*` and `?` wildcards) are understood; regular expressions are refused.

use super::control;
use super::release::Release;

/// The priority of a version no pin matches.
pub const DEFAULT_PRIORITY: i32 = 500;

/// One pin.
#[derive(Clone, Debug)]
pub struct Pin {
    /// Package name patterns (`*` for all).
    packages: Vec<String>,
    /// What the pin matches.
    rule: Rule,
    /// `Pin-Priority`.
    priority: i32,
}

/// What a pin matches.
#[derive(Clone, Debug)]
enum Rule {
    /// `release key=value, ...`: every pair must match the release's field.
    Release(Vec<(String, String)>),
    /// `origin HOST`: the archive's host name.
    Origin(String),
    /// `version PATTERN`.
    Version(String),
}

/// Reads the pins of one preferences file.
pub fn parse(path: &str, text: &str) -> Result<Vec<Pin>, String> {
    let mut pins = Vec::new();
    for stanza in control::parse(text).map_err(|error| format!("{path}: {error}"))? {
        let Some(packages) = stanza.get("Package") else {
            continue;
        };
        let pin = stanza.require("Pin").map_err(|e| format!("{path}: {e}"))?;
        let priority = stanza
            .require("Pin-Priority")
            .map_err(|e| format!("{path}: {e}"))?
            .parse()
            .map_err(|_| format!("{path}: Pin-Priority is not a number"))?;
        let unsupported = |what: &str| format!("{path}: {what} in pins are not supported natively");
        if packages.contains('/') || pin.contains('/') && !pin.starts_with("origin") {
            return Err(unsupported("regular expressions"));
        }
        let (kind, rest) = pin.split_once(char::is_whitespace).unwrap_or((pin, ""));
        let rule = match kind {
            "release" => Rule::Release(
                rest.split(',')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
                    .collect(),
            ),
            "origin" => Rule::Origin(rest.trim().trim_matches('"').to_string()),
            "version" => Rule::Version(rest.trim().to_string()),
            other => return Err(format!("{path}: unknown pin type {other:?}")),
        };
        pins.push(Pin {
            packages: packages.split_whitespace().map(String::from).collect(),
            rule,
            priority,
        });
    }
    Ok(pins)
}

/// The priority of `name` at `version`, offered by `release` from the archive at `archive`.
pub fn priority(pins: &[Pin], name: &str, version: &str, release: &Release, archive: &str) -> i32 {
    pins.iter()
        .find(|pin| {
            pin.packages.iter().any(|pattern| glob(pattern, name))
                && match &pin.rule {
                    Rule::Release(pairs) => pairs.iter().all(|(key, value)| {
                        let field = match key.as_str() {
                            "a" => &release.suite,
                            "n" => &release.codename,
                            "o" => &release.origin,
                            "l" => &release.label,
                            _ => return false,
                        };
                        field == value
                    }),
                    Rule::Origin(host) => host_of(archive) == host,
                    Rule::Version(pattern) => glob(pattern, version),
                }
        })
        .map_or(DEFAULT_PRIORITY, |pin| pin.priority)
}

/// The host of a URL.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', ':']).next().unwrap_or_default()
}

/// Shell-style matching with `*` and `?`.
fn glob(pattern: &str, text: &str) -> bool {
    fn matches(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => (0..=text.len()).any(|skip| matches(rest, &text[skip..])),
            Some((b'?', rest)) => !text.is_empty() && matches(rest, &text[1..]),
            Some((c, rest)) => text.first() == Some(c) && matches(rest, &text[1..]),
        }
    }
    matches(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_pin_gives_the_priority() {
        let pins = parse(
            "p",
            "Package: openssl*\nPin: version 3.0.11*\nPin-Priority: 1001\n\n\
             Package: *\nPin: release n=bookworm-backports\nPin-Priority: 100\n\n\
             Package: *\nPin: origin \"mirror.example\"\nPin-Priority: -1\n",
        )
        .unwrap();
        let backports = Release {
            codename: "bookworm-backports".into(),
            ..Release::default()
        };
        let stable = Release::default();
        assert_eq!(
            priority(&pins, "openssl", "3.0.11-1", &stable, "http://x"),
            1001
        );
        assert_eq!(priority(&pins, "curl", "8", &backports, "http://x"), 100);
        assert_eq!(
            priority(&pins, "curl", "8", &stable, "http://mirror.example/debian"),
            -1
        );
        assert_eq!(
            priority(&pins, "curl", "8", &stable, "http://x"),
            DEFAULT_PRIORITY
        );
    }

    #[test]
    fn regular_expressions_are_refused() {
        assert!(parse("p", "Package: /^lib/\nPin: release a=x\nPin-Priority: 1\n").is_err());
    }
}
