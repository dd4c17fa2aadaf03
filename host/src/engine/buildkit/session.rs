//! The session salve opens with the daemon for a solve. Over `Control.Session` the roles turn:
//! salve serves gRPC and the daemon calls it. salve serves the health check (the daemon ends
//! a session whose check fails), `FileSend` (the exporters' output, written to the file the
//! next solve names) and `Auth` (credentials for the registries the daemon pulls from, looked
//! up as for salve's own pulls).

use super::api::control::BytesMessage as TunnelChunk;
use super::api::control::control_client::ControlClient;
use super::api::filesync::auth_server::{Auth, AuthServer};
use super::api::filesync::file_send_server::{FileSend, FileSendServer};
use super::api::filesync::{BytesMessage, CredentialsRequest, CredentialsResponse};
use super::api::health::health_check_response::ServingStatus;
use super::api::health::health_server::{Health, HealthServer};
use super::api::health::{HealthCheckRequest, HealthCheckResponse};
use crate::transport::credentials;
use anyhow::Context;
use oci_client::secrets::RegistryAuth;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status, Streaming};

/// The size of one chunk of the session's byte stream.
const CHUNK: usize = 32 * 1024;

/// The methods salve serves, announced to the daemon when the session opens.
const METHODS: [&str; 3] = [
    "/grpc.health.v1.Health/Check",
    "/moby.filesync.v1.FileSend/DiffCopy",
    "/moby.filesync.v1.Auth/Credentials",
];

/// An open session.
pub struct Session {
    /// The session's id, named in solve requests.
    pub id: String,
    /// Where the next exporter output goes, and what came of the last one.
    exports: Arc<Mutex<Exports>>,
    /// The tasks carrying the session.
    tasks: Vec<JoinHandle<()>>,
}

/// The exporter outputs the session expects and has received.
#[derive(Default)]
struct Exports {
    /// The file the next output is written to.
    next: Option<PathBuf>,
    /// The bytes written by the last output, or why it failed.
    last: Option<Result<u64, ExportError>>,
}

/// Why an exporter output did not arrive whole.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{step}: {reason}")]
pub struct ExportError {
    /// What was being done: `creating FILE`, `receiving the export`, `writing FILE`.
    pub step: String,
    /// Why it failed.
    pub reason: String,
}

