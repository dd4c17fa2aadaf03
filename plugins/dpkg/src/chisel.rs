//! Chisel's manifest: what a Chiseled image (Ubuntu's, cut from packages by Chisel: no dpkg,
//! apt or shell) holds of each package. `/var/lib/chisel/manifest.wall` is a zstd-compressed
//! "jsonwall": a header line (`{"jsonwall":"1.0","schema":"1.0","count":N}`, N counting the
//! header), then one JSON object per line, sorted bytewise: `package` (name, version, the
//! `.deb`'s SHA-256, architecture), `slice` (`package_slice`), `path` (mode, the slices that
//! installed it, SHA-256, size, link target, ...) and `content` (a slice and one of its paths).
//! Lines are written as Chisel writes them (fields in its order, empty ones left out, `<`, `>`
//! and `&` escaped), so that its readers' binary searches find them.

use salve_plugin_sdk::{FileKind, ImageFile, InstalledPackage};
use serde::{Deserialize, Serialize};
use std::io::Read;

/// Where Chisel writes the manifest in Ubuntu's slices (`base-files_chisel`).
pub const MANIFEST: &str = "/var/lib/chisel/manifest.wall";

/// The manifest schema salve reads and writes.
const SCHEMA: &str = "1.0";

/// The most the manifest may hold decompressed.
const MANIFEST_CAP: u64 = 256 << 20;

/// A package the image was cut from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Its name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The SHA-256 of its `.deb`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// Its architecture.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
}

/// A slice installed (`package_slice`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// Its name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// A path the slices installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Path {
    /// The path (folders end with `/`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Its permission bits in octal (`0644`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    /// The slices that installed it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<String>,
    /// The SHA-256 of a file's bytes as the package ships them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// The SHA-256 of a file a slice's mutation script changed, as changed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub final_sha256: String,
    /// A file's size in bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u64,
    /// A symbolic link's target.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link: String,
    /// The group of hard links it belongs to (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inode: u64,
}

/// One path of one slice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// The slice.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub slice: String,
    /// The path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

/// One line of the manifest after the header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Entry {
    /// A package.
    Package(Package),
    /// A slice.
    Slice(Slice),
    /// A path.
    Path(Path),
    /// A slice's path.
    Content(Content),
}

/// The jsonwall header.
#[derive(Serialize, Deserialize)]
struct Header {
    /// The jsonwall version.
    jsonwall: String,
    /// The manifest schema.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    schema: String,
    /// The number of lines, the header's own included.
    count: usize,
}

/// The manifest, entry by entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Every entry, in the file's order.
    pub entries: Vec<Entry>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Manifest {
    /// Reads a manifest file (zstd-compressed jsonwall).
    pub fn read(compressed: &[u8]) -> Result<Manifest, String> {
        let decoder = ruzstd::decoding::StreamingDecoder::new(compressed)
            .map_err(|error| format!("{MANIFEST} is not zstd-compressed: {error}"))?;
        let mut text = Vec::new();
        decoder
            .take(MANIFEST_CAP + 1)
            .read_to_end(&mut text)
            .map_err(|error| format!("{MANIFEST} could not be decompressed: {error}"))?;
        if text.len() as u64 > MANIFEST_CAP {
            return Err(format!(
                "{MANIFEST} holds more than {} MiB",
                MANIFEST_CAP >> 20
            ));
        }
        let text = std::str::from_utf8(&text).map_err(|_| format!("{MANIFEST} is not UTF-8"))?;
        let mut lines = text.lines();
        let header: Header = lines
            .next()
            .and_then(|line| serde_json::from_str(line).ok())
            .ok_or_else(|| format!("{MANIFEST} has no jsonwall header"))?;
        if !header.jsonwall.starts_with("1.") {
            return Err(format!(
                "{MANIFEST} is jsonwall {}, which salve does not read",
                header.jsonwall
            ));
        }
        if header.schema != SCHEMA {
            return Err(format!(
                "{MANIFEST} has schema {:?}; salve reads and writes schema {SCHEMA}",
                header.schema
            ));
        }
        let entries = lines
            .enumerate()
            .filter(|(_, line)| !line.is_empty())
            .map(|(index, line)| {
                serde_json::from_str(line)
                    .map_err(|error| format!("{MANIFEST} line {}: {error}", index + 2))
            })
            .collect::<Result<Vec<Entry>, String>>()?;
        Ok(Manifest { entries })
    }

    /// The manifest file: jsonwall lines as Chisel writes them, sorted, zstd-compressed.
    pub fn write(&self) -> Vec<u8> {
        let mut lines: Vec<String> = self.entries.iter().map(line).collect();
        lines.sort();
        let header = Header {
            jsonwall: "1.0".into(),
            schema: SCHEMA.into(),
            count: lines.len() + 1,
        };
        let mut text = serde_json::to_string(&header).expect("a header serialises");
        text.push('\n');
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        zstd_frame(text.as_bytes())
    }

    /// The packages the image was cut from.
    pub fn packages(&self) -> impl Iterator<Item = &Package> {
        self.entries.iter().filter_map(|entry| match entry {
            Entry::Package(package) => Some(package),
            _ => None,
        })
    }

    /// The paths the slices installed.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.entries.iter().filter_map(|entry| match entry {
            Entry::Path(path) => Some(path),
            _ => None,
        })
    }
}

/// The most one zstd block holds.
const ZSTD_BLOCK: usize = 128 << 10;

