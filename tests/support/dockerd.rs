//! A Docker engine with its own data root and socket, started for one test and stopped by PID
//! when dropped: Debian bookworm's `dockerd` (Docker 20.10, BuildKit 0.8), or a newer one
//! unpacked by `fixtures/dockerd/newer-dockerd.sh` (Debian trixie's Docker 26, with its
//! containerd image store, whose BuildKit has the `oci` exporter). It runs with no bridge, no
//! iptables rules and no change to IP forwarding, so the host is left as it was.

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

/// Which Docker engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// The machine's (Debian bookworm's docker.io).
    Installed,
    /// Debian trixie's, unpacked beside the machine's, with the containerd image store.
    Newer,
}

impl Dockerd {
    /// Starts the machine's daemon and waits until its API answers.
    pub fn start() -> Dockerd {
        Dockerd::start_flavor(Flavor::Installed)
    }

    /// Starts a daemon of the given flavor and waits until its API answers.
    pub fn start_flavor(flavor: Flavor) -> Dockerd {
        let dir = tempfile::Builder::new()
            .prefix("salve-dockerd")
            .tempdir()
            .unwrap();
        let root = dir.path();
        let socket = root.join("docker.sock");
        let log = std::fs::File::create(root.join("dockerd.log")).unwrap();
        let mut command = match flavor {
            Flavor::Installed => {
                std::fs::write(root.join("daemon.json"), "{}").unwrap();
                Command::new("dockerd")
            }
            Flavor::Newer => {
                let unpacked = PathBuf::from(super::patching::fixture_script(
                    "fixtures/dockerd/newer-dockerd.sh",
                    &[],
                ));
                std::fs::write(
                    root.join("daemon.json"),
                    r#"{"features": {"containerd-snapshotter": true}}"#,
                )
                .unwrap();
                let path = format!(
                    "{}:{}:{}",
                    unpacked.join("usr/bin").display(),
                    unpacked.join("usr/sbin").display(),
                    std::env::var("PATH").unwrap_or_default()
                );
                let mut command = Command::new(unpacked.join("usr/sbin/dockerd"));
                command.env("PATH", path);
                command
            }
        };
        let child = command
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

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The names (`comm`) of the processes the daemon started, directly or not: containerd,
    /// its shims, and what builds run.
    pub fn descendants(&self) -> Vec<String> {
        let mut parents: Vec<(u32, u32, String)> = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid …; comm may hold spaces and parentheses.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = stat[open + 1..close].to_string();
            let ppid = stat[close + 2..]
                .split(' ')
                .nth(1)
                .and_then(|field| field.parse().ok())
                .unwrap_or(0);
            parents.push((pid, ppid, comm));
        }
        let mut found = vec![self.pid()];
        let mut names = Vec::new();
        let mut grew = true;
        while grew {
            grew = false;
            for (pid, ppid, comm) in &parents {
                if found.contains(ppid) && !found.contains(pid) {
                    found.push(*pid);
                    names.push(comm.clone());
                    grew = true;
                }
            }
        }
        names
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
