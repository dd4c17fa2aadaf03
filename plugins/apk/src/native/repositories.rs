//! Where an Alpine image's packages come from: `/etc/apk/repositories` (one repository URL a
//! line, `#` comments, `@tag URL` for a tagged repository whose packages only names pinned to
//! the tag may use), the architecture (`/etc/apk/arch`, else the image's platform) and the pins
//! of `/etc/apk/world` (`name@tag`).

use super::dependency;
use salve_plugin_sdk::Platform;
use std::collections::BTreeMap;

/// One repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// Its URL, without a trailing `/`.
    pub url: String,
    /// Its tag, for a tagged repository.
    pub tag: Option<String>,
}

impl Repository {
    /// Where its index for `arch` is.
    pub fn index_url(&self, arch: &str) -> String {
        format!("{}/{arch}/APKINDEX.tar.gz", self.url)
    }

    /// Where its package `name` at `version` for `arch` is.
    pub fn package_url(&self, arch: &str, name: &str, version: &str) -> String {
        format!("{}/{arch}/{name}-{version}.apk", self.url)
    }
}

/// The repositories of `/etc/apk/repositories`, in order. Local folders and other schemes are
/// refused: the host fetches over HTTP(S) only.
pub fn parse(text: &str) -> Result<Vec<Repository>, String> {
    let mut repositories = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, url) = match line.strip_prefix('@') {
            Some(rest) => {
                let (tag, url) = rest.split_once(char::is_whitespace).ok_or_else(|| {
                    format!("the repository line {line:?} names a tag but no URL")
                })?;
                (Some(tag.to_string()), url.trim())
            }
            None => (None, line),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "the repository {url:?} is not an http:// or https:// URL, which native \
                 installation fetches from"
            ));
        }
        repositories.push(Repository {
            url: url.trim_end_matches('/').to_string(),
            tag,
        });
    }
    Ok(repositories)
}

/// The pins of `/etc/apk/world`: each pinned name and its tag.
pub fn pins(world: &str) -> Result<BTreeMap<String, String>, String> {
    let mut pins = BTreeMap::new();
    for dependency in dependency::parse_list(world)? {
        if let Some(tag) = dependency.tag {
            pins.insert(dependency.name, tag);
        }
    }
    Ok(pins)
}

/// The apk architecture: `/etc/apk/arch` when the image has it, else the platform's.
pub fn architecture(arch_file: Option<&str>, platform: &Platform) -> Result<String, String> {
    if let Some(arch) = arch_file.map(str::trim).filter(|arch| !arch.is_empty()) {
        return Ok(arch.to_string());
    }
    Ok(
        match (platform.architecture.as_str(), platform.variant.as_deref()) {
            ("amd64", _) => "x86_64",
            ("arm64", _) => "aarch64",
            ("arm", Some("v6") | Some("v5")) => "armhf",
            ("arm", _) => "armv7",
            ("386", _) => "x86",
            ("ppc64le", _) => "ppc64le",
            ("s390x", _) => "s390x",
            ("riscv64", _) => "riscv64",
            ("loong64", _) => "loongarch64",
            (other, _) => {
                return Err(format!(
                    "Alpine has no architecture for the platform {other}"
                ));
            }
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::platform;

    #[test]
    fn repositories_tags_and_refusals() {
        let repositories = parse(
            "# main\nhttps://dl-cdn.alpinelinux.org/alpine/v3.22/main/\n\n\
             @edge   http://mirror.example/alpine/edge/testing\n",
        )
        .unwrap();
        assert_eq!(
            repositories[0].index_url("x86_64"),
            "https://dl-cdn.alpinelinux.org/alpine/v3.22/main/x86_64/APKINDEX.tar.gz"
        );
        assert_eq!(repositories[1].tag.as_deref(), Some("edge"));
        assert_eq!(
            repositories[1].package_url("aarch64", "curl", "8.14.1-r2"),
            "http://mirror.example/alpine/edge/testing/aarch64/curl-8.14.1-r2.apk"
        );
        assert!(parse("/media/cdrom/apks\n").unwrap_err().contains("http"));
        assert!(parse("@edge\n").is_err());
    }

    #[test]
    fn pins_and_architectures() {
        let pins = pins("alpine-base curl@edge\nbusybox>=1.36\n").unwrap();
        assert_eq!(pins.len(), 1);
        assert_eq!(pins["curl"], "edge");
        assert_eq!(
            architecture(Some("aarch64\n"), &platform("amd64")).unwrap(),
            "aarch64"
        );
        assert_eq!(architecture(None, &platform("arm64")).unwrap(), "aarch64");
        assert!(architecture(None, &platform("mips")).is_err());
    }
}
