//! The engine a patch test runs on: the local engine, or BuildKit inside a Docker engine that
//! the test starts (its own data root and socket; steps on its host network since it runs
//! without a bridge): Docker's own BuildKit through `docker://`, or a newer Docker's BuildKit
//! offered as buildkitd offers itself, on a unix socket or on TCP with TLS; or no engine at
//! all, the native one.

use super::dockerd::{Dockerd, Flavor};
use super::grpc_proxy::{Certificates, GrpcProxy};

/// Where `salve patch` runs its plans in a test.
pub enum Engine {
    /// This machine.
    Local,
    /// A BuildKit daemon.
    Buildkit(Box<Daemon>),
    /// No engine running anything: `--engine native`.
    Native,
}

/// A BuildKit daemon started for a test, and how salve reaches it.
pub struct Daemon {
    /// The Docker engine whose BuildKit it is.
    pub docker: Dockerd,
    /// The options that reach it (`--addr …`, TLS files).
    pub options: Vec<String>,
    /// The proxy offering it on a unix socket or TCP, if any.
    pub proxy: Option<GrpcProxy>,
    /// The TLS certificates, if any.
    pub certificates: Option<Certificates>,
}

impl Engine {
    /// Docker 20.10's BuildKit (BuildKit 0.8), reached with `--addr docker://SOCKET`.
    pub fn buildkit() -> Engine {
        let daemon = Dockerd::start();
        let options = vec![
            "--addr".to_string(),
            format!("docker://{}", daemon.socket.display()),
        ];
        Engine::Buildkit(Box::new(Daemon {
            docker: daemon,
            options,
            proxy: None,
            certificates: None,
        }))
    }

    /// A newer Docker's BuildKit on a unix socket (`--addr unix://…`, the `oci` exporter).
    pub fn newer_buildkit_on_unix_socket() -> Engine {
        let daemon = Dockerd::start_flavor(Flavor::Newer);
        let proxy = GrpcProxy::unix(&daemon.socket, daemon.dir.path());
        Engine::Buildkit(Box::new(Daemon {
            options: vec!["--addr".to_string(), proxy.address.clone()],
            docker: daemon,
            proxy: Some(proxy),
            certificates: None,
        }))
    }

    /// A newer Docker's BuildKit on TCP with TLS and a client certificate.
    pub fn newer_buildkit_over_tls() -> Engine {
        let daemon = Dockerd::start_flavor(Flavor::Newer);
        let certificates = Certificates::new();
        let proxy = GrpcProxy::tls(&daemon.socket, &certificates);
        let file = |name: &str| certificates.file(name).to_str().unwrap().to_string();
        let options = vec![
            "--addr".to_string(),
            proxy.address.clone(),
            "--cacert".to_string(),
            file("ca.crt"),
            "--cert".to_string(),
            file("client.crt"),
            "--key".to_string(),
            file("client.key"),
        ];
        Engine::Buildkit(Box::new(Daemon {
            docker: daemon,
            options,
            proxy: Some(proxy),
            certificates: Some(certificates),
        }))
    }

    /// The arguments of a salve command with this engine's options after `patch`.
    pub fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        if let (Engine::Buildkit(daemon), Some("patch")) = (self, args.first().copied()) {
            let mut inserted = daemon.options.clone();
            inserted.push("--buildkit-host-network".to_string());
            all.splice(1..1, inserted);
        }
        if let (Engine::Native, Some("patch")) = (self, args.first().copied()) {
            all.splice(1..1, ["--engine".to_string(), "native".to_string()]);
        }
        all
    }

    /// As `args`, for a plan whose steps reach a server on this machine's loopback (a test's
    /// package repository): the local engine shares the host's network with `--network host`,
    /// as its sandboxed network keeps loopback services out of reach.
    pub fn host_network_args(&self, args: &[&str]) -> Vec<String> {
        let mut all = self.args(args);
        if let (Engine::Local, Some("patch")) = (self, args.first().copied()) {
            all.splice(1..1, ["--network".to_string(), "host".to_string()]);
        }
        all
    }
}
