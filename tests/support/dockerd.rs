//! A Docker engine (Debian's `dockerd`) with its own data root and socket, started for one test
//! and stopped by PID when dropped. It runs with no bridge, no iptables rules and no change to
//! IP forwarding, so the host is left as it was.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running daemon.
pub struct Dockerd {
    /// The daemon process.
    child: Child,
    /// Its API socket.
    pub socket: PathBuf,
    /// Its data root, exec root, configuration and log.
    pub dir: tempfile::TempDir,
}

impl Dockerd {
    /// Starts the daemon and waits until its API answers.
    pub fn start() -> Dockerd {
        let dir = tempfile::Builder::new()
            .prefix("salve-dockerd")
            .tempdir()
            .unwrap();
        let root = dir.path();
        let socket = root.join("docker.sock");
        std::fs::write(root.join("daemon.json"), "{}").unwrap();
        let log = std::fs::File::create(root.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("dockerd.pid"))
            .arg("--config-file")
            .arg(root.join("daemon.json"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--iptables=false", "--ip-forward=false", "--bridge=none"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd is installed (cargo xtask test installs docker.io) and we are root");
        let daemon = Dockerd { child, socket, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answered = Command::new("docker")
                .env("DOCKER_HOST", daemon.host())
                .args(["version", "--format", "{{.Server.Version}}"])
                .output()
                .is_ok_and(|output| output.status.success());
            if answered {
                return daemon;
            }
            let log =
                std::fs::read_to_string(daemon.dir.path().join("dockerd.log")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "dockerd did not start; its log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `unix://…`, the value for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM lets dockerd stop its containerd and unmount what it mounted.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
