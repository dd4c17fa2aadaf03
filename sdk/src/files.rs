//! Helpers for the image files the host passes to `detect` and `installed`.

use crate::ImageFile;

/// Parses every regular file whose path `wanted` accepts, as UTF-8 text, and collects the
/// results; an error names the file it is about.
pub fn parse_texts<T>(
    files: &[ImageFile],
    wanted: impl Fn(&str) -> bool,
    parse: impl Fn(&str) -> Result<Vec<T>, String>,
) -> Result<Vec<T>, String> {
    let mut all = Vec::new();
    for file in files.iter().filter(|file| wanted(&file.path)) {
        let Some(content) = &file.content else {
            continue;
        };
        let text = std::str::from_utf8(content)
            .map_err(|error| format!("{} is not UTF-8: {error}", file.path))?;
        all.extend(parse(text).map_err(|error| format!("{}: {error}", file.path))?);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::file;

    #[test]
    fn parses_the_wanted_files_and_names_the_bad_one() {
        let files = [file("/a", b"1 2"), file("/b", b"3"), file("/skip", b"9")];
        let words = |text: &str| Ok(text.split(' ').map(str::to_string).collect());
        let all = parse_texts(&files, |path| path != "/skip", words).unwrap();
        assert_eq!(all, ["1", "2", "3"]);
        let bad = [file("/bad", b"\xff")];
        assert!(
            parse_texts(&bad, |_| true, words)
                .unwrap_err()
                .starts_with("/bad is not UTF-8")
        );
        let failing = |_: &str| -> Result<Vec<String>, String> { Err("broken".into()) };
        assert_eq!(
            parse_texts(&files[..1], |_| true, failing).unwrap_err(),
            "/a: broken"
        );
    }
}
