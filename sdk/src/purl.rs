//! Helpers for package URLs (<https://github.com/package-url/purl-spec>).

/// Percent-encodes a purl component: everything but letters, digits and `.-_~` becomes `%XX`
/// (so an epoch's `:` is `%3A` and `+` is `%2B`).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b".-_~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A package URL read into its parts, each percent-decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purl {
    /// `deb`, `rpm`, `apk`, `pypi`, ... (lower-cased).
    pub ty: String,
    /// The namespace (`debian`, `redhat`), if any.
    pub namespace: Option<String>,
    /// The package's name.
    pub name: String,
    /// The version, if any.
    pub version: Option<String>,
    /// The qualifiers (`arch`, `distro`, `epoch`, ...), keys lower-cased, in order.
    pub qualifiers: Vec<(String, String)>,
}

impl Purl {
    /// Reads `pkg:type/namespace/name@version?qualifiers#subpath`; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Purl> {
        let rest = text.trim().strip_prefix("pkg:")?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((rest, qualifiers)) => (rest, qualifiers),
            None => (rest, ""),
        };
        let (path, version) = match rest.rsplit_once('@') {
            Some((path, version)) => (path, Some(decode(version)?)),
            None => (rest, None),
        };
        let mut segments: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        if segments.len() < 2 {
            return None;
        }
        let ty = segments.remove(0).to_ascii_lowercase();
        let name = decode(segments.pop()?)?;
        let namespace = if segments.is_empty() {
            None
        } else {
            Some(
                segments
                    .iter()
                    .map(|segment| decode(segment))
                    .collect::<Option<Vec<String>>>()?
                    .join("/"),
            )
        };
        let qualifiers = qualifiers
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=')?;
                Some((key.to_ascii_lowercase(), decode(value)?))
            })
            .collect::<Option<Vec<_>>>()?;
        (!name.is_empty()).then_some(Purl {
            ty,
            namespace,
            name,
            version,
            qualifiers,
        })
    }

    /// The value of qualifier `key`.
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// Percent-decodes a purl component; `None` for a bad escape or bytes that are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_what_the_spec_says() {
        assert_eq!(encode("1:1.2-3~deb12u1"), "1%3A1.2-3~deb12u1");
        assert_eq!(encode("libstdc++6"), "libstdc%2B%2B6");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn reads_the_parts_of_a_package_url() {
        let purl = Purl::parse(
            "pkg:deb/debian/libstdc%2B%2B6@1%3A12.2.0-14?arch=amd64&distro=debian-12.1#sub",
        )
        .unwrap();
        assert_eq!(purl.ty, "deb");
        assert_eq!(purl.namespace.as_deref(), Some("debian"));
        assert_eq!(purl.name, "libstdc++6");
        assert_eq!(purl.version.as_deref(), Some("1:12.2.0-14"));
        assert_eq!(purl.qualifier("distro"), Some("debian-12.1"));
        let plain = Purl::parse("pkg:pypi/idna@2.10").unwrap();
        assert_eq!((plain.namespace, plain.name.as_str()), (None, "idna"));
        assert_eq!(Purl::parse("pkg:npm"), None);
        assert_eq!(Purl::parse("deb/debian/x@1"), None);
        assert_eq!(Purl::parse("pkg:deb/debian/x@%zz"), None);
        assert_eq!(
            decode(&encode("1:1.2-3~deb12u1")).as_deref(),
            Some("1:1.2-3~deb12u1")
        );
    }
}