impl Session {
    /// Opens a session with the daemon; `auth_file` is where registry credentials are found.
    pub async fn open(
        client: &mut ControlClient<Channel>,
        auth_file: Option<PathBuf>,
    ) -> anyhow::Result<Session> {
        let id = super::random_id();
        let (ours, theirs) = tokio::io::duplex(4 * CHUNK);
        let (mut from_server, mut to_server) = tokio::io::split(theirs);
        let (sender, receiver) = tokio::sync::mpsc::channel::<TunnelChunk>(16);
        let mut request = Request::new(ReceiverStream::new(receiver));
        let metadata = request.metadata_mut();
        metadata.insert("x-docker-expose-session-uuid", id.parse()?);
        metadata.insert("x-docker-expose-session-name", "salve".parse()?);
        metadata.insert("x-docker-expose-session-sharedkey", id.parse()?);
        for method in METHODS {
            metadata.append("x-docker-expose-session-grpc-method", method.parse()?);
        }
        let outbound = tokio::spawn(async move {
            let mut buffer = vec![0; CHUNK];
            while let Ok(read) = from_server.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                let chunk = TunnelChunk {
                    data: buffer[..read].to_vec(),
                };
                if sender.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        let mut inbound = client
            .session(request)
            .await
            .context("opening a session with the BuildKit daemon")?
            .into_inner();
        let inbound = tokio::spawn(async move {
            while let Ok(Some(chunk)) = inbound.message().await {
                if to_server.write_all(&chunk.data).await.is_err() {
                    break;
                }
            }
            let _ = to_server.shutdown().await;
        });
        let exports = Arc::new(Mutex::new(Exports::default()));
        let receiver = FileReceiver {
            exports: exports.clone(),
        };
        let server = tokio::spawn(async move {
            let connection = futures_util::stream::iter([Ok::<_, std::io::Error>(Tunnel(ours))]);
            let _ = tonic::transport::Server::builder()
                .add_service(HealthServer::new(Alive))
                .add_service(FileSendServer::new(receiver))
                .add_service(AuthServer::new(Credentials { auth_file }))
                .serve_with_incoming(connection)
                .await;
        });
        Ok(Session {
            id,
            exports,
            tasks: vec![outbound, inbound, server],
        })
    }

    /// Names the file the next exporter output is written to.
    pub fn expect_export(&self, file: PathBuf) {
        let mut exports = self.exports.lock().expect("not poisoned");
        exports.next = Some(file);
        exports.last = None;
    }

    /// What came of the last exporter output: its size, or why it failed; `None` if none came.
    pub fn export_result(&self) -> Option<Result<u64, ExportError>> {
        self.exports.lock().expect("not poisoned").last.clone()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The server side of the session's byte stream.
struct Tunnel(DuplexStream);

impl Connected for Tunnel {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut TaskContext<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(context, buffer)
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut TaskContext<'_>,
        buffer: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(context, buffer)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(context)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(context)
    }
}

/// Answers the daemon's health checks.
struct Alive;

#[tonic::async_trait]
impl Health for Alive {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }
}

/// Writes exporter output to the file the solve named.
struct FileReceiver {
    /// Shared with the session.
    exports: Arc<Mutex<Exports>>,
}

/// The (empty) answer stream of `FileSend.DiffCopy`.
type NoMessages = Pin<Box<dyn futures_util::Stream<Item = Result<BytesMessage, Status>> + Send>>;

impl FileReceiver {
    /// Streams the chunks into `file`; returns the bytes written.
    async fn receive(
        file: &std::path::Path,
        mut chunks: Streaming<BytesMessage>,
    ) -> Result<u64, ExportError> {
        let failed = |step: String, reason: String| ExportError { step, reason };
        let writing = |error: std::io::Error| {
            failed(format!("writing {}", file.display()), error.to_string())
        };
        let mut out = tokio::fs::File::create(file)
            .await
            .map_err(|error| failed(format!("creating {}", file.display()), error.to_string()))?;
        let mut written = 0;
        while let Some(chunk) = chunks
            .message()
            .await
            .map_err(|error| failed("receiving the export".into(), error.message().to_string()))?
        {
            out.write_all(&chunk.data).await.map_err(writing)?;
            written += chunk.data.len() as u64;
        }
        out.sync_all().await.map_err(writing)?;
        Ok(written)
    }
}

#[tonic::async_trait]
impl FileSend for FileReceiver {
    type DiffCopyStream = NoMessages;

    async fn diff_copy(
        &self,
        request: Request<Streaming<BytesMessage>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let file = self.exports.lock().expect("not poisoned").next.take();
        let Some(file) = file else {
            return Err(Status::failed_precondition(
                "salve expected no exporter output at this point",
            ));
        };
        let result = Self::receive(&file, request.into_inner()).await;
        let failure = result.as_ref().err().cloned();
        self.exports.lock().expect("not poisoned").last = Some(result);
        match failure {
            Some(error) => Err(Status::internal(error.to_string())),
            None => Ok(Response::new(Box::pin(futures_util::stream::empty()))),
        }
    }
}

/// Looks up registry credentials for the daemon.
struct Credentials {
    /// `--authfile`, if given.
    auth_file: Option<PathBuf>,
}

#[tonic::async_trait]
impl Auth for Credentials {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        let host = request.into_inner().host;
        // BuildKit asks for Docker Hub by its API host.
        let registry = if host == "registry-1.docker.io" {
            "docker.io"
        } else {
            host.as_str()
        };
        let auth = credentials::lookup(registry, self.auth_file.as_deref())
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let (username, secret) = match auth {
            RegistryAuth::Anonymous => (String::new(), String::new()),
            RegistryAuth::Basic(user, password) => (user, password),
            RegistryAuth::Bearer(token) => (String::new(), token),
        };
        Ok(Response::new(CredentialsResponse { username, secret }))
    }
}
