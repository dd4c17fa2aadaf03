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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_what_the_spec_says() {
        assert_eq!(encode("1:1.2-3~deb12u1"), "1%3A1.2-3~deb12u1");
        assert_eq!(encode("libstdc++6"), "libstdc%2B%2B6");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
