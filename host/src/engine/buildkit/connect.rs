//! Opens a gRPC channel to the daemon: a unix socket, TCP (with TLS when certificates are
//! given), or Docker's `/grpc` endpoint, where an HTTP/1.1 upgrade to h2c turns the API
//! connection into BuildKit's.

use super::address::{Address, TlsFiles};
use anyhow::{Context, bail};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls;
use tonic::transport::{Channel, Endpoint, Uri};

/// A byte stream to the daemon, whatever carries it.
pub trait Connection: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Connection for T {}

/// The most an upgrade answer's headers may take.
const MAX_UPGRADE_HEADERS: usize = 16 * 1024;

/// Connects to the daemon.
pub async fn connect(address: &Address, tls: &TlsFiles) -> anyhow::Result<Channel> {
    if tls.any() && !matches!(address, Address::Tcp { .. }) {
        bail!("--cacert, --cert and --key apply to tcp:// addresses only (--addr {address})");
    }
    let tls = match address {
        Address::Tcp { .. } if tls.any() => Some(Arc::new(tls_config(tls)?)),
        _ => None,
    };
    let target = address.clone();
    let connector = tower::service_fn(move |_: Uri| {
        let target = target.clone();
        let tls = tls.clone();
        async move {
            let stream = open(&target, tls).await?;
            Ok::<_, io::Error>(TokioIo::new(stream))
        }
    });
    Endpoint::from_static("http://buildkitd")
        .connect_with_connector(connector)
        .await
        .with_context(|| {
            format!(
                "cannot reach BuildKit at {address}: check --addr and that the daemon runs \
                 (Docker's built-in BuildKit: --addr docker://SOCKET)"
            )
        })
}

/// Opens the byte stream for one connection.
async fn open(
    address: &Address,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> io::Result<Pin<Box<dyn Connection>>> {
    match address {
        Address::Unix(path) => Ok(Box::pin(tokio::net::UnixStream::connect(path).await?)),
        Address::Docker(path) => Ok(Box::pin(docker_upgrade(path).await?)),
        Address::Tcp { host, port } => {
            let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
            stream.set_nodelay(true)?;
            let Some(config) = tls else {
                return Ok(Box::pin(stream));
            };
            let name = ServerName::try_from(host.clone())
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
            let connector = tokio_rustls::TlsConnector::from(config);
            Ok(Box::pin(connector.connect(name, stream).await?))
        }
    }
}

/// Connects to the Docker API socket and upgrades the connection to h2c on `/grpc`.
pub async fn docker_upgrade(socket: &Path) -> io::Result<tokio::net::UnixStream> {
    let mut stream = tokio::net::UnixStream::connect(socket).await?;
    stream
        .write_all(
            b"POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\
              Content-Length: 0\r\n\r\n",
        )
        .await?;
    // Byte by byte up to the blank line, so nothing after the headers is consumed.
    let mut headers = Vec::new();
    while !headers.ends_with(b"\r\n\r\n") {
        if headers.len() > MAX_UPGRADE_HEADERS {
            return Err(io::Error::other(
                "the upgrade answer's headers are too long",
            ));
        }
        headers.push(stream.read_u8().await?);
    }
    let text = String::from_utf8_lossy(&headers);
    let status = text.lines().next().unwrap_or_default();
    if !status.contains(" 101 ") {
        return Err(io::Error::other(format!(
            "the Docker daemon refused the upgrade to BuildKit's API on /grpc ({status}); \
             Docker 18.09 or later with BuildKit is needed"
        )));
    }
    Ok(stream)
}

/// The TLS client configuration from the given files: the CA bundle (else the system's
/// roots), and the client certificate and key when both are given.
fn tls_config(files: &TlsFiles) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match &files.ca {
        Some(path) => {
            for certificate in certificates(path)? {
                roots
                    .add(certificate)
                    .with_context(|| format!("--cacert {}", path.display()))?;
            }
        }
        None => {
            for certificate in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(certificate);
            }
        }
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let mut config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("--key {}: no PEM private key", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .context("--cert and --key do not make a client identity")?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => bail!("--cert and --key go together: give both, or neither"),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// The PEM certificates of a file.
fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let found: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if found.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(found)
}
