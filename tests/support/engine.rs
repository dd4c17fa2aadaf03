//! The engine a patch test runs on: the local engine, or BuildKit inside a Docker engine that
//! the test starts (Debian's `dockerd`, its own data root and socket, steps on its host
//! network since it runs without a bridge).

use super::dockerd::Dockerd;

/// Where `salve patch` runs its plans in a test.
pub enum Engine {
    /// This machine.
    Local,
    /// Docker's built-in BuildKit, reached with `--addr docker://SOCKET`.
    Buildkit(Dockerd),
}

impl Engine {
    /// BuildKit in a freshly started Docker engine.
    pub fn buildkit() -> Engine {
        Engine::Buildkit(Dockerd::start())
    }

    /// The arguments of a salve command with this engine's options after `patch`.
    pub fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        if let (Engine::Buildkit(daemon), Some("patch")) = (self, args.first().copied()) {
            let options = [
                "--addr".to_string(),
                format!("docker://{}", daemon.socket.display()),
                "--buildkit-host-network".to_string(),
            ];
            all.splice(1..1, options);
        }
        all
    }
}
