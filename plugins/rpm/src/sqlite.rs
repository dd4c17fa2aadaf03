//! Just enough of SQLite's file format to read every row of one table: the rpm database
//! (`rpmdb.sqlite`) keeps each installed package's header as a blob in its `Packages` table.
//!
//! The file is untrusted: page numbers are checked against the file, every page is visited at
//! most once, and sizes are checked before slicing, so a damaged or hostile file gives an error,
//! never a panic or a loop. Only committed content is read: a write-ahead log beside the file is
//! not applied (rpm checkpoints it when it closes the database).

use std::collections::HashSet;

/// The magic string every SQLite database file starts with.
const MAGIC: &[u8] = b"SQLite format 3\0";

/// Page types of table b-trees.
const INTERIOR_TABLE: u8 = 0x05;
/// A table b-tree leaf page.
const LEAF_TABLE: u8 = 0x0d;

/// One value of a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL (also how an `INTEGER PRIMARY KEY` column is stored: the row id holds it).
    Null,
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text, as stored (UTF-8 for rpm's database).
    Text(Vec<u8>),
    /// A blob.
    Blob(Vec<u8>),
}

/// A database file in memory.
pub struct Database<'a> {
    /// The file's bytes.
    bytes: &'a [u8],
    /// The page size.
    page_size: usize,
    /// The usable bytes of each page (the page size less the reserved bytes at its end).
    usable: usize,
}

impl<'a> Database<'a> {
    /// Reads the file's header.
    pub fn open(bytes: &'a [u8]) -> Result<Database<'a>, String> {
        if bytes.len() < 100 || !bytes.starts_with(MAGIC) {
            return Err("not an SQLite 3 database".into());
        }
        let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65536,
            size if size >= 512 && size.is_power_of_two() => usize::from(size),
            size => return Err(format!("page size {size} is not valid")),
        };
        let reserved = usize::from(bytes[20]);
        let usable = page_size
            .checked_sub(reserved)
            .filter(|usable| *usable >= 480)
            .ok_or("the reserved space leaves too little of each page")?;
        Ok(Database {
            bytes,
            page_size,
            usable,
        })
    }

    /// Every row of the table called `name`: its row id and its values, in row-id order.
    pub fn table(&self, name: &str) -> Result<Vec<(i64, Vec<Value>)>, String> {
        let schema = self.rows(1)?;
        let root = schema
            .iter()
            .find_map(|(_, values)| match values.as_slice() {
                [
                    Value::Text(kind),
                    Value::Text(table),
                    _,
                    Value::Integer(root),
                    ..,
                ] if kind == b"table" && table == name.as_bytes() => Some(*root),
                _ => None,
            })
            .ok_or_else(|| format!("the database has no table {name}"))?;
        let root = u32::try_from(root).map_err(|_| format!("table {name} has no root page"))?;
        self.rows(root)
    }

    /// The rows of the table b-tree rooted at page `root`.
    fn rows(&self, root: u32) -> Result<Vec<(i64, Vec<Value>)>, String> {
        let mut rows = Vec::new();
        let mut visited = HashSet::new();
        let mut pending = vec![root];
        while let Some(number) = pending.pop() {
            if !visited.insert(number) {
                return Err(format!(
                    "page {number} is reached twice: the file is damaged"
                ));
            }
            let (page, start) = self.page(number)?;
            let kind = page[start];
            let cells = usize::from(read_u16(page, start + 3)?);
            let header = match kind {
                LEAF_TABLE => 8,
                INTERIOR_TABLE => 12,
                other => {
                    return Err(format!(
                        "page {number} has type {other:#x}, not a table page"
                    ));
                }
            };
            let mut children = Vec::new();
            for index in 0..cells {
                let offset = usize::from(read_u16(page, start + header + 2 * index)?);
                if kind == INTERIOR_TABLE {
                    children.push(read_u32(page, offset)?);
                } else {
                    rows.push(self.leaf_cell(page, offset)?);
                }
            }
            if kind == INTERIOR_TABLE {
                children.push(read_u32(page, start + 8)?);
                // Popped last first, so pushing in reverse keeps row-id order.
                pending.extend(children.into_iter().rev());
            }
        }
        Ok(rows)
    }

    /// A page's bytes and where its b-tree header starts (after the file header on page 1).
    fn page(&self, number: u32) -> Result<(&'a [u8], usize), String> {
        let index = (number as usize)
            .checked_sub(1)
            .ok_or("page 0 does not exist")?;
        let beyond = || format!("page {number} is beyond the end of the file");
        let start = index.checked_mul(self.page_size).ok_or_else(beyond)?;
        let end = start.checked_add(self.page_size).ok_or_else(beyond)?;
        let page = self.bytes.get(start..end).ok_or_else(beyond)?;
        Ok((page, if number == 1 { 100 } else { 0 }))
    }

