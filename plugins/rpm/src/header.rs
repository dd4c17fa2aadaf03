//! rpm package headers as the rpm database stores them (rpm's `headerExport` form, without the
//! lead and magic): an index of tagged entries, then the data they point into. Only the tags
//! salve needs are read; every offset is checked against the data.

use salve_plugin_sdk::InstalledPackage;

/// `RPMTAG_NAME`.
const NAME: u32 = 1000;
/// `RPMTAG_VERSION`.
const VERSION: u32 = 1001;
/// `RPMTAG_RELEASE`.
const RELEASE: u32 = 1002;
/// `RPMTAG_EPOCH`.
const EPOCH: u32 = 1003;
/// `RPMTAG_ARCH`.
const ARCH: u32 = 1022;

/// `RPM_INT32_TYPE`.
const INT32: u32 = 4;
/// `RPM_STRING_TYPE`.
const STRING: u32 = 6;
/// `RPM_I18NSTRING_TYPE` (its first string is the untranslated one).
const I18N_STRING: u32 = 9;

/// The most index entries a header may have (rpm's own limit).
const MAX_ENTRIES: usize = 0x0000_ffff;

/// The installed package a stored header describes: its name, `[epoch:]version-release` and
/// architecture (absent for `gpg-pubkey` entries, which have none).
pub fn package(header: &[u8]) -> Result<InstalledPackage, String> {
    let count = read_u32(header, 0)? as usize;
    let data_length = read_u32(header, 4)? as usize;
    if count > MAX_ENTRIES {
        return Err(format!("a header claims {count} entries"));
    }
    let data_start = 8 + count * 16;
    let data = data_start
        .checked_add(data_length)
        .and_then(|end| header.get(data_start..end))
        .ok_or("a header's data runs past its blob")?;
    let mut name = None;
    let mut version = None;
    let mut release = None;
    let mut epoch = None;
    let mut arch = None;
    for index in 0..count {
        let entry = 8 + index * 16;
        let tag = read_u32(header, entry)?;
        let kind = read_u32(header, entry + 4)?;
        let offset = read_u32(header, entry + 8)? as usize;
        let slot = match tag {
            NAME => &mut name,
            VERSION => &mut version,
            RELEASE => &mut release,
            ARCH => &mut arch,
            EPOCH if kind == INT32 => {
                epoch = Some(read_u32(data, offset)?);
                continue;
            }
            _ => continue,
        };
        if kind != STRING && kind != I18N_STRING {
            return Err(format!("tag {tag} is not a string"));
        }
        *slot = Some(string(data, offset)?);
    }
    let name = name.ok_or("a header has no name")?;
    let version = version.ok_or_else(|| format!("{name} has no version"))?;
    let release = release.ok_or_else(|| format!("{name} has no release"))?;
    Ok(InstalledPackage {
        version: match epoch {
            Some(epoch) if epoch != 0 => format!("{epoch}:{version}-{release}"),
            _ => format!("{version}-{release}"),
        },
        name,
        architecture: arch,
        location: None,
    })
}

/// The NUL-terminated string at `offset` of the data.
fn string(data: &[u8], offset: usize) -> Result<String, String> {
    let rest = data.get(offset..).ok_or("a string starts past the data")?;
    let end = rest
        .iter()
        .position(|byte| *byte == 0)
        .ok_or("a string has no end")?;
    String::from_utf8(rest[..end].to_vec()).map_err(|_| "a string is not UTF-8".to_string())
}

/// A big-endian `u32` at `at`.
fn read_u32(bytes: &[u8], at: usize) -> Result<u32, String> {
    let quad = bytes.get(at..at + 4).ok_or("a header is cut short")?;
    Ok(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with the given (tag, type, value) entries.
    fn header(entries: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, kind, value) in entries {
            for number in [*tag, *kind, data.len() as u32, 1] {
                index.extend_from_slice(&number.to_be_bytes());
            }
            data.extend_from_slice(value);
        }
        let mut blob = (entries.len() as u32).to_be_bytes().to_vec();
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(data);
        blob
    }

    #[test]
    fn names_versions_epochs_and_arches() {
        let blob = header(&[
            (NAME, STRING, b"openssl\0"),
            (VERSION, STRING, b"3.3.3\0"),
            (RELEASE, STRING, b"1.azl3\0"),
            (EPOCH, INT32, &1u32.to_be_bytes()),
            (ARCH, STRING, b"x86_64\0"),
        ]);
        let package = package(&blob).unwrap();
        assert_eq!(package.name, "openssl");
        assert_eq!(package.version, "1:3.3.3-1.azl3");
        assert_eq!(package.architecture.as_deref(), Some("x86_64"));
    }

    #[test]
    fn damaged_headers_are_errors() {
        let blob = header(&[(NAME, STRING, b"openssl")]);
        assert!(package(&blob).unwrap_err().contains("no end"));
        let mut cut = header(&[(NAME, STRING, b"a\0"), (VERSION, STRING, b"1\0")]);
        cut.truncate(cut.len() - 1);
        assert!(package(&cut).unwrap_err().contains("runs past"));
        let mut far = header(&[(NAME, STRING, b"a\0")]);
        far[16..20].copy_from_slice(&1000u32.to_be_bytes());
        assert!(package(&far).unwrap_err().contains("past the data"));
        assert!(package(&[0xff; 8]).unwrap_err().contains("entries"));
    }
}
