//! Just enough of Berkeley DB's hash format to read every record of rpm's `Packages` database, as
//! images of rpm before 4.16 carry it (RHEL/CentOS 7 and 8, Amazon Linux 2): a record's key is
//! the package's number, its value the package's header.
//!
//! Records are found the way a lookup finds them: bucket by bucket, each bucket's chain of hash
//! pages followed, values on overflow pages gathered. The file is untrusted: page numbers are
//! checked, each page is read at most once per chain, lengths are checked before slicing.
//! Files in the other byte order (made on a big-endian machine) are read too.

use std::collections::HashSet;

/// The magic number of a hash database, in the file's own byte order.
const HASH_MAGIC: u32 = 0x0006_1561;
/// Hash page types: unsorted and sorted.
const HASH_PAGES: [u8; 2] = [2, 13];
/// An overflow page.
const OVERFLOW_PAGE: u8 = 7;
/// An item stored on its page.
const KEY_DATA: u8 = 1;
/// An item stored on overflow pages.
const OFF_PAGE: u8 = 3;
/// The size of every page's header.
const PAGE_HEADER: usize = 26;

/// One record: its key and its value.
pub type Record = (Vec<u8>, Vec<u8>);

/// An open database file in memory.
pub struct Database<'a> {
    /// The file's bytes.
    bytes: &'a [u8],
    /// True when the file's byte order is big-endian.
    big_endian: bool,
    /// The page size.
    page_size: usize,
    /// The last page's number.
    last_page: u32,
    /// The highest bucket number.
    max_bucket: u32,
    /// Where each split point's buckets start, less their bucket numbers.
    spares: [u32; 32],
}

impl<'a> Database<'a> {
    /// Reads the metadata page; `None` when the bytes are not a Berkeley DB hash database.
    pub fn open(bytes: &'a [u8]) -> Result<Option<Database<'a>>, String> {
        let Some(magic) = bytes.get(12..16) else {
            return Ok(None);
        };
        let big_endian = if u32::from_le_bytes(magic.try_into().expect("4 bytes")) == HASH_MAGIC {
            false
        } else if u32::from_be_bytes(magic.try_into().expect("4 bytes")) == HASH_MAGIC {
            true
        } else {
            return Ok(None);
        };
        let word = |index: usize| read_u32(bytes, index * 4, big_endian);
        let version = word(4)?;
        if !(8..=10).contains(&version) {
            return Err(format!(
                "Berkeley DB hash version {version} is not supported"
            ));
        }
        let page_size = word(5)? as usize;
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(format!("page size {page_size} is not valid"));
        }
        let mut spares = [0u32; 32];
        for (index, spare) in spares.iter_mut().enumerate() {
            *spare = word(24 + index)?;
        }
        Ok(Some(Database {
            bytes,
            big_endian,
            page_size,
            last_page: word(8)?,
            max_bucket: word(18)?,
            spares,
        }))
    }

    /// Every record: its key and value.
    pub fn records(&self) -> Result<Vec<Record>, String> {
        let mut records = Vec::new();
        for bucket in 0..=self.max_bucket {
            let mut visited = HashSet::new();
            let mut next = self.bucket_page(bucket)?;
            while next != 0 {
                if !visited.insert(next) {
                    return Err(format!("bucket {bucket}'s pages form a loop"));
                }
                let page = self.page(next)?;
                if !HASH_PAGES.contains(&page[25]) {
                    return Err(format!("page {next} is not a hash page"));
                }
                let count = usize::from(self.u16_at(page, 20)?);
                let offset = |index: usize| -> Result<usize, String> {
                    Ok(usize::from(self.u16_at(page, PAGE_HEADER + 2 * index)?))
                };
                for pair in (0..count.saturating_sub(1)).step_by(2) {
                    let key_at = offset(pair)?;
                    let value_at = offset(pair + 1)?;
                    let key_end = if pair == 0 {
                        self.page_size
                    } else {
                        offset(pair - 1)?
                    };
                    let key = self.item(page, key_at, key_end)?;
                    let value = self.item(page, value_at, key_at)?;
                    records.push((key, value));
                }
                next = self.u32_at(page, 16)?;
            }
        }
        Ok(records)
    }

