//! `--mirror ORIGIN=URL`: where packages come from for one run. An origin is a repository URL
//! prefix (`http://deb.debian.org/debian`; without a scheme it stands for both `http://` and
//! `https://`) or a name for a well-known archive's hosts (`debian`, `pypi`, ...). A URL that
//! starts with an origin, at a path boundary, is fetched from the mirror instead, with the rest
//! of its path kept. The native engine rewrites the URLs it fetches; the engines that run the
//! image's package manager give its steps rewritten copies of the image's source files (see
//! [`sources`]), so the patched image keeps its own.

pub mod sources;

use std::fmt;

/// The origins a well-known name stands for: the hosts the archive is served from, each with
/// the archive's path.
const ALIASES: [(&str, &[&str]); 6] = [
    (
        "debian",
        &[
            "deb.debian.org/debian",
            "ftp.debian.org/debian",
            "httpredir.debian.org/debian",
            "cdn-fastly.deb.debian.org/debian",
        ],
    ),
    (
        "debian-security",
        &[
            "deb.debian.org/debian-security",
            "security.debian.org/debian-security",
            "security.debian.org",
        ],
    ),
    (
        "ubuntu",
        &["archive.ubuntu.com/ubuntu", "security.ubuntu.com/ubuntu"],
    ),
    ("ubuntu-ports", &["ports.ubuntu.com/ubuntu-ports"]),
    ("alpine", &["dl-cdn.alpinelinux.org/alpine"]),
    ("pypi", &["pypi.org/simple", "pypi.python.org/simple"]),
];

/// Why a `--mirror` value is refused.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// Not `ORIGIN=URL`.
    #[error("--mirror {0}: expected ORIGIN=URL (ORIGIN a repository URL prefix or one of {1})")]
    Form(String, String),
    /// The origin is neither a name salve knows nor a URL prefix.
    #[error(
        "--mirror {0}: the origin is neither a URL prefix (`http://host/path`, `host/path`) nor \
         one of {1}"
    )]
    Origin(String, String),
    /// The mirror is not an `http://` or `https://` URL.
    #[error("--mirror {0}: the mirror must be an http:// or https:// URL with a host")]
    Url(String),
    /// Two mirrors for one origin.
    #[error("--mirror: {0} is given more than one mirror")]
    Twice(String),
}

/// One `--mirror ORIGIN=URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    /// The origin as the user wrote it.
    pub origin: String,
    /// The URL prefixes it stands for (without a trailing `/`; without a scheme for either).
    prefixes: Vec<String>,
    /// The mirror's URL, without a trailing `/`.
    pub url: String,
}

/// The mirrors of a run, in the order given; empty when none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mirrors {
    /// The mirrors.
    mirrors: Vec<Mirror>,
}

/// An origin prefix found in a text: where it starts and ends, and the mirror it belongs to.
struct Found {
    /// The byte offset of the URL's start (its scheme).
    start: usize,
    /// The byte offset just past the prefix.
    end: usize,
    /// The mirror's index.
    mirror: usize,
}

impl Mirrors {
    /// Parses `--mirror` values (`ORIGIN=URL`).
    pub fn parse(values: &[String]) -> Result<Mirrors, MirrorError> {
        let names = || {
            ALIASES
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut mirrors: Vec<Mirror> = Vec::new();
        for value in values {
            let Some((origin, url)) = value.split_once('=') else {
                return Err(MirrorError::Form(value.clone(), names()));
            };
            let prefixes = match ALIASES.iter().find(|(name, _)| *name == origin) {
                Some((_, prefixes)) => prefixes.iter().map(|p| p.to_string()).collect(),
                None => vec![
                    origin_prefix(origin)
                        .ok_or_else(|| MirrorError::Origin(value.clone(), names()))?,
                ],
            };
            let url = url.trim_end_matches('/');
            if !is_http_url(url) {
                return Err(MirrorError::Url(value.clone()));
            }
            for prefix in &prefixes {
                if mirrors.iter().any(|m| m.prefixes.contains(prefix)) {
                    return Err(MirrorError::Twice(prefix.clone()));
                }
            }
            mirrors.push(Mirror {
                origin: origin.to_string(),
                prefixes,
                url: url.to_string(),
            });
        }
        Ok(Mirrors { mirrors })
    }

    /// True when no mirror is given.
    pub fn is_empty(&self) -> bool {
        self.mirrors.is_empty()
    }

    /// The mirrors, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Mirror> {
        self.mirrors.iter()
    }

