//! Binary package indexes (`Packages`): the versions a repository offers, read without copying
//! (an index of a whole distribution is tens of megabytes).

use super::release::Release;

/// One package version a repository offers.
#[derive(Clone, Debug)]
pub struct Available<'a> {
    /// `Package`.
    pub name: &'a str,
    /// `Version`.
    pub version: &'a str,
    /// `Architecture`.
    pub architecture: &'a str,
    /// `Multi-Arch`, empty when absent.
    pub multi_arch: &'a str,
    /// `Depends`, empty when absent.
    pub depends: &'a str,
    /// `Pre-Depends`.
    pub pre_depends: &'a str,
    /// `Recommends`.
    pub recommends: &'a str,
    /// `Breaks`.
    pub breaks: &'a str,
    /// `Conflicts`.
    pub conflicts: &'a str,
    /// `Provides`.
    pub provides: &'a str,
    /// `Filename`, relative to the archive's root.
    pub filename: &'a str,
    /// `SHA256` of the package file.
    pub sha256: &'a str,
    /// `Size` of the package file.
    pub size: u64,
    /// The archive root it is downloaded from.
    pub archive: &'a str,
    /// The release it comes from (for pinning).
    pub release: &'a Release,
}

/// Reads every stanza of a `Packages` file; a stanza without a name, version, file, checksum or
/// size is an error naming it.
pub fn parse<'a>(
    text: &'a str,
    archive: &'a str,
    release: &'a Release,
    url: &str,
) -> Result<Vec<Available<'a>>, String> {
    let mut packages = Vec::new();
    for block in text.split("\n\n") {
        if block.trim().is_empty() {
            continue;
        }
        let mut entry = Available {
            name: "",
            version: "",
            architecture: "",
            multi_arch: "",
            depends: "",
            pre_depends: "",
            recommends: "",
            breaks: "",
            conflicts: "",
            provides: "",
            filename: "",
            sha256: "",
            size: 0,
            archive,
            release,
        };
        let mut size = "";
        for line in block.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name {
                "Package" => entry.name = value,
                "Version" => entry.version = value,
                "Architecture" => entry.architecture = value,
                "Multi-Arch" => entry.multi_arch = value,
                "Depends" => entry.depends = value,
                "Pre-Depends" => entry.pre_depends = value,
                "Recommends" => entry.recommends = value,
                "Breaks" => entry.breaks = value,
                "Conflicts" => entry.conflicts = value,
                "Provides" => entry.provides = value,
                "Filename" => entry.filename = value,
                "SHA256" => entry.sha256 = value,
                "Size" => size = value,
                _ => {}
            }
        }
        let missing = [
            ("Package", entry.name),
            ("Version", entry.version),
            ("Architecture", entry.architecture),
            ("Filename", entry.filename),
            ("SHA256", entry.sha256),
            ("Size", size),
        ]
        .into_iter()
        .find(|(_, value)| value.is_empty());
        if let Some((field, _)) = missing {
            return Err(format!(
                "{url}: the entry of {:?} has no {field}",
                entry.name
            ));
        }
        if entry
            .filename
            .split('/')
            .any(|part| part == ".." || part.is_empty())
        {
            return Err(format!(
                "{url}: {} has the unsafe file name {:?}",
                entry.name, entry.filename
            ));
        }
        entry.size = size
            .parse()
            .map_err(|_| format!("{url}: {} has the size {size:?}", entry.name))?;
        packages.push(entry);
    }
    Ok(packages)
}

impl Available<'_> {
    /// Where the package file is.
    pub fn url(&self) -> String {
        format!("{}/{}", self.archive, self.filename)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_and_unsafe_names_refused() {
        let release = Release::default();
        let text = "Package: libssl3\nVersion: 3.0.17-1~deb12u3\nArchitecture: amd64\n\
Depends: libc6 (>= 2.34)\nDescription: x\n long\nFilename: pool/updates/main/o/openssl/libssl3.deb\n\
Size: 10\nSHA256: ab\n\nPackage: b\nVersion: 1\nArchitecture: all\nFilename: pool/b.deb\nSize: 1\nSHA256: cd\n";
        let entries = parse(text, "http://x/debian", &release, "u").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].depends, "libc6 (>= 2.34)");
        assert_eq!(
            entries[0].url(),
            "http://x/debian/pool/updates/main/o/openssl/libssl3.deb"
        );
        let unsafe_name = text.replace("pool/b.deb", "pool/../../etc/b.deb");
        assert!(parse(&unsafe_name, "http://x", &release, "u").is_err());
        let no_hash = "Package: c\nVersion: 1\nArchitecture: all\nFilename: p/c.deb\nSize: 1\n";
        assert!(
            parse(no_hash, "http://x", &release, "u")
                .unwrap_err()
                .contains("SHA256")
        );
    }
}
