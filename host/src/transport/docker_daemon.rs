//! The `docker-daemon:REF` transport: images read from and loaded into a Docker engine through
//! its API on a unix socket (`$DOCKER_HOST` when it is `unix://…`, else
//! `/var/run/docker.sock`). Images travel as docker archives (`GET /images/NAME/get`,
//! `POST /images/load`), so the rest is the `docker-archive` transport.

use super::docker_archive;
use super::error::TransportError;
use crate::image::layout::OciLayout;
use crate::image::manifest::Descriptor;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// The Docker socket salve talks to.
pub fn socket_path() -> PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|host| host.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

/// Checks that the daemon answers on its socket, so a command that will load an image there
/// can fail before doing its work rather than after.
pub fn check_reachable() -> Result<(), TransportError> {
    let socket = socket_path();
    let status = request(&socket, "GET", "/_ping", None, &mut io::sink())
        .map_err(|error| unreachable(&socket, error))?;
    if status != 200 {
        return Err(refused(&socket, "answering a ping".into(), status, ""));
    }
    Ok(())
}

/// Reads `reference` from the daemon into `work`, tagged `work_tag`.
pub fn read(
    reference: &str,
    work: &OciLayout,
    work_tag: &str,
) -> Result<Descriptor, TransportError> {
    read_from(&socket_path(), reference, work, work_tag)
}

/// Reads `reference` from the daemon at `socket` into `work`, tagged `work_tag`: the archive
/// `docker save` streams is read as it arrives, never stored whole.
pub fn read_from(
    socket: &Path,
    reference: &str,
    work: &OciLayout,
    work_tag: &str,
) -> Result<Descriptor, TransportError> {
    let path = format!("/images/{}/get", escape_path(reference));
    let answer = send(socket, "GET", &path, None).map_err(|error| unreachable(socket, error))?;
    if answer.status != 200 {
        let mut body = String::new();
        // The message is all that is wanted from a refusal; a body cut short still has it.
        let _ = answer.body.take(1 << 20).read_to_string(&mut body);
        let step = format!("exporting {reference}");
        return Err(refused(socket, step, answer.status, &body));
    }
    docker_archive::read_stream(answer.body, Path::new(reference), work, work_tag)
}

/// Loads the image tagged `work_tag` in `work` into the daemon as `reference`.
pub fn write(work: &OciLayout, work_tag: &str, reference: &str) -> Result<(), TransportError> {
    write_to(&socket_path(), work, work_tag, reference)
}

/// Loads the image tagged `work_tag` in `work` into the daemon at `socket` as `reference`.
pub fn write_to(
    socket: &Path,
    work: &OciLayout,
    work_tag: &str,
    reference: &str,
) -> Result<(), TransportError> {
    let archive = work
        .dir()
        .join(format!(".docker-load-{}.tar", std::process::id()));
    docker_archive::write(work, work_tag, &archive, Some(reference))?;
    let mut response = Vec::new();
    let result = request(
        socket,
        "POST",
        "/images/load?quiet=1",
        Some(&archive),
        &mut response,
    );
    let _ = std::fs::remove_file(&archive);
    let status = result.map_err(|error| unreachable(socket, error))?;
    let body = String::from_utf8_lossy(&response);
    // The load answers 200 and reports failures inside its JSON message stream.
    if status != 200 || body.contains("\"errorDetail\"") || body.contains("\"error\"") {
        return Err(refused(
            socket,
            format!("loading {reference}"),
            status,
            &body,
        ));
    }
    Ok(())
}

/// Removes the image named `reference` from the daemon at `socket` (its layers stay while
/// other images use them).
pub fn remove(socket: &Path, reference: &str) -> Result<(), TransportError> {
    let path = format!("/images/{}?force=1", escape_path(reference));
    let mut response = Vec::new();
    let status = request(socket, "DELETE", &path, None, &mut response)
        .map_err(|error| unreachable(socket, error))?;
    if status != 200 {
        let body = String::from_utf8_lossy(&response);
        return Err(refused(
            socket,
            format!("removing {reference}"),
            status,
            &body,
        ));
    }
    Ok(())
}

/// An image salve puts into the daemon for a moment (for its BuildKit), removed when dropped,
/// however the run ends.
pub struct TemporaryImage {
    /// The daemon's socket.
    socket: PathBuf,
    /// The image's name.
    pub name: String,
}

impl TemporaryImage {
    /// Names a temporary image of the daemon at `socket` (it need not exist yet).
    pub fn new(socket: &Path, name: String) -> TemporaryImage {
        TemporaryImage {
            socket: socket.to_path_buf(),
            name,
        }
    }
}

impl Drop for TemporaryImage {
    fn drop(&mut self) {
        let _ = remove(&self.socket, &self.name);
    }
}

/// The error for a daemon that could not be reached.
fn unreachable(socket: &Path, error: io::Error) -> TransportError {
    TransportError::DaemonUnreachable {
        socket: socket.to_path_buf(),
        error,
    }
}

/// The error for a request the daemon answered with `status` and `body`.
fn refused(socket: &Path, step: String, status: u16, body: &str) -> TransportError {
    TransportError::DaemonRefused {
        socket: socket.to_path_buf(),
        step,
        status,
        message: api_message(body),
    }
}