    /// The URL to fetch instead of `url`, when it starts with an origin.
    pub fn rewrite_url(&self, url: &str) -> Option<String> {
        let found = self.find_at(url, 0)?;
        Some(format!(
            "{}{}",
            self.mirrors[found.mirror].url,
            &url[found.end..]
        ))
    }

    /// `text` with every URL that starts with an origin pointing at its mirror instead; `None`
    /// when no URL in it does.
    pub fn rewrite_text(&self, text: &str) -> Option<String> {
        let mut rewritten = String::new();
        let mut copied = 0;
        let mut at = 0;
        while at < text.len() {
            match self.find_at(text, at) {
                Some(found) => {
                    rewritten.push_str(&text[copied..found.start]);
                    rewritten.push_str(&self.mirrors[found.mirror].url);
                    copied = found.end;
                    at = found.end;
                }
                None => at += text[at..].chars().next().map_or(1, char::len_utf8),
            }
        }
        if copied == 0 {
            return None;
        }
        rewritten.push_str(&text[copied..]);
        Some(rewritten)
    }

    /// The origins that no URL in `texts` starts with (as the user wrote them).
    pub fn unused<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Vec<&str> {
        let mut used = vec![false; self.mirrors.len()];
        for text in texts {
            for at in text.char_indices().map(|(at, _)| at) {
                if let Some(found) = self.find_at(text, at) {
                    used[found.mirror] = true;
                }
            }
        }
        self.mirrors
            .iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|(mirror, _)| mirror.origin.as_str())
            .collect()
    }

    /// The longest origin prefix of a URL starting at byte `at` of `text`, when the URL starts
    /// there (nothing that could belong to a longer name before it) and the prefix ends at a
    /// path boundary.
    fn find_at(&self, text: &str, at: usize) -> Option<Found> {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)) {
            return None;
        }
        let rest = &text[at..];
        let scheme_end = ["http://", "https://"]
            .iter()
            .find(|scheme| starts_with_ignore_case(rest, scheme))?
            .len();
        let mut best: Option<Found> = None;
        for (index, mirror) in self.mirrors.iter().enumerate() {
            for prefix in &mirror.prefixes {
                let length = if has_scheme(prefix) {
                    starts_with_ignore_case(rest, prefix).then_some(prefix.len())
                } else {
                    starts_with_ignore_case(&rest[scheme_end..], prefix)
                        .then_some(scheme_end + prefix.len())
                };
                let Some(length) = length else { continue };
                let next = rest[length..].chars().next();
                let boundary = next.is_none_or(|c| c.is_whitespace() || "/\"'#?]>),;".contains(c));
                if boundary && best.as_ref().is_none_or(|b| b.end < at + length) {
                    best = Some(Found {
                        start: at,
                        end: at + length,
                        mirror: index,
                    });
                }
            }
        }
        best
    }
}

impl fmt::Display for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.origin, self.url)
    }
}

/// The prefix a URL-prefix origin stands for (scheme and host lower-cased, no trailing `/`).
fn origin_prefix(origin: &str) -> Option<String> {
    let origin = origin.trim_end_matches('/');
    let (scheme, rest) = match origin.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
        None => (None, origin),
    };
    if scheme
        .as_deref()
        .is_some_and(|scheme| scheme != "http" && scheme != "https")
    {
        return None;
    }
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    // A bare word (no dot, no path) is a misspelt name, not a host.
    if !host_ok || (scheme.is_none() && path.is_empty() && !host.contains('.')) {
        return None;
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let host = host.to_ascii_lowercase();
    let joined = if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    };
    Some(match scheme {
        Some(scheme) => format!("{scheme}://{joined}"),
        None => joined,
    })
}

