//! Completing tar streams that stop right after their last entry's data, as some tools write
//! them (umoci 0.4's `insert` layers lack the final padding and end-of-archive blocks).
//!
//! The reader follows the tar block structure as bytes pass through: headers, each entry's
//! data and padding. When the stream ends where only padding or the end-of-archive blocks are
//! missing, it supplies the zero blocks; when it ends inside a header or an entry's data, the
//! layer is truly cut short and reading fails with `UnexpectedEof`.

use std::io::{self, Read};

/// The tar block size.
const BLOCK: u64 = 512;

/// Where the stream is in the tar structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    /// At the start of a header block (`filled` bytes of it seen).
    Header { filled: usize },
    /// Inside an entry: `data` bytes of content then `padding` bytes left.
    Entry { data: u64, padding: u64 },
    /// Past the end-of-archive marker (or at zero blocks): passes the rest through.
    Done,
}

/// A tar stream reader that supplies missing final padding and end-of-archive blocks.
pub struct CompleteTar<R> {
    /// The stream.
    inner: R,
    /// Where it is.
    position: Position,
    /// The header being read.
    header: [u8; BLOCK as usize],
    /// Extension blocks of an old GNU sparse header still to come.
    sparse_extensions: bool,
    /// Zero bytes still to supply after the stream ended.
    supply: u64,
    /// True once the inner stream has ended.
    ended: bool,
}

impl<R: Read> CompleteTar<R> {
    /// Wraps a tar stream.
    pub fn new(inner: R) -> CompleteTar<R> {
        CompleteTar {
            inner,
            position: Position::Header { filled: 0 },
            header: [0; BLOCK as usize],
            sparse_extensions: false,
            supply: 0,
            ended: false,
        }
    }

    /// Follows `bytes` through the structure.
    fn track(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.position {
                Position::Done => return,
                Position::Entry { data, padding } => {
                    let step = (data + padding).min(bytes.len() as u64);
                    bytes = &bytes[step as usize..];
                    let data_step = step.min(data);
                    self.position = Position::Entry {
                        data: data - data_step,
                        padding: padding - (step - data_step),
                    };
                    if data == data_step && padding == step - data_step {
                        self.position = Position::Header { filled: 0 };
                    }
                }
                Position::Header { filled } => {
                    let step = (BLOCK as usize - filled).min(bytes.len());
                    self.header[filled..filled + step].copy_from_slice(&bytes[..step]);
                    bytes = &bytes[step..];
                    let filled = filled + step;
                    self.position = if filled < BLOCK as usize {
                        Position::Header { filled }
                    } else {
                        self.after_header()
                    };
                }
            }
        }
    }

    /// The position after a complete header block.
    fn after_header(&mut self) -> Position {
        let header = &self.header;
        if self.sparse_extensions {
            // An old GNU sparse extension block: its last flag says whether another follows.
            self.sparse_extensions = header[504] != 0;
            return Position::Header { filled: 0 };
        }
        if header.iter().all(|&b| b == 0) {
            return Position::Done;
        }
        let size = header_size(&header[124..136]);
        self.sparse_extensions = header[156] == b'S' && header[482] != 0;
        let padding = (BLOCK - size % BLOCK) % BLOCK;
        if size == 0 {
            Position::Header { filled: 0 }
        } else {
            Position::Entry {
                data: size,
                padding,
            }
        }
    }

    /// How many zero bytes complete the stream, or an error when it was cut inside a header or
    /// an entry's data.
    fn missing_end(&self) -> io::Result<u64> {
        let truncated = |what: &str| {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the layer's tar stream is cut short inside {what}"),
            ))
        };
        match self.position {
            Position::Done => Ok(0),
            Position::Header { filled: 0 } if !self.sparse_extensions => Ok(2 * BLOCK),
            Position::Header { .. } => truncated("a header"),
            Position::Entry { data: 0, padding } => Ok(padding + 2 * BLOCK),
            Position::Entry { .. } => truncated("an entry's content"),
        }
    }
}

/// The size field of a header: octal text, or base-256 when the top bit is set.
fn header_size(field: &[u8]) -> u64 {
    if field[0] & 0x80 != 0 {
        field[1..]
            .iter()
            .fold(u64::from(field[0] & 0x7f), |acc, &b| {
                (acc << 8) | u64::from(b)
            })
    } else {
        field
            .iter()
            .skip_while(|&&b| b == b' ')
            .take_while(|&&b| (b'0'..=b'7').contains(&b))
            .fold(0, |acc, &b| acc * 8 + u64::from(b - b'0'))
    }
}

impl<R: Read> Read for CompleteTar<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.ended {
            let read = self.inner.read(buf)?;
            if read > 0 || buf.is_empty() {
                self.track(&buf[..read]);
                return Ok(read);
            }
            self.ended = true;
            self.supply = self.missing_end()?;
        }
        let step = self.supply.min(buf.len() as u64) as usize;
        buf[..step].fill(0);
        self.supply -= step as u64;
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar with the given files, complete.
    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    /// The names and contents read from a stream through `CompleteTar`.
    fn read_all(bytes: &[u8]) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut archive = tar::Archive::new(CompleteTar::new(bytes));
        let mut out = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let mut content = Vec::new();
            entry.read_to_end(&mut content)?;
            out.push((entry.path()?.display().to_string(), content));
        }
        Ok(out)
    }

    #[test]
    fn complete_streams_pass_unchanged() {
        let bytes = tar_of(&[("a", b"hello"), ("b", &[7u8; 1024])]);
        let mut passed = Vec::new();
        CompleteTar::new(&bytes[..])
            .read_to_end(&mut passed)
            .unwrap();
        assert_eq!(passed, bytes);
    }

    #[test]
    fn a_stream_without_padding_or_end_blocks_is_completed() {
        let bytes = tar_of(&[("a", b"12"), ("etc/hostname", b"hello")]);
        // Header, header, 5 bytes: what umoci 0.4 writes.
        let cut = &bytes[..512 + 512 + 512 + 5];
        let entries = read_all(cut).unwrap();
        assert_eq!(entries[1], ("etc/hostname".to_string(), b"hello".to_vec()));
        // Cut after a whole entry and its padding.
        assert_eq!(read_all(&bytes[..1024]).unwrap().len(), 1);
    }

    #[test]
    fn a_stream_cut_inside_content_or_a_header_fails() {
        let bytes = tar_of(&[("a", &[1u8; 600])]);
        let error = read_all(&bytes[..512 + 100]).unwrap_err();
        assert!(error.to_string().contains("cut short"), "{error}");
        assert!(read_all(&bytes[..300]).is_err());
    }

    #[test]
    fn sizes_in_octal_and_base_256() {
        assert_eq!(header_size(b"00000000005\0"), 5);
        assert_eq!(header_size(b" 0000000017 "), 15);
        let mut binary = [0u8; 12];
        binary[0] = 0x80;
        binary[10] = 0x01;
        binary[11] = 0x02;
        assert_eq!(header_size(&binary), 0x0102);
    }
}