    /// The first page of a bucket.
    fn bucket_page(&self, bucket: u32) -> Result<u32, String> {
        let split = (u32::BITS - bucket.leading_zeros()) as usize;
        bucket
            .checked_add(self.spares[split])
            .filter(|page| *page != 0)
            .ok_or_else(|| format!("bucket {bucket} has no page"))
    }

    /// One item of a hash page, between `start` and `end`: its bytes, gathered from overflow
    /// pages when it is stored there.
    fn item(&self, page: &[u8], start: usize, end: usize) -> Result<Vec<u8>, String> {
        let stored = page
            .get(start..end)
            .filter(|stored| !stored.is_empty())
            .ok_or("an item lies outside its page")?;
        match stored[0] {
            KEY_DATA => Ok(stored[1..].to_vec()),
            OFF_PAGE if stored.len() == 12 => {
                let first = self.u32_at(stored, 4)?;
                let length = self.u32_at(stored, 8)? as usize;
                self.overflow(first, length)
            }
            other => Err(format!("an item has type {other}")),
        }
    }

    /// `length` bytes from the chain of overflow pages starting at `first`.
    fn overflow(&self, first: u32, length: usize) -> Result<Vec<u8>, String> {
        let mut bytes = Vec::new();
        let mut next = first;
        let mut visited = HashSet::new();
        while bytes.len() < length {
            if next == 0 || !visited.insert(next) {
                return Err("an overflow chain is broken".into());
            }
            let page = self.page(next)?;
            if page[25] != OVERFLOW_PAGE {
                return Err(format!("page {next} is not an overflow page"));
            }
            let used = usize::from(self.u16_at(page, 22)?);
            let data = page
                .get(PAGE_HEADER..PAGE_HEADER + used)
                .ok_or("an overflow page claims more than it holds")?;
            if bytes.len() + data.len() > length {
                return Err("an overflow chain holds more than its item".into());
            }
            bytes.extend_from_slice(data);
            next = self.u32_at(page, 16)?;
        }
        Ok(bytes)
    }

    /// Page `number`, checked to be in the file and to say it is that page.
    fn page(&self, number: u32) -> Result<&'a [u8], String> {
        let beyond = || format!("page {number} is beyond the end of the file");
        if number == 0 || number > self.last_page {
            return Err(beyond());
        }
        let start = (number as usize)
            .checked_mul(self.page_size)
            .ok_or_else(beyond)?;
        let end = start.checked_add(self.page_size).ok_or_else(beyond)?;
        let page = self.bytes.get(start..end).ok_or_else(beyond)?;
        if self.u32_at(page, 8)? != number {
            return Err(format!("page {number} says it is another page"));
        }
        Ok(page)
    }

    /// A `u16` in the file's byte order.
    fn u16_at(&self, bytes: &[u8], at: usize) -> Result<u16, String> {
        let pair: [u8; 2] = bytes
            .get(at..at + 2)
            .ok_or("a page is cut short")?
            .try_into()
            .expect("2 bytes");
        Ok(if self.big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        })
    }

    /// A `u32` in the file's byte order.
    fn u32_at(&self, bytes: &[u8], at: usize) -> Result<u32, String> {
        read_u32(bytes, at, self.big_endian)
    }
}

/// A `u32` at `at`, big- or little-endian.
fn read_u32(bytes: &[u8], at: usize, big_endian: bool) -> Result<u32, String> {
    let quad: [u8; 4] = bytes
        .get(at..at + 4)
        .ok_or("the file is cut short")?
        .try_into()
        .expect("4 bytes");
    Ok(if big_endian {
        u32::from_be_bytes(quad)
    } else {
        u32::from_le_bytes(quad)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_files_are_not_taken_for_berkeley_databases() {
        assert!(Database::open(b"SQLite format 3\0").unwrap().is_none());
        assert!(Database::open(&[]).unwrap().is_none());
    }

    #[test]
    fn damaged_metadata_is_an_error() {
        let mut meta = vec![0u8; 512];
        meta[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        meta[16..20].copy_from_slice(&7u32.to_le_bytes());
        assert!(Database::open(&meta).err().unwrap().contains("version 7"));
        meta[16..20].copy_from_slice(&9u32.to_le_bytes());
        meta[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert!(Database::open(&meta).err().unwrap().contains("page size"));
        meta[20..24].copy_from_slice(&512u32.to_le_bytes());
        let database = Database::open(&meta).unwrap().unwrap();
        assert!(database.records().unwrap_err().contains("has no page"));
    }
}