/// True when `url` is an `http://` or `https://` URL with a host and nothing unprintable.
fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|rest| {
        !rest.is_empty()
            && !rest.starts_with('/')
            && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

/// True when a prefix names its scheme.
fn has_scheme(prefix: &str) -> bool {
    prefix.starts_with("http://") || prefix.starts_with("https://")
}

/// True when `text` starts with `prefix`, ignoring ASCII case (hosts and schemes are
/// case-insensitive; paths rarely differ only in case).
fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirrors(values: &[&str]) -> Mirrors {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        Mirrors::parse(&values).unwrap()
    }

    fn refused(value: &str) -> String {
        Mirrors::parse(&[value.to_string()])
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn urls_under_an_origin_go_to_its_mirror() {
        let m = mirrors(&[
            "http://deb.debian.org/debian=http://127.0.0.1:8080/debian/",
            "pypi=https://pypi.internal/simple",
        ]);
        assert_eq!(
            m.rewrite_url("http://deb.debian.org/debian/dists/bookworm/InRelease")
                .as_deref(),
            Some("http://127.0.0.1:8080/debian/dists/bookworm/InRelease")
        );
        assert_eq!(
            m.rewrite_url("http://deb.debian.org/debian").as_deref(),
            Some("http://127.0.0.1:8080/debian")
        );
        // Another archive on the same host, another scheme, another host: left alone.
        for url in [
            "http://deb.debian.org/debian-security/dists/bookworm-security/InRelease",
            "https://deb.debian.org/debian/dists/bookworm/InRelease",
            "http://deb.debian.org.evil/debian/x",
        ] {
            assert_eq!(m.rewrite_url(url), None, "{url}");
        }
        // A name's origins match either scheme.
        assert_eq!(
            m.rewrite_url("https://pypi.org/simple/requests/")
                .as_deref(),
            Some("https://pypi.internal/simple/requests/")
        );
        assert_eq!(
            m.rewrite_url("HTTP://PYPI.ORG/simple/").as_deref(),
            Some("https://pypi.internal/simple/")
        );
    }

    #[test]
    fn the_longest_origin_wins() {
        let m = mirrors(&[
            "debian-security=http://mirror/security",
            "security.debian.org/debian-security/extra=http://mirror/extra",
        ]);
        assert_eq!(
            m.rewrite_url("http://security.debian.org/debian-security/extra/pool/a.deb")
                .as_deref(),
            Some("http://mirror/extra/pool/a.deb")
        );
        assert_eq!(
            m.rewrite_url("http://security.debian.org/debian-security/dists/x")
                .as_deref(),
            Some("http://mirror/security/dists/x")
        );
        assert_eq!(
            m.rewrite_url("http://security.debian.org/ stretch/updates")
                .as_deref(),
            Some("http://mirror/security/ stretch/updates")
        );
    }

    #[test]
    fn source_files_are_rewritten_where_urls_start() {
        let m = mirrors(&["debian=http://mirror.lan/debian"]);
        let list = "deb http://deb.debian.org/debian bookworm main\n\
                    deb [signed-by=/k.gpg] https://deb.debian.org/debian/ bookworm-updates main\n\
                    deb http://deb.debian.org/debian-security bookworm-security main\n\
                    # see http://deb.debian.org/debianish and xhttp://deb.debian.org/debian\n";
        assert_eq!(
            m.rewrite_text(list).unwrap(),
            "deb http://mirror.lan/debian bookworm main\n\
             deb [signed-by=/k.gpg] http://mirror.lan/debian/ bookworm-updates main\n\
             deb http://deb.debian.org/debian-security bookworm-security main\n\
             # see http://deb.debian.org/debianish and xhttp://deb.debian.org/debian\n"
        );
        let repo = "[base]\nbaseurl=http://deb.debian.org/debian/$releasever\n\
                    mirrorlist=\"http://deb.debian.org/debian\"\n";
        assert_eq!(
            m.rewrite_text(repo).unwrap(),
            "[base]\nbaseurl=http://mirror.lan/debian/$releasever\n\
             mirrorlist=\"http://mirror.lan/debian\"\n"
        );
        assert_eq!(
            m.rewrite_text("nothing here: http://example.org/debian"),
            None
        );
        // A mirror whose URL holds its origin is not rewritten again.
        let m = mirrors(&["debian=http://deb.debian.org/debian/mirror"]);
        assert_eq!(
            m.rewrite_text("http://deb.debian.org/debian x").unwrap(),
            "http://deb.debian.org/debian/mirror x"
        );
    }

    #[test]
    fn unused_origins_are_named() {
        let m = mirrors(&["debian=http://m/debian", "alpine=http://m/alpine"]);
        assert_eq!(
            m.unused(["deb http://deb.debian.org/debian bookworm main"]),
            vec!["alpine"]
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        assert!(refused("debian").contains("expected ORIGIN=URL"));
        assert!(refused("debain=http://m/").contains("neither a URL prefix"));
        assert!(refused("ftp://deb.debian.org/debian=http://m/").contains("neither"));
        assert!(refused("debian=ftp://m/debian").contains("http:// or https://"));
        assert!(refused("debian=http:///debian").contains("with a host"));
        let twice = Mirrors::parse(&[
            "debian=http://a/".to_string(),
            "deb.debian.org/debian=http://b/".to_string(),
        ])
        .unwrap_err();
        assert!(
            twice.to_string().contains("deb.debian.org/debian"),
            "{twice}"
        );
    }
}
