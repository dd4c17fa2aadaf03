//! Reading JSON reports with `serde_json` and describing what is wrong with a bad one
//! (feature `json`).

use serde::Deserialize;

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
