//! Reading JSON reports with `serde_json` and describing what is wrong with a bad one
//! (feature `json`).

use serde::Deserialize;
use std::borrow::Cow;
use std::ops::Deref;

/// A string field of a report, borrowed from the report's bytes when it has no escapes.
///
/// serde borrows a `Cow<str>` field marked `#[serde(borrow)]`, but not one inside an `Option`;
/// `Option<Text>` borrows, which saves an allocation and a copy per string of a large report.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// Parses a JSON report into `T`, or says in one line what is wrong with it and where.
///
/// `format` names the expected format in the message, e.g. `"Trivy"`.
pub fn parse<'a, T: Deserialize<'a>>(report: &'a [u8], format: &str) -> Result<T, String> {
    serde_json::from_slice(report).map_err(|error| describe_error(&error, format))
}

/// Describes a `serde_json` error: truncated, not JSON, or JSON of another shape, with its
/// line and column.
pub fn describe_error(error: &serde_json::Error, format: &str) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Eof => "the report ends early (is it truncated?)".to_string(),
        Category::Syntax => "the report is not valid JSON".to_string(),
        Category::Data => format!("the report's JSON does not have {format}'s shape"),
        Category::Io => "the report could not be read".to_string(),
    };
    format!("{what}: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Shape {
        #[allow(dead_code)]
        count: u32,
    }

    #[derive(Deserialize, Debug)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }

    #[derive(Deserialize)]
    struct Fields<'a> {
        #[serde(borrow)]
        plain: Option<Text<'a>>,
        #[serde(borrow)]
        escaped: Option<Text<'a>>,
    }

    #[test]
    fn text_borrows_unless_it_must_unescape() {
        let fields: Fields<'_> = parse(br#"{"plain": "abc", "escaped": "a\"b"}"#, "Test").unwrap();
        assert!(matches!(fields.plain, Some(Text(Cow::Borrowed("abc")))));
        assert_eq!(fields.escaped.as_deref(), Some("a\"b"));
        assert!(matches!(fields.escaped, Some(Text(Cow::Owned(_)))));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let truncated = parse::<Shape>(br#"{"count": "#, "Test").unwrap_err();
        assert!(truncated.contains("truncated"), "{truncated}");
        let garbage = parse::<Shape>(b"invalidjson", "Test").unwrap_err();
        assert!(garbage.contains("not valid JSON"), "{garbage}");
        let shape = parse::<Shape>(br#"{"count": "many"}"#, "Test").unwrap_err();
        assert!(
            shape.contains("Test's shape") && shape.contains("line 1"),
            "{shape}"
        );
        let utf8 = parse::<Named>(b"{\"name\": \"\xff\"}", "Test").unwrap_err();
        assert!(utf8.contains("not valid JSON"), "{utf8}");
    }
}
