//! A folder served over HTTP on loopback (Python's `http.server`), as package repositories are.

use super::registry::free_port;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// An HTTP server for a folder on a free loopback port, stopped when dropped.
pub struct Served {
    /// The server.
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Served {
    /// Serves `dir`.
    pub fn start(dir: &Path) -> Served {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the repository server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Served { child, port }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