/// The `message` (or `error`) of a Docker API answer, else the answer itself.
fn api_message(body: &str) -> String {
    body.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|value| {
            value["message"]
                .as_str()
                .or_else(|| value["error"].as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.trim().chars().take(500).collect())
}

/// Percent-encodes the characters of an image name that a URL path cannot hold as they are.
fn escape_path(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b':'
            | b'/'
            | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect::<String>()
        .replace('/', "%2F")
}

/// Sends one HTTP/1.1 request over the socket, with a file as the body if given, and writes
/// the answer's body (plain, sized or chunked) to `out`; returns the status code.
fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&Path>,
    out: &mut dyn Write,
) -> io::Result<u16> {
    let mut answer = send(socket, method, path, body)?;
    io::copy(&mut answer.body, out)?;
    Ok(answer.status)
}

/// An HTTP answer: its status and its body, decoded as it is read.
struct Answer {
    /// The status code.
    status: u16,
    /// The body (an early end of a sized or chunked body is an error).
    body: Box<dyn Read>,
}

/// Sends one HTTP/1.1 request over the socket, with a file as the body if given, and reads
/// the answer's status line and headers.
fn send(socket: &Path, method: &str, path: &str, body: Option<&Path>) -> io::Result<Answer> {
    let mut stream = UnixStream::connect(socket)?;
    let length = match body {
        Some(file) => std::fs::metadata(file)?.len(),
        None => 0,
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\
         Content-Type: application/x-tar\r\nContent-Length: {length}\r\n\r\n"
    )?;
    if let Some(file) = body {
        io::copy(&mut File::open(file)?, &mut stream)?;
    }
    stream.flush()?;
    let mut reader = BufReader::with_capacity(1 << 20, stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {line:?}")))?;
    let mut chunked = false;
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<u64>().ok();
            }
        }
    }
    let body: Box<dyn Read> = match (chunked, length) {
        (true, _) => Box::new(Chunked::new(reader)),
        (false, Some(length)) => Box::new(Sized {
            reader: reader.take(length),
        }),
        (false, None) => Box::new(reader),
    };
    Ok(Answer { status, body })
}

/// The end of an answer before its length or last chunk.
fn cut_short(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the daemon closed the connection mid-{what}"),
    )
}

/// A body of a stated length: ending before it is an error.
struct Sized<R> {
    /// The rest of the body.
    reader: io::Take<R>,
}

impl<R: Read> Read for Sized<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.reader.read(buf)?;
        if read == 0 && !buf.is_empty() && self.reader.limit() > 0 {
            return Err(cut_short("answer"));
        }
        Ok(read)
    }
}

/// A chunked body, decoded.
struct Chunked<R> {
    /// The answer after its headers.
    reader: R,
    /// What is left of the current chunk.
    left: u64,
    /// True once the last chunk was read.
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    /// The body that follows in `reader`.
    fn new(reader: R) -> Chunked<R> {
        Chunked {
            reader,
            left: 0,
            done: false,
        }
    }

    /// Reads the next chunk's size line; false at the last (empty) chunk.
    fn next_chunk(&mut self) -> io::Result<bool> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(cut_short("answer"));
        }
        let size = line.trim().split(';').next().unwrap_or_default();
        self.left = u64::from_str_radix(size, 16)
            .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
        Ok(self.left > 0)
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.done {
            return Ok(0);
        }
        if self.left == 0 && !self.next_chunk()? {
            self.done = true;
            return Ok(0);
        }
        let most = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.reader.read(&mut buf[..most])?;
        if read == 0 {
            return Err(cut_short("chunk"));
        }
        self.left -= read as u64;
        if self.left == 0 {
            // The line end after the chunk's data.
            let mut line_end = String::new();
            self.reader.read_line(&mut line_end)?;
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        let input = &b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"[..];
        let mut out = Vec::new();
        Chunked::new(input).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello world");
        for cut in [&b"5\r\nhel"[..], &b"5\r\nhello\r\n"[..]] {
            let error = Chunked::new(cut).read_to_end(&mut Vec::new()).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
        }
        let mut small = [0u8; 3];
        let mut body = Chunked::new(&b"5\r\nhello\r\n0\r\n\r\n"[..]);
        assert_eq!(body.read(&mut small).unwrap(), 3);
        assert_eq!(body.read(&mut small).unwrap(), 2);
        assert_eq!(body.read(&mut small).unwrap(), 0);
    }

    #[test]
    fn a_sized_body_cut_short_is_an_error() {
        let mut whole = Sized {
            reader: (&b"hello"[..]).take(5),
        };
        let mut out = Vec::new();
        whole.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello");
        let mut cut = Sized {
            reader: (&b"hel"[..]).take(5),
        };
        assert!(cut.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn names_are_escaped_for_the_path() {
        assert_eq!(escape_path("app:1"), "app:1");
        assert_eq!(escape_path("127.0.0.1:5000/a b"), "127.0.0.1:5000%2Fa%20b");
    }

    #[test]
    fn api_messages_are_extracted() {
        assert_eq!(
            api_message("{\"message\":\"No such image: x\"}"),
            "No such image: x"
        );
        assert_eq!(
            api_message("{\"stream\":\"\"}\n{\"errorDetail\":{},\"error\":\"bad\"}"),
            "bad"
        );
    }
}
