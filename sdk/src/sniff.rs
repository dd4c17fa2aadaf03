//! Cheap checks for `Scanner::sniff`: does a report look like a given JSON document?

/// How many bytes at the start of a report the host passes to `sniff`, and the helpers look at.
pub const SNIFF_WINDOW: usize = 64 * 1024;

/// True when the report, after leading whitespace and a UTF-8 byte-order mark, starts with `{`.
pub fn is_json_object(report: &[u8]) -> bool {
    first_significant_byte(report) == Some(b'{')
}

/// True when the report, after leading whitespace and a UTF-8 byte-order mark, starts with `[`.
pub fn is_json_array(report: &[u8]) -> bool {
    first_significant_byte(report) == Some(b'[')
}

/// How many of `keys` appear as quoted JSON object keys (`"Key"` followed by `:`) in the first
/// [`SNIFF_WINDOW`] bytes of the report.
pub fn count_json_keys(report: &[u8], keys: &[&str]) -> usize {
    let window = &report[..report.len().min(SNIFF_WINDOW)];
    keys.iter().filter(|key| has_json_key(window, key)).count()
}

/// True when `"key"` followed by optional whitespace and `:` occurs in `window`.
fn has_json_key(window: &[u8], key: &str) -> bool {
    let needle = format!("\"{key}\"");
    let needle = needle.as_bytes();
    let mut start = 0;
    while let Some(found) = find(&window[start..], needle) {
        let after = start + found + needle.len();
        let rest = window[after..].iter().find(|b| !b.is_ascii_whitespace());
        if rest == Some(&b':') {
            return true;
        }
        start = after;
    }
    false
}

/// The position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The first byte that is not whitespace nor part of a UTF-8 byte-order mark.
fn first_significant_byte(report: &[u8]) -> Option<u8> {
    let report = report.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(report);
    report.iter().copied().find(|b| !b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_objects_and_arrays() {
        assert!(is_json_object(b"\xEF\xBB\xBF  \n{\"a\":1}"));
        assert!(!is_json_object(b"[1]"));
        assert!(is_json_array(b" [1]"));
        assert!(!is_json_array(b""));
    }

    #[test]
    fn counts_keys_not_values() {
        let doc = br#"{"SchemaVersion": 2, "ArtifactName": "Results", "Results" : []}"#;
        assert_eq!(count_json_keys(doc, &["SchemaVersion", "Results"]), 2);
        assert_eq!(count_json_keys(doc, &["ArtifactName", "matches"]), 1);
        assert_eq!(count_json_keys(br#"{"a": "Results"}"#, &["Results"]), 0);
    }
}
