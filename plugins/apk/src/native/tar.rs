//! The tar archives apk keeps and serves: the index's (`DESCRIPTION`, `APKINDEX`) and the
//! scripts database `/lib/apk/db/scripts.tar`, read as ustar (PAX records skipped), and written
//! byte for byte as apk-tools' `apk_tar_write_entry` writes them.

/// One regular file of a tar archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its name.
    pub name: String,
    /// Its modification time.
    pub mtime: u64,
    /// Its bytes.
    pub content: Vec<u8>,
}

/// The regular files of a tar archive, in order; other entries are skipped.
pub fn read(archive: &[u8]) -> Result<Vec<Member>, String> {
    let mut members = Vec::new();
    let mut at = 0;
    while at + 512 <= archive.len() {
        let header = &archive[at..at + 512];
        if header.iter().all(|byte| *byte == 0) {
            break;
        }
        let size = octal(&header[124..136]).ok_or("a tar header has no size")?;
        let mtime = octal(&header[136..148]).unwrap_or(0);
        let start = at + 512;
        let end = usize::try_from(size)
            .ok()
            .and_then(|size| start.checked_add(size))
            .filter(|end| *end <= archive.len())
            .ok_or("a tar member is cut short")?;
        let kind = header[156];
        if kind == b'0' || kind == 0 {
            let name_end = header[..100]
                .iter()
                .position(|byte| *byte == 0)
                .unwrap_or(100);
            let mut name = String::from_utf8_lossy(&header[..name_end]).into_owned();
            let prefix_end = header[345..500]
                .iter()
                .position(|byte| *byte == 0)
                .unwrap_or(155);
            if &header[257..262] == b"ustar" && prefix_end > 0 && header[263] == b'0' {
                name = format!(
                    "{}/{name}",
                    String::from_utf8_lossy(&header[345..345 + prefix_end])
                );
            }
            members.push(Member {
                name,
                mtime,
                content: archive[start..end].to_vec(),
            });
        }
        at = start + end.saturating_sub(start).div_ceil(512) * 512;
    }
    Ok(members)
}

/// An octal field (NUL- or space-terminated, maybe space-padded).
fn octal(field: &[u8]) -> Option<u64> {
    let text: String = field
        .iter()
        .take_while(|byte| **byte != 0)
        .map(|byte| *byte as char)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// A tar archive of `members` as apk-tools writes its scripts database: each a regular file
/// of mode 0755 owned by root (`root`/`root`), `ustar  ` magic, then two empty blocks.
pub fn write(members: &[Member]) -> Vec<u8> {
    let mut archive = Vec::new();
    for member in members {
        let mut header = [0u8; 512];
        let name = member.name.as_bytes();
        header[..name.len().min(99)].copy_from_slice(&name[..name.len().min(99)]);
        put_octal(&mut header[100..108], 0o755, true);
        put_octal(&mut header[108..116], 0, true);
        put_octal(&mut header[116..124], 0, true);
        put_octal(&mut header[124..136], member.content.len() as u64, false);
        put_octal(&mut header[136..148], member.mtime, false);
        header[156] = b'0';
        header[257..265].copy_from_slice(b"ustar  \0");
        header[265..269].copy_from_slice(b"root");
        header[297..301].copy_from_slice(b"root");
        header[148..156].copy_from_slice(b"        ");
        let checksum: u64 = header.iter().map(|byte| u64::from(*byte)).sum();
        put_octal(&mut header[148..155], checksum, true);
        archive.extend_from_slice(&header);
        archive.extend_from_slice(&member.content);
        archive.resize(archive.len().div_ceil(512) * 512, 0);
    }
    archive.resize(archive.len() + 1024, 0);
    archive
}

/// Writes `value` in octal filling `field` with leading zeros, the last byte a NUL when
/// `terminated` (apk-tools' `put_octal`).
fn put_octal(field: &mut [u8], mut value: u64, terminated: bool) {
    let mut at = field.len();
    if terminated {
        at -= 1;
        field[at] = 0;
    }
    while at > 0 {
        at -= 1;
        field[at] = b'0' + (value % 8) as u8;
        value /= 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_and_has_apk_tools_header_fields() {
        let members = vec![
            Member {
                name: "a-1.0-r0.Q1abc=.post-install".into(),
                mtime: 1_760_000_000,
                content: b"#!/bin/sh\necho hi\n".to_vec(),
            },
            Member {
                name: "b-2-r1.Q1def=.pre-deinstall".into(),
                mtime: 1,
                content: vec![b'x'; 513],
            },
        ];
        let archive = write(&members);
        assert_eq!(archive.len(), 512 + 512 + 512 + 1024 + 1024);
        assert_eq!(read(&archive).unwrap(), members);
        let header = &archive[..512];
        assert_eq!(&header[100..108], b"0000755\0");
        assert_eq!(&header[124..136], b"000000000022");
        assert_eq!(&header[257..265], b"ustar  \0");
        // The checksum: six digits, a NUL, a space, as apk-tools leaves it.
        assert_eq!(header[154], 0);
        assert_eq!(header[155], b' ');
        let mut blank = header.to_vec();
        blank[148..156].copy_from_slice(b"        ");
        let sum: u64 = blank.iter().map(|byte| u64::from(*byte)).sum();
        assert_eq!(octal(&header[148..155]), Some(sum));
    }

    #[test]
    fn archives_cut_short_are_errors() {
        let archive = write(&[Member {
            name: "x".into(),
            mtime: 0,
            content: vec![1; 600],
        }]);
        assert!(read(&archive[..700]).is_err());
    }
}