/// `bytes` as one zstd frame of raw (stored) blocks: the manifest is small, and every zstd
/// reader reads such a frame.
fn zstd_frame(bytes: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(bytes.len() + bytes.len() / ZSTD_BLOCK * 3 + 20);
    frame.extend_from_slice(&0xFD2F_B528u32.to_le_bytes());
    // Frame header: an 8-byte content size, a single segment (no window descriptor), no
    // checksum, no dictionary.
    frame.push(0b1110_0000);
    frame.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    let mut blocks = bytes.chunks(ZSTD_BLOCK).peekable();
    if blocks.peek().is_none() {
        frame.extend_from_slice(&[1, 0, 0]);
    }
    while let Some(block) = blocks.next() {
        let last = u32::from(blocks.peek().is_none());
        // Block header: last-block flag, type 0 (raw), size.
        let header = last | (block.len() as u32) << 3;
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.extend_from_slice(block);
    }
    frame
}

/// An entry as one line, as Go's `encoding/json` writes it (HTML characters escaped).
fn line(entry: &Entry) -> String {
    let json = serde_json::to_string(entry).expect("an entry serialises");
    let mut escaped = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The packages a Chiseled image's manifest (among `files`) lists; none without one.
pub fn installed(files: &[ImageFile]) -> Result<Vec<InstalledPackage>, String> {
    let Some(file) = files
        .iter()
        .find(|file| file.path == MANIFEST && file.kind == FileKind::File)
    else {
        return Ok(Vec::new());
    };
    let manifest = Manifest::read(file.content.as_deref().unwrap_or_default())?;
    Ok(manifest
        .packages()
        .map(|package| InstalledPackage {
            name: package.name.clone(),
            version: package.version.clone(),
            architecture: Some(package.arch.clone()).filter(|arch| !arch.is_empty()),
            location: None,
        })
        .collect())
}

/// The package a slice name belongs to: `zlib1g_libs` is `zlib1g`'s.
pub fn package_of(slice: &str) -> &str {
    slice.split_once('_').map_or(slice, |(package, _)| package)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest as Chisel writes one (lines sorted, fields in its order).
    const TEXT: &str = r#"{"jsonwall":"1.0","schema":"1.0","count":7}
{"kind":"content","slice":"zlib1g_libs","path":"/usr/lib/x86_64-linux-gnu/libz.so.1"}
{"kind":"content","slice":"zlib1g_libs","path":"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"}
{"kind":"package","name":"zlib1g","version":"1:1.2.13.dfsg-1","sha256":"d7dd1d1411fedf27f5e27650a6eff20ef294077b568f4c8c5e51466dc7c08ce4","arch":"amd64"}
{"kind":"path","path":"/usr/lib/x86_64-linux-gnu/libz.so.1","mode":"0777","slices":["zlib1g_libs"],"link":"libz.so.1.2.13"}
{"kind":"path","path":"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13","mode":"0644","slices":["zlib1g_libs"],"sha256":"1cdb4d9a1e8fc5d2e1b5e3a1c5ad1cbd2a7b8a3e8b0d1c1a0d1b1c1e1f1a1b1c","size":121280}
{"kind":"slice","name":"zlib1g_libs"}
"#;

    fn compressed(text: &str) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(
            text.as_bytes(),
            ruzstd::encoding::CompressionLevel::Uncompressed,
        )
    }

    #[test]
    fn a_manifest_reads_and_writes_back_line_for_line() {
        let manifest = Manifest::read(&compressed(TEXT)).unwrap();
        assert_eq!(manifest.entries.len(), 6);
        let package = manifest.packages().next().unwrap();
        assert_eq!(package.name, "zlib1g");
        assert_eq!(package.version, "1:1.2.13.dfsg-1");
        let written = manifest.write();
        let mut text = Vec::new();
        ruzstd::decoding::StreamingDecoder::new(written.as_slice())
            .unwrap()
            .read_to_end(&mut text)
            .unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), TEXT);
    }

    #[test]
    fn raw_frames_of_any_size_decompress() {
        for size in [
            0,
            1,
            ZSTD_BLOCK - 1,
            ZSTD_BLOCK,
            ZSTD_BLOCK + 1,
            3 * ZSTD_BLOCK + 5,
        ] {
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut back = Vec::new();
            ruzstd::decoding::StreamingDecoder::new(zstd_frame(&bytes).as_slice())
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, bytes, "{size} bytes");
        }
    }

    #[test]
    fn lines_escape_what_go_escapes() {
        let entry = Entry::Content(Content {
            slice: "a_b".into(),
            path: "/x&<y>".into(),
        });
        assert_eq!(
            line(&entry),
            r#"{"kind":"content","slice":"a_b","path":"/x\u0026\u003cy\u003e"}"#
        );
    }

    #[test]
    fn other_schemas_and_broken_files_are_refused() {
        let other = TEXT.replace(r#""schema":"1.0""#, r#""schema":"2.0""#);
        let error = Manifest::read(&compressed(&other)).unwrap_err();
        assert!(error.contains("schema \"2.0\""), "{error}");
        let error = Manifest::read(b"not zstd").unwrap_err();
        assert!(error.contains("not zstd-compressed"), "{error}");
        let error = Manifest::read(&compressed(
            &TEXT.replace("\"kind\":\"slice\"", "\"kind\":\"odd\""),
        ))
        .unwrap_err();
        assert!(error.contains("line 7"), "{error}");
    }

    #[test]
    fn slices_belong_to_their_package() {
        assert_eq!(package_of("zlib1g_libs"), "zlib1g");
        assert_eq!(package_of("base-files_chisel"), "base-files");
    }
}
