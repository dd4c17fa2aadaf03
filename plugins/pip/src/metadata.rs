//! The `METADATA` file of an installed distribution: its `Name` and `Version` headers.

/// Name and version from a `METADATA` file's headers.
pub fn name_and_version(text: &str) -> Result<(String, String), String> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Name:") {
            name.get_or_insert_with(|| value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("Version:") {
            version.get_or_insert_with(|| value.trim().to_string());
        }
    }
    match (name, version) {
        (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => {
            Ok((name, version))
        }
        _ => Err("has no Name and Version headers".into()),
    }
}

pub use salve_plugin_sdk::pep503::normalise;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_headers_only() {
        let text = "Metadata-Version: 2.1\nName: Requests\nVersion: 2.25.0\nSummary: HTTP\n\nName: not-a-header\n";
        assert_eq!(
            name_and_version(text).unwrap(),
            ("Requests".into(), "2.25.0".into())
        );
        assert!(name_and_version("Metadata-Version: 2.1\n").is_err());
    }
}
