//! A real registry (Debian's `docker-registry`) on a free loopback port, stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry.
pub struct Registry {
    /// The registry process.
    child: Child,
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// Its storage and configuration.
    dir: tempfile::TempDir,
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    /// Starts an open registry.
    pub fn start() -> Registry {
        Registry::start_in(tempfile::tempdir().unwrap(), "")
    }

    /// Starts a registry that only lets `user` with `password` in (htpasswd, bcrypt).
    pub fn with_password(user: &str, password: &str) -> Registry {
        let hash = super::run(
            "python3",
            &[
                "-W",
                "ignore",
                "-c",
                "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
                password,
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, format!("{user}:{}\n", hash.trim())).unwrap();
        let extra = format!(
            "auth:\n  htpasswd:\n    realm: salve-test\n    path: {}\n",
            htpasswd.display()
        );
        Registry::start_in(dir, &extra)
    }

    /// Starts a registry keeping its files in `dir`, with extra configuration lines.
    fn start_in(dir: tempfile::TempDir, extra: &str) -> Registry {
        let address = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {address}\n{extra}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed (cargo xtask test installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&address).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry did not start on {address}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            address,
            dir,
        }
    }
}

impl Registry {
    /// The folder the registry stores its repositories and blobs in.
    pub fn storage(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