    /// A table leaf cell: its row id and record, with the record's overflow pages followed.
    fn leaf_cell(&self, page: &[u8], offset: usize) -> Result<(i64, Vec<Value>), String> {
        let (size, used) = varint(page, offset)?;
        let (row_id, used_id) = varint(page, offset + used)?;
        let start = offset + used + used_id;
        let size = usize::try_from(size).map_err(|_| "a record is too large")?;
        let local = self.local_size(size);
        let mut payload = page
            .get(start..start + local)
            .ok_or("a record runs past its page")?
            .to_vec();
        if local < size {
            let mut next = read_u32(page, start + local)?;
            let mut visited = HashSet::new();
            while payload.len() < size {
                if next == 0 || !visited.insert(next) {
                    return Err("a record's overflow chain is broken".into());
                }
                let (overflow, _) = self.page(next)?;
                next = read_u32(overflow, 0)?;
                let take = (size - payload.len()).min(self.usable - 4);
                payload.extend_from_slice(&overflow[4..4 + take]);
            }
        }
        Ok((row_id as i64, record(&payload)?))
    }

    /// How much of a table leaf record of `size` bytes is stored on its own page.
    fn local_size(&self, size: usize) -> usize {
        let usable = self.usable;
        let most = usable - 35;
        if size <= most {
            return size;
        }
        let least = (usable - 12) * 32 / 255 - 23;
        let spilled = least + (size - least) % (usable - 4);
        if spilled <= most { spilled } else { least }
    }
}

/// A record's values.
fn record(payload: &[u8]) -> Result<Vec<Value>, String> {
    let (header_size, mut at) = varint(payload, 0)?;
    let header_size = usize::try_from(header_size).map_err(|_| "a record header is too large")?;
    if header_size > payload.len() {
        return Err("a record header runs past its record".into());
    }
    let mut body = header_size;
    let mut values = Vec::new();
    while at < header_size {
        let (kind, used) = varint(payload, at)?;
        at += used;
        let take = |length: usize| -> Result<&[u8], String> {
            body.checked_add(length)
                .and_then(|end| payload.get(body..end))
                .ok_or_else(|| "a record's value runs past its record".to_string())
        };
        let (value, length) = match kind {
            0 => (Value::Null, 0),
            1..=6 => {
                let length = [0, 1, 2, 3, 4, 6, 8][kind as usize];
                let bytes = take(length)?;
                let mut number = if bytes[0] & 0x80 != 0 { -1i64 } else { 0 };
                for byte in bytes {
                    number = (number << 8) | i64::from(*byte);
                }
                (Value::Integer(number), length)
            }
            7 => {
                let bytes: [u8; 8] = take(8)?.try_into().expect("eight bytes");
                (Value::Real(f64::from_be_bytes(bytes)), 8)
            }
            8 => (Value::Integer(0), 0),
            9 => (Value::Integer(1), 0),
            10 | 11 => return Err(format!("serial type {kind} is reserved")),
            _ => {
                let length =
                    usize::try_from((kind - 12) / 2).map_err(|_| "a value is too large")?;
                let bytes = take(length)?.to_vec();
                if kind % 2 == 0 {
                    (Value::Blob(bytes), length)
                } else {
                    (Value::Text(bytes), length)
                }
            }
        };
        body += length;
        values.push(value);
    }
    Ok(values)
}

/// An SQLite variable-length integer at `at`: its value and how many bytes it takes.
fn varint(bytes: &[u8], at: usize) -> Result<(u64, usize), String> {
    let mut value = 0u64;
    for index in 0..9 {
        let byte = *bytes.get(at + index).ok_or("a number runs past its page")?;
        if index == 8 {
            return Ok(((value << 8) | u64::from(byte), 9));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }
    unreachable!("the ninth byte returns")
}

/// A big-endian `u16` at `at`.
fn read_u16(bytes: &[u8], at: usize) -> Result<u16, String> {
    let pair = bytes.get(at..at + 2).ok_or("a page is cut short")?;
    Ok(u16::from_be_bytes([pair[0], pair[1]]))
}

/// A big-endian `u32` at `at`.
fn read_u32(bytes: &[u8], at: usize) -> Result<u32, String> {
    let quad = bytes.get(at..at + 4).ok_or("a page is cut short")?;
    Ok(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_take_one_to_nine_bytes() {
        assert_eq!(varint(&[0x05], 0).unwrap(), (5, 1));
        assert_eq!(varint(&[0x81, 0x00], 0).unwrap(), (128, 2));
        assert_eq!(varint(&[0xff; 9], 0).unwrap(), (u64::MAX, 9));
        assert!(varint(&[0x81], 0).is_err());
    }

    #[test]
    fn records_hold_integers_text_and_blobs() {
        // Header: size 5, types NULL, 1-byte int, text of 2, blob of 1.
        let payload = [5, 0, 1, 17, 14, 0xfe, b'h', b'i', 7];
        assert_eq!(
            record(&payload).unwrap(),
            [
                Value::Null,
                Value::Integer(-2),
                Value::Text(b"hi".to_vec()),
                Value::Blob(vec![7])
            ]
        );
        assert!(record(&[5, 0, 1, 17, 14, 0xfe]).is_err(), "cut short");
    }

    #[test]
    fn damaged_files_are_errors() {
        assert!(Database::open(b"not a database").is_err());
        assert!(Database::open(&[0; 100]).is_err());
        let mut header = MAGIC.to_vec();
        header.resize(100, 0);
        header[16..18].copy_from_slice(&1000u16.to_be_bytes());
        assert!(Database::open(&header).err().unwrap().contains("page size"));
        header[16..18].copy_from_slice(&4096u16.to_be_bytes());
        let database = Database::open(&header).unwrap();
        assert!(
            database
                .table("Packages")
                .unwrap_err()
                .contains("beyond the end")
        );
    }
}
