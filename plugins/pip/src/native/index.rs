//! A Python package index's project page in its JSON form (PEP 691, sizes from PEP 700), as
//! PyPI serves it when asked with `Accept: application/vnd.pypi.simple.v1+json`; and where the
//! image's pip looks for it (`index-url` in `pip.conf`, else PyPI).

use serde::Deserialize;

/// What to send as `Accept` for an index's JSON form.
pub const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// PyPI's simple index, pip's default.
pub const PYPI: &str = "https://pypi.org/simple";

/// The files pip reads its configuration from, system-wide and root's (in the order pip reads
/// them: later ones win).
pub const PIP_CONFIGS: [&str; 4] = [
    "/etc/xdg/pip/pip.conf",
    "/etc/pip.conf",
    "/root/.pip/pip.conf",
    "/root/.config/pip/pip.conf",
];

/// One file of a project page.
#[derive(Deserialize, Debug, Clone)]
pub struct IndexFile {
    /// Its file name.
    pub filename: String,
    /// Where it is (absolute, or relative to the page).
    pub url: String,
    /// Its digests.
    pub hashes: Hashes,
    /// The Python versions it supports, when it says.
    #[serde(rename = "requires-python", default)]
    pub requires_python: Option<String>,
    /// Its size in bytes, when the index gives it (PEP 700).
    #[serde(default)]
    pub size: Option<u64>,
    /// Whether (or why) it was yanked.
    #[serde(default)]
    pub yanked: Yanked,
}

/// A file's digests.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct Hashes {
    /// SHA-256, lower-case hex.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// PEP 691's `yanked`: false, true, or the reason.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(untagged)]
pub enum Yanked {
    /// Not yanked.
    #[default]
    No,
    /// Yanked (true or false).
    Flag(bool),
    /// Yanked, with the reason.
    Reason(String),
}

impl Yanked {
    /// Whether the file was yanked.
    pub fn is_yanked(&self) -> bool {
        !matches!(self, Yanked::No | Yanked::Flag(false))
    }
}

/// A project page.
#[derive(Deserialize, Debug)]
struct Page {
    files: Vec<IndexFile>,
}

/// The files of a project page fetched from `url`, their URLs made absolute.
pub fn files(url: &str, content: &[u8]) -> Result<Vec<IndexFile>, String> {
    let page: Page = serde_json::from_slice(content).map_err(|_| {
        format!(
            "{url} did not answer in PEP 691's JSON form (an index that serves HTML only), \
             which native installation reads for the files' sizes"
        )
    })?;
    Ok(page
        .files
        .into_iter()
        .map(|file| IndexFile {
            url: absolute(url, &file.url),
            ..file
        })
        .collect())
}

/// `link` made absolute against the page at `page`.
fn absolute(page: &str, link: &str) -> String {
    if link.starts_with("http://") || link.starts_with("https://") {
        return link.to_string();
    }
    let scheme_end = page.find("://").map_or(0, |at| at + 3);
    if link.starts_with('/') {
        let host_end = page[scheme_end..]
            .find('/')
            .map_or(page.len(), |at| scheme_end + at);
        return format!("{}{link}", &page[..host_end]);
    }
    let folder = page.rsplit_once('/').map_or(page, |(folder, _)| folder);
    format!("{folder}/{link}")
}

/// Options of `[global]` or `[install]` that make pip look for packages elsewhere than one
/// index, or build them: native installation does not follow them.
const OTHER_SOURCES: [&str; 4] = ["extra-index-url", "find-links", "no-index", "no-binary"];

/// The index pip uses: the last `index-url` of `[global]` or `[install]` among `configs`
/// (`pip.conf` texts in the order pip reads them), else PyPI; without a trailing `/`. An error
/// names an option that sends pip elsewhere too ([`OTHER_SOURCES`], set to a value that is not
/// off).
pub fn index_url(configs: &[&str]) -> Result<String, String> {
    let mut index = PYPI.to_string();
    for text in configs {
        let mut section = "";
        for line in text.lines() {
            let line = line.trim();
            if let Some(name) = line
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            {
                section = name;
                continue;
            }
            if !matches!(section, "global" | "install") {
                continue;
            }
            let Some((key, value)) = line.split_once(['=', ':']) else {
                continue;
            };
            // pip takes `_` in a key as `-`.
            let key = key.trim().replace('_', "-");
            let value = value.trim();
            if key == "index-url" {
                index = value.trim_end_matches('/').to_string();
            } else if OTHER_SOURCES.contains(&key.as_str())
                && !matches!(
                    value.to_ascii_lowercase().as_str(),
                    "" | "false" | "no" | "off" | "0"
                )
            {
                // The value is not repeated: an index URL may hold credentials.
                return Err(format!(
                    "the image's pip.conf sets {key} in [{section}], which native installation \
                     does not follow (it reads one index, index-url)"
                ));
            }
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_read_with_sizes_and_relative_urls() {
        let page = br#"{"meta": {"api-version": "1.1"}, "name": "six", "files": [
            {"filename": "six-1.16.0-py2.py3-none-any.whl", "url": "../../packages/six.whl",
             "hashes": {"sha256": "8abb"}, "requires-python": ">=2.7", "size": 11053,
             "yanked": false},
            {"filename": "six-1.0.tar.gz", "url": "/files/six-1.0.tar.gz", "hashes": {},
             "yanked": "broken"}]}"#;
        let read = files("https://mirror.example/simple/six/", page).unwrap();
        assert_eq!(
            read[0].url,
            "https://mirror.example/simple/six/../../packages/six.whl"
        );
        assert_eq!(read[0].size, Some(11053));
        assert!(!read[0].yanked.is_yanked());
        assert_eq!(read[1].url, "https://mirror.example/files/six-1.0.tar.gz");
        assert!(read[1].yanked.is_yanked());
        let error = files("https://x/simple/six/", b"<html></html>").unwrap_err();
        assert!(error.contains("PEP 691"), "{error}");
    }

    #[test]
    fn pip_conf_names_the_index() {
        assert_eq!(index_url(&[]).unwrap(), PYPI);
        let system = "[global]\nindex-url = https://mirror.example/simple/\n";
        let user =
            "[install]\nindex_url=https://other.example/pypi/simple\n[list]\nformat = columns\n";
        assert_eq!(
            index_url(&[system]).unwrap(),
            "https://mirror.example/simple"
        );
        assert_eq!(
            index_url(&[system, user]).unwrap(),
            "https://other.example/pypi/simple"
        );
        assert_eq!(
            index_url(&["[freeze]\nindex-url = https://no/\n"]).unwrap(),
            PYPI
        );
    }

    #[test]
    fn options_sending_pip_elsewhere_are_refused_unless_off() {
        let extra = "[global]\nextra-index-url = https://private.example/simple\n";
        let error = index_url(&[extra]).unwrap_err();
        assert!(
            error.contains("sets extra-index-url in [global]") && !error.contains("private"),
            "{error}"
        );
        assert!(index_url(&["[install]\nfind_links = /wheels\n"]).is_err());
        assert!(index_url(&["[install]\nno-binary = :all:\n"]).is_err());
        assert!(index_url(&["[global]\nno-index = true\n"]).is_err());
        assert!(index_url(&["[global]\nno-index = false\ntimeout = 60\n"]).is_ok());
        // Other commands' sections do not matter to `pip install`.
        assert!(index_url(&["[download]\nfind-links = /wheels\n"]).is_ok());
    }
}
