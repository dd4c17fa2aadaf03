//! One solve: the request, and BuildKit's status stream read alongside it (progress lines for
//! the user, each vertex's output kept for error messages). Dropping the call cancels the build
//! on the daemon: that is what the run's cancellation (its deadline, Ctrl-C) does.

use super::api::control::control_client::ControlClient;
use super::api::control::{SolveRequest, SolveResponse, StatusRequest, StatusResponse};
use super::api::pb;
use crate::progress::Progress;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use tonic::transport::Channel;

/// The most output kept per vertex (its end).
const LOG_KEEP: usize = 64 * 1024;

/// A solve to run.
pub struct SolveJob {
    /// The graph.
    pub definition: pb::Definition,
    /// The exporter (`moby`, `oci`, `tar`).
    pub exporter: String,
    /// Its attributes.
    pub attributes: BTreeMap<String, String>,
    /// The session that receives the output and answers for credentials.
    pub session: String,
    /// Entitlements asked for (`network.host`).
    pub entitlements: Vec<String>,
}

/// What the status stream told about the vertices.
#[derive(Default)]
pub struct Watched {
    /// Output per vertex digest (its last [`LOG_KEEP`] bytes).
    pub logs: HashMap<String, Vec<u8>>,
    /// Errors per vertex digest.
    pub errors: HashMap<String, String>,
}

/// A solve the daemon ended with an error.
pub struct SolveError {
    /// Its message.
    pub message: String,
    /// What the status stream showed.
    pub watched: Watched,
}

/// Runs a solve to its end.
pub async fn solve(
    client: &ControlClient<Channel>,
    job: SolveJob,
    progress: Progress,
) -> Result<SolveResponse, SolveError> {
    let reference = super::random_id();
    let request = SolveRequest {
        r#ref: reference.clone(),
        definition: Some(job.definition),
        exporter: job.exporter,
        exporter_attrs: job.attributes,
        session: job.session,
        entitlements: job.entitlements,
    };
    let mut solver = client.clone();
    let mut watcher = client.clone();
    let seen = AtomicBool::new(false);
    let status = async {
        let mut watched = Watched::default();
        let request = StatusRequest {
            r#ref: reference.clone(),
        };
        if let Ok(stream) = watcher.status(request).await {
            let mut stream = stream.into_inner();
            let mut reported = HashSet::new();
            while let Ok(Some(batch)) = stream.message().await {
                seen.store(true, Ordering::Relaxed);
                record(&batch, &mut reported, &mut watched, progress);
            }
        }
        watched
    };
    let mut status = std::pin::pin!(status);
    let mut solving = std::pin::pin!(solver.solve(request));
    let mut watched = None;
    let solved = loop {
        tokio::select! {
            solved = &mut solving => break solved,
            done = &mut status, if watched.is_none() => watched = Some(done),
        }
    };
    let watched = match watched {
        Some(watched) => watched,
        // The job ran: its status stream ends with it, its last errors and output included.
        None if solved.is_ok() || seen.load(Ordering::Relaxed) => status.await,
        // Refused before it started (an exporter the daemon lacks): the daemon would keep the
        // status stream open for a job that never comes (three seconds on Docker 20.10).
        None => Watched::default(),
    };
    solved
        .map(tonic::Response::into_inner)
        .map_err(|status| SolveError {
            message: status.message().to_string(),
            watched,
        })
}

/// Takes in one status batch: output, errors, and a line per finished vertex (`reported`: the
/// vertices already shown, since the daemon may send a vertex again).
fn record(
    batch: &StatusResponse,
    reported: &mut HashSet<String>,
    watched: &mut Watched,
    progress: Progress,
) {
    for vertex in &batch.vertexes {
        if !vertex.error.is_empty() {
            watched
                .errors
                .insert(vertex.digest.clone(), vertex.error.clone());
        }
        if let (Some(started), Some(completed)) = (&vertex.started, &vertex.completed) {
            if !reported.insert(vertex.digest.clone()) {
                continue;
            }
            let seconds = (completed.seconds - started.seconds) as f64
                + f64::from(completed.nanos - started.nanos) / 1e9;
            let state = if vertex.cached {
                "cached".to_string()
            } else if vertex.error.is_empty() {
                format!("{seconds:.1}s")
            } else {
                "failed".to_string()
            };
            progress.event(
                json!({"event": "buildkit", "vertex": vertex.name, "cached": vertex.cached,
                       "seconds": seconds, "error": vertex.error}),
                &format!("  buildkit: {} ({state})", vertex.name),
            );
        }
    }
    for log in &batch.logs {
        let kept = watched.logs.entry(log.vertex.clone()).or_default();
        kept.extend_from_slice(&log.msg);
        if kept.len() > LOG_KEEP {
            kept.drain(..kept.len() - LOG_KEEP);
        }
    }
}
