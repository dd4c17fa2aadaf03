//! A small HTTP proxy on loopback in front of a registry that injects faults into the answers
//! of chosen requests: a 500, a connection reset in the middle of the body, a body cut short,
//! a body with one byte changed (so its digest is wrong), or a body that stops arriving.
//!
//! Each client connection carries one request: the proxy asks the registry to close after
//! answering, and the registry's `Connection: close` makes the client open a new connection for
//! the next request, so no request framing has to be parsed beyond the head.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What to do to a matching answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer `500 Internal Server Error` without asking the registry.
    ServerError,
    /// Send the head and half the body, then reset the connection.
    ResetMidBody,
    /// Send the head (with the full length) and half the body, then close normally.
    Truncate,
    /// Change one byte of the body.
    CorruptByte,
    /// Send the head and half the body, then send nothing more while the client stays connected
    /// (at most a minute).
    Stall,
}

/// One rule: requests whose method and path match get `fault`, `times` times (`u32::MAX`:
/// always).
#[derive(Clone, Debug)]
pub struct Rule {
    /// `GET`, `PUT`, …
    pub method: &'static str,
    /// A piece of the path the request must contain.
    pub path_contains: String,
    /// The fault.
    pub fault: Fault,
    /// How many more requests get it.
    pub times: u32,
}

/// A running proxy.
pub struct FaultProxy {
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// The rules, shared with the serving threads.
    rules: Arc<Mutex<Vec<Rule>>>,
    /// How many faults were injected.
    injected: Arc<Mutex<u32>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`host:port`).
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let rules = Arc::new(Mutex::new(Vec::new()));
        let injected = Arc::new(Mutex::new(0));
        let upstream = upstream.to_string();
        let (thread_rules, thread_injected) = (rules.clone(), injected.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, rules, injected) = (
                    upstream.clone(),
                    thread_rules.clone(),
                    thread_injected.clone(),
                );
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &rules, &injected);
                });
            }
        });
        FaultProxy {
            address,
            rules,
            injected,
        }
    }

    /// Replaces the rules.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *self.rules.lock().unwrap() = rules;
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u32 {
        *self.injected.lock().unwrap()
    }
}

/// Serves one client connection (one request).
fn serve(
    client: TcpStream,
    upstream: &str,
    rules: &Mutex<Vec<Rule>>,
    injected: &Mutex<u32>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let end = line == "\r\n";
        if !line.to_ascii_lowercase().starts_with("connection:") {
            head.push(line);
        }
        if end {
            break;
        }
    }
    let request_line = head.first().cloned().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let fault = {
        let mut rules = rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|rule| {
                rule.times > 0 && rule.method == method && path.contains(&rule.path_contains)
            })
            .map(|rule| {
                rule.times = rule.times.saturating_sub(1);
                rule.fault
            })
    };
    if fault.is_some() {
        *injected.lock().unwrap() += 1;
    }
    let mut client_out = client.try_clone()?;
    if fault == Some(Fault::ServerError) {
        client_out.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    let mut server = TcpStream::connect(upstream)?;
    let last = head.pop().unwrap_or_default();
    for line in &head {
        server.write_all(line.as_bytes())?;
    }
    server.write_all(b"Connection: close\r\n")?;
    server.write_all(last.as_bytes())?;
    // Whatever body the request has follows as it comes.
    let mut body_source = reader;
    let mut body_target = server.try_clone()?;
    let body_thread = std::thread::spawn(move || {
        let buffered = body_source.buffer().to_vec();
        let _ = body_target.write_all(&buffered);
        body_source.consume(buffered.len());
        let _ = std::io::copy(body_source.get_mut(), &mut body_target);
    });
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    let body_start = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(answer.len(), |at| at + 4);
    let body_len = answer.len() - body_start;
    match fault {
        None | Some(Fault::ServerError) => client_out.write_all(&answer)?,
        Some(Fault::CorruptByte) => {
            if body_len > 0 {
                answer[body_start + body_len / 2] ^= 0xff;
            }
            client_out.write_all(&answer)?;
        }
        Some(Fault::Truncate) => {
            client_out.write_all(&answer[..body_start + body_len / 2])?;
        }
        Some(Fault::Stall) => {
            client_out.write_all(&answer[..body_start + body_len / 2])?;
            client_out.flush()?;
            // Hold the connection open, silent, until the client gives up on it: the body
            // thread reads from the client until it closes (or a minute passes).
            client.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
            let _ = body_thread.join();
            return Ok(());
        }
        Some(Fault::ResetMidBody) => {
            client_out.write_all(&answer[..body_start + body_len / 2])?;
            client_out.flush()?;
            // A zero linger time makes the last close send a reset instead of an orderly end;
            // shutting down only the reading side ends the body thread without a FIN.
            set_linger_zero(&client_out);
            let _ = client.shutdown(Shutdown::Read);
            let _ = body_thread.join();
            return Ok(());
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = body_thread.join();
    Ok(())
}

/// Sets SO_LINGER to zero on the stream, so that closing it resets the connection.
fn set_linger_zero(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a valid descriptor and a correctly sized `linger` value.
    unsafe {
        setsockopt(
            stream.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            (&linger as *const Linger).cast(),
            std::mem::size_of::<Linger>() as u32,
        );
    }
}

/// `struct linger` from `<sys/socket.h>`.
#[repr(C)]
struct Linger {
    /// Linger on close.
    l_onoff: i32,
    /// For how many seconds.
    l_linger: i32,
}

/// `SOL_SOCKET` on Linux.
const SOL_SOCKET: i32 = 1;
/// `SO_LINGER` on Linux.
const SO_LINGER: i32 = 13;

unsafe extern "C" {
    /// `setsockopt(2)`.
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const std::ffi::c_void, len: u32) -> i32;
}
