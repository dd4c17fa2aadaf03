//! Where the BuildKit daemon is: `--addr` parsed, with the TLS files for `tcp://`.

use std::path::PathBuf;

/// Docker's default socket.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// A BuildKit daemon's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// `unix://PATH`: buildkitd's own socket.
    Unix(PathBuf),
    /// `tcp://HOST:PORT`, with TLS when certificates are given.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// `docker://[PATH]`: Docker's built-in BuildKit behind the daemon's `/grpc` endpoint.
    Docker(PathBuf),
}

/// The TLS files for a `tcp://` daemon (`--cacert`, `--cert`, `--key`).
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    /// The CA bundle that signed the daemon's certificate.
    pub ca: Option<PathBuf>,
    /// salve's client certificate.
    pub cert: Option<PathBuf>,
    /// Its private key.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// True when any TLS file was given.
    pub fn any(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }
}

/// Why a text is not a BuildKit address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--addr {text}: {problem}; expected unix:///PATH, tcp://HOST:PORT or docker://[PATH]")]
pub struct AddressError {
    /// The text.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Address {
    /// Parses `unix://PATH`, `tcp://HOST:PORT`, `docker://` or `docker://PATH`.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let error = |problem: String| AddressError {
            text: text.to_string(),
            problem,
        };
        if let Some(path) = text.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(error("no socket path".into()));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        if let Some(path) = text.strip_prefix("docker://") {
            let path = if path.is_empty() { DOCKER_SOCKET } else { path };
            return Ok(Address::Docker(PathBuf::from(path)));
        }
        if let Some(rest) = text.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| error("no port".into()))?;
            let port = port
                .parse()
                .map_err(|_| error(format!("{port:?} is not a port")))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(error("no host".into()));
            }
            return Ok(Address::Tcp {
                host: host.to_string(),
                port,
            });
        }
        Err(error("unknown address".into()))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix://{}", path.display()),
            Address::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Address::Docker(path) => write!(f, "docker://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            Address::parse("unix:///run/buildkit/buildkitd.sock"),
            Ok(Address::Unix("/run/buildkit/buildkitd.sock".into()))
        );
        assert_eq!(
            Address::parse("docker://"),
            Ok(Address::Docker(DOCKER_SOCKET.into()))
        );
        assert_eq!(
            Address::parse("docker:///tmp/d.sock"),
            Ok(Address::Docker("/tmp/d.sock".into()))
        );
        assert_eq!(
            Address::parse("tcp://builder:1234"),
            Ok(Address::Tcp {
                host: "builder".into(),
                port: 1234
            })
        );
        assert_eq!(
            Address::parse("tcp://[::1]:1234").unwrap().to_string(),
            "tcp://[::1]:1234"
        );
    }

    #[test]
    fn bad_addresses_say_what_is_expected() {
        for bad in [
            "unix://",
            "tcp://builder",
            "tcp://:1",
            "tcp://h:port",
            "http://x",
        ] {
            let error = Address::parse(bad).unwrap_err();
            assert!(
                error.to_string().contains("expected unix://"),
                "{bad}: {error}"
            );
        }
    }
}
