//! A caching mirror of package repositories on loopback, as an air-gapped site runs one: a GET
//! of `/NAME/REST` answers what `UPSTREAM/REST` of the route `NAME` answers, fetched from the
//! upstream once. It records every path asked for, so a test can tell what came through it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// An answer: the status and the body.
type Answer = (u16, Vec<u8>);

/// What the serving threads share.
struct State {
    /// Route name to upstream URL (without a trailing `/`).
    routes: HashMap<String, String>,
    /// Answers by path.
    cache: Mutex<HashMap<String, Answer>>,
    /// Every path asked for, in order.
    asked: Mutex<Vec<String>>,
    /// The client for the upstreams.
    client: reqwest::Client,
    /// Runs the client.
    runtime: tokio::runtime::Runtime,
}

/// A running mirror (it serves until the test process ends).
pub struct Mirror {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Shared with the serving threads.
    state: Arc<State>,
}

impl Mirror {
    /// Starts a mirror of `routes` (`(NAME, UPSTREAM URL)`).
    pub fn start(routes: &[(&str, &str)]) -> Mirror {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            routes: routes
                .iter()
                .map(|(name, upstream)| {
                    (name.to_string(), upstream.trim_end_matches('/').to_string())
                })
                .collect(),
            cache: Mutex::new(HashMap::new()),
            asked: Mutex::new(Vec::new()),
            client: reqwest::Client::new(),
            runtime: tokio::runtime::Runtime::new().unwrap(),
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(client, &state);
                });
            }
        });
        Mirror { url, state }
    }

    /// The mirror's URL for route `name`.
    pub fn route(&self, name: &str) -> String {
        format!("{}/{name}", self.url)
    }

    /// Every path asked for so far.
    pub fn asked(&self) -> Vec<String> {
        self.state.asked.lock().unwrap().clone()
    }
}

/// Serves one connection's requests, one at a time, closing after an answer (a client that
/// sent several re-sends the rest on a new connection).
fn serve(client: TcpStream, state: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    state.asked.lock().unwrap().push(path.to_string());
    let (status, body) = match method {
        "GET" | "HEAD" => answer(state, path),
        _ => (405, Vec::new()),
    };
    let mut out = client;
    write!(
        out,
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Not OK" },
        body.len()
    )?;
    if method == "GET" {
        out.write_all(&body)?;
    }
    out.flush()
}

/// The answer for `path`: from the cache, else from the route's upstream.
fn answer(state: &State, path: &str) -> Answer {
    if let Some(cached) = state.cache.lock().unwrap().get(path) {
        return cached.clone();
    }
    let trimmed = path.trim_start_matches('/');
    let (name, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let Some(upstream) = state.routes.get(name) else {
        return (404, Vec::new());
    };
    let url = format!("{upstream}/{rest}");
    let fetched = state.runtime.block_on(async {
        let response = state.client.get(&url).send().await?;
        let status = response.status().as_u16();
        Ok::<_, reqwest::Error>((status, response.bytes().await?.to_vec()))
    });
    let answer = fetched.unwrap_or((502, Vec::new()));
    if answer.0 == 200 {
        state
            .cache
            .lock()
            .unwrap()
            .insert(path.to_string(), answer.clone());
    }
    answer
}
