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

/// Reads `reference` from the daemon at `socket` into `work`, tagged `work_tag`.
pub fn read_from(
    socket: &Path,
    reference: &str,
    work: &OciLayout,
    work_tag: &str,
) -> Result<Descriptor, TransportError> {
    let scratch = |step, error| TransportError::Scratch {
        dir: work.dir().to_path_buf(),
        step,
        error,
    };
    let archive = tempfile::NamedTempFile::new_in(work.dir())
        .map_err(|error| scratch("creating a temporary file", error))?;
    let path = format!("/images/{}/get", escape_path(reference));
    let mut out = io::BufWriter::new(archive.as_file());
    let status = request(socket, "GET", &path, None, &mut out)
        .map_err(|error| unreachable(socket, error))?;
    out.flush()
        .map_err(|error| scratch("writing the daemon's archive", error))?;
    drop(out);
    if status != 200 {
        let body = std::fs::read_to_string(archive.path()).unwrap_or_default();
        let step = format!("exporting {reference}");
        return Err(refused(socket, step, status, &body));
    }
    docker_archive::read(archive.path(), None, work, work_tag)
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
    if chunked {
        copy_chunked(&mut reader, out)?;
    } else if let Some(length) = length {
        let copied = io::copy(&mut (&mut reader).take(length), out)?;
        if copied != length {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection mid-answer",
            ));
        }
    } else {
        io::copy(&mut reader, out)?;
    }
    Ok(status)
}

/// Copies a chunked HTTP body.
fn copy_chunked(reader: &mut impl BufRead, out: &mut dyn Write) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection mid-answer",
            ));
        }
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            return Ok(());
        }
        let copied = io::copy(&mut reader.take(size), out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection mid-chunk",
            ));
        }
        line.clear();
        reader.read_line(&mut line)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        let mut input = &b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"[..];
        let mut out = Vec::new();
        copy_chunked(&mut input, &mut out).unwrap();
        assert_eq!(out, b"hello world");
        let mut cut = &b"5\r\nhel"[..];
        assert!(copy_chunked(&mut cut, &mut Vec::new()).is_err());
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
