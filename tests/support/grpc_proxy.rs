//! Docker's BuildKit offered the way buildkitd offers itself, for tests of `--addr unix://` and
//! `--addr tcp://` with TLS: a listener (a unix socket, or TCP on loopback behind TLS that
//! requires a client certificate) whose every connection is upgraded to BuildKit's API on the
//! Docker engine's `/grpc` endpoint and then carried byte for byte. The certificates are made
//! by `openssl` for the test.

use salve::engine::buildkit::connect::docker_upgrade;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls;

/// A running proxy; stops when dropped.
pub struct GrpcProxy {
    /// The `--addr` value that reaches it.
    pub address: String,
    /// Its runtime (dropping it stops the proxy).
    _runtime: tokio::runtime::Runtime,
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in PEM files.
pub struct Certificates {
    /// The folder holding them.
    pub dir: tempfile::TempDir,
}

impl Certificates {
    /// Makes them with openssl.
    pub fn new() -> Certificates {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
        let key = |name: &str| {
            super::run(
                "openssl",
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    &at(name),
                ],
            );
        };
        key("ca.key");
        super::run(
            "openssl",
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                &at("ca.key"),
                "-out",
                &at("ca.crt"),
                "-days",
                "2",
                "-subj",
                "/CN=salve test CA",
            ],
        );
        for (name, extensions) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            key(&format!("{name}.key"));
            std::fs::write(at(&format!("{name}.ext")), extensions).unwrap();
            super::run(
                "openssl",
                &[
                    "req",
                    "-new",
                    "-key",
                    &at(&format!("{name}.key")),
                    "-out",
                    &at(&format!("{name}.csr")),
                    "-subj",
                    &format!("/CN=salve test {name}"),
                ],
            );
            super::run(
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &at(&format!("{name}.csr")),
                    "-CA",
                    &at("ca.crt"),
                    "-CAkey",
                    &at("ca.key"),
                    "-CAcreateserial",
                    "-out",
                    &at(&format!("{name}.crt")),
                    "-days",
                    "2",
                    "-extfile",
                    &at(&format!("{name}.ext")),
                ],
            );
        }
        Certificates { dir }
    }

    /// The path of one of the files (`ca.crt`, `client.crt`, `client.key`, …).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl GrpcProxy {
    /// A unix socket in `dir` leading to the Docker engine at `docker`.
    pub fn unix(docker: &Path, dir: &Path) -> GrpcProxy {
        let runtime = runtime();
        let socket = dir.join("buildkitd.sock");
        let listener = runtime
            .block_on(async { tokio::net::UnixListener::bind(&socket) })
            .unwrap();
        let docker = docker.to_path_buf();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(carry(client, docker.clone()));
            }
        });
        GrpcProxy {
            address: format!("unix://{}", socket.display()),
            _runtime: runtime,
        }
    }

    /// TLS on a loopback TCP port, requiring a client certificate signed by the test CA,
    /// leading to the Docker engine at `docker`.
    pub fn tls(docker: &Path, certificates: &Certificates) -> GrpcProxy {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let runtime = runtime();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(certificates.file("ca.crt")).unwrap())
            .unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let mut config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from_pem_file(certificates.file("server.crt")).unwrap()],
                PrivateKeyDer::from_pem_file(certificates.file("server.key")).unwrap(),
            )
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let docker = docker.to_path_buf();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let docker = docker.clone();
                tokio::spawn(async move {
                    if let Ok(client) = acceptor.accept(client).await {
                        carry(client, docker).await;
                    }
                });
            }
        });
        GrpcProxy {
            address: format!("tcp://127.0.0.1:{port}"),
            _runtime: runtime,
        }
    }
}

/// A runtime of its own, so the proxy serves while the test waits on salve.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Upgrades a connection to the Docker engine to BuildKit's API (as salve's `docker://` does)
/// and carries bytes both ways.
async fn carry<S>(mut client: S, docker: PathBuf)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Ok(mut upstream) = docker_upgrade(&docker).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}
