//! apt's sources: one-line `sources.list` entries and deb822 `.sources` files, reduced to the
//! repositories salve fetches binary package indexes from.

use super::control;

/// One repository: a URI and suite, its components, and how it is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The archive's root, without a trailing `/`.
    pub uri: String,
    /// The suite or codename (`bookworm`, `bookworm-security`).
    pub suite: String,
    /// The components (`main`, `contrib`).
    pub components: Vec<String>,
    /// The keyring files its `InRelease` must be signed by; empty: the keyrings apt trusts by
    /// default.
    pub signed_by: Vec<String>,
    /// The architectures the entry is limited to (`arch=`); empty: any.
    pub architectures: Vec<String>,
    /// Where it was read, for messages.
    pub origin: String,
}

/// The sources of one `sources.list`-format file.
pub fn parse_list(path: &str, text: &str) -> Result<Vec<Source>, String> {
    let mut sources = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let origin = format!("{path}:{}", number + 1);
        let (kind, rest) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("{origin}: {line:?} is not a source"))?;
        if kind == "deb-src" {
            continue;
        }
        if kind != "deb" {
            return Err(format!("{origin}: unknown source type {kind:?}"));
        }
        let rest = rest.trim_start();
        let (options, rest) = match rest.strip_prefix('[') {
            Some(bracketed) => bracketed
                .split_once(']')
                .ok_or_else(|| format!("{origin}: unclosed `[` of options"))?,
            None => ("", rest),
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            return Err(format!("{origin}: a source needs a URI and a suite"));
        };
        let mut source = Source {
            uri: uri.trim_end_matches('/').to_string(),
            suite: suite.to_string(),
            components: words.map(String::from).collect(),
            signed_by: Vec::new(),
            architectures: Vec::new(),
            origin: origin.clone(),
        };
        for option in options.split_whitespace() {
            let (name, value) = option
                .split_once('=')
                .ok_or_else(|| format!("{origin}: option {option:?} has no value"))?;
            apply_option(&mut source, name, value, &origin)?;
        }
        sources.push(check(source)?);
    }
    Ok(sources)
}

/// The sources of one deb822 `.sources` file.
pub fn parse_deb822(path: &str, text: &str) -> Result<Vec<Source>, String> {
    let mut sources = Vec::new();
    for (index, stanza) in control::parse(text)
        .map_err(|error| format!("{path}: {error}"))?
        .iter()
        .enumerate()
    {
        let origin = format!("{path} (entry {})", index + 1);
        if stanza
            .get("Enabled")
            .is_some_and(|enabled| enabled.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        let types: Vec<&str> = stanza.require("Types")?.split_whitespace().collect();
        if !types.contains(&"deb") {
            continue;
        }
        for uri in stanza.require("URIs")?.split_whitespace() {
            for suite in stanza.require("Suites")?.split_whitespace() {
                let mut source = Source {
                    uri: uri.trim_end_matches('/').to_string(),
                    suite: suite.to_string(),
                    components: stanza
                        .get("Components")
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(String::from)
                        .collect(),
                    signed_by: Vec::new(),
                    architectures: Vec::new(),
                    origin: origin.clone(),
                };
                for (name, value) in stanza.fields() {
                    let option = match name.to_ascii_lowercase().as_str() {
                        "signed-by" => "signed-by",
                        "architectures" => "arch",
                        "trusted" => "trusted",
                        _ => continue,
                    };
                    apply_option(&mut source, option, value.trim(), &origin)?;
                }
                sources.push(check(source)?);
            }
        }
    }
    Ok(sources)
}

/// Applies one option (`signed-by`, `arch`, `trusted`) to a source.
fn apply_option(source: &mut Source, name: &str, value: &str, origin: &str) -> Result<(), String> {
    let list = |value: &str| -> Vec<String> {
        value
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(String::from)
            .collect()
    };
    match name {
        "signed-by" | "Signed-By" => {
            if value.contains("BEGIN PGP") {
                return Err(format!(
                    "{origin}: keys written into Signed-By are not supported natively; \
                     name a keyring file instead"
                ));
            }
            let keyrings = list(value);
            if let Some(fingerprint) = keyrings.iter().find(|keyring| !keyring.starts_with('/')) {
                return Err(format!(
                    "{origin}: Signed-By {fingerprint:?} is not a keyring file; native \
                     installation takes keyring paths only"
                ));
            }
            source.signed_by = keyrings;
        }
        "arch" => source.architectures = list(value),
        "trusted" if value == "yes" => {
            return Err(format!(
                "{origin}: the source is marked trusted=yes (unsigned); salve installs only \
                 from signed repositories"
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Refuses what salve cannot fetch: flat repositories and URIs that are not HTTP(S).
fn check(source: Source) -> Result<Source, String> {
    if !(source.uri.starts_with("http://") || source.uri.starts_with("https://")) {
        return Err(format!(
            "{}: {} is not an http:// or https:// repository",
            source.origin, source.uri
        ));
    }
    if source.suite.ends_with('/') || source.components.is_empty() {
        return Err(format!(
            "{}: flat repositories (a suite ending in `/`, no components) are not supported natively",
            source.origin
        ));
    }
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_entries_with_options() {
        let sources = parse_list(
            "/etc/apt/sources.list",
            "# comment\ndeb http://deb.example/debian bookworm main contrib\n\
             deb-src http://deb.example/debian bookworm main\n\
             deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/x.gpg] http://sec.example/ bookworm-security main # tail\n",
        )
        .unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].components, ["main", "contrib"]);
        assert_eq!(sources[1].uri, "http://sec.example");
        assert_eq!(sources[1].architectures, ["amd64", "arm64"]);
        assert_eq!(sources[1].signed_by, ["/usr/share/keyrings/x.gpg"]);
    }

    #[test]
    fn deb822_entries_multiply_uris_and_suites() {
        let sources = parse_deb822(
            "/etc/apt/sources.list.d/debian.sources",
            "Types: deb deb-src\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\n\
             Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
             Types: deb\nURIs: http://off.example\nSuites: x\nComponents: main\nEnabled: no\n",
        )
        .unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[1].suite, "bookworm-updates");
        assert_eq!(
            sources[0].signed_by,
            ["/usr/share/keyrings/debian-archive-keyring.gpg"]
        );
    }

    #[test]
    fn unsigned_flat_and_non_http_sources_are_refused() {
        for line in [
            "deb [trusted=yes] http://x/ y main",
            "deb http://x/ ./",
            "deb file:///srv/repo y main",
            "deb [signed-by=ABCDEF0123] http://x/ y main",
        ] {
            assert!(parse_list("l", line).is_err(), "{line}");
        }
    }
}
