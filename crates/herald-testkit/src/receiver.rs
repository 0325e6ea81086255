//! A real HTTP server on 127.0.0.1 (axum on hyper) that records every
//! request and answers according to its current [`Behavior`].
//!
//! The accept loop is our own (not `axum::serve`) so that one connection
//! can be dropped on purpose: [`Behavior::Close`] reads the request, then
//! the connection's task drops the socket without writing anything, which
//! reliably gives the client a connection error. Dropping the `Receiver`
//! stops the server and every connection it still holds (hung ones too).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

use crate::behavior::{Action, Behavior, Reply};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Lower-case names, in arrival order (repeated headers repeated).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub received_at: Instant,
}

impl Captured {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (any case).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The query string decoded into pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        match &self.query {
            Some(q) => url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect(),
            None => Vec::new(),
        }
    }

    /// The first decoded value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The body as (lossy) UTF-8.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("request body is not JSON ({e}): {}", self.body_text()))
    }

    fn summary(&self) -> String {
        let q = self
            .query
            .as_deref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!(
            "{} {}{} ({} body bytes)",
            self.method,
            self.path,
            q,
            self.body.len()
        )
    }
}

struct Shared {
    requests: Mutex<Vec<Captured>>,
    behavior: Mutex<Behavior>,
    /// Bumped after each recorded request; wakes `wait_for`.
    arrived: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A loopback HTTP receiver for tests. See the module doc.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    /// Bind 127.0.0.1 on a free port and serve, answering `200` by default.
    pub async fn start() -> Self {
        Self::start_with(Behavior::default()).await
    }

    /// [`Receiver::start`] with a first behaviour.
    pub async fn start_with(behavior: Behavior) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the test receiver on 127.0.0.1:0");
        let addr = listener.local_addr().expect("the test receiver's address");
        let (arrived, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            behavior: Mutex::new(behavior),
            arrived,
        });
        let server = tokio::spawn(accept_loop(listener, shared.clone()));
        Receiver {
            addr,
            shared,
            server,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `http://127.0.0.1:<port><path>` (a missing leading `/` is added;
    /// `path` may carry a query string).
    pub fn url_for(&self, path: &str) -> String {
        let sep = if path.starts_with('/') { "" } else { "/" };
        format!("http://{}{sep}{path}", self.addr)
    }

    /// Answer the following requests this way.
    pub fn respond(&self, behavior: Behavior) {
        *lock(&self.shared.behavior) = behavior;
    }

    /// Every request recorded so far (since the last [`Receiver::clear`]).
    pub fn requests(&self) -> Vec<Captured> {
        lock(&self.shared.requests).clone()
    }

    /// Forget the recorded requests (the behaviour is kept).
    pub fn clear(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Wait until at least `n` requests are recorded and return them all;
    /// wakes on each arrival (no polling sleep). Panics, listing what did
    /// arrive, if `within` passes first.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Captured> {
        let deadline = tokio::time::Instant::now() + within;
        let mut rx = self.shared.arrived.subscribe();
        loop {
            rx.borrow_and_update();
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => {
                    let got = self.requests();
                    if got.len() >= n {
                        return got;
                    }
                    let mut msg = format!(
                        "test receiver at {}: expected at least {n} request(s) within {within:?}, got {}",
                        self.addr,
                        got.len()
                    );
                    if !got.is_empty() {
                        msg.push(':');
                    }
                    for (i, c) in got.iter().enumerate() {
                        let _ = write!(msg, "\n  #{}: {}", i + 1, c.summary());
                    }
                    panic!("{msg}");
                }
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Dropping the JoinSet (when this task is aborted) aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

#[derive(Clone)]
struct ConnState {
    shared: Arc<Shared>,
    /// Notified by [`Behavior::Close`]: drop this connection unanswered.
    kill: Arc<Notify>,
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let kill = Arc::new(Notify::new());
    let router = Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::disable())
        .with_state(ConnState {
            shared,
            kill: kill.clone(),
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {} // the connection (and its socket) is dropped here
    }
}

async fn handle(
    State(st): State<ConnState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let captured = Captured {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        received_at: Instant::now(),
    };
    let action = lock(&st.shared.behavior).next_action(uri.query());
    lock(&st.shared.requests).push(captured);
    st.shared.arrived.send_modify(|n| *n += 1);
    match action {
        Action::Reply(r) => to_response(r),
        Action::Delay(d, r) => {
            tokio::time::sleep(d).await;
            to_response(r)
        }
        Action::Hang => std::future::pending().await,
        Action::Close => {
            st.kill.notify_one();
            std::future::pending().await
        }
    }
}

fn to_response(reply: Reply) -> Response {
    let mut res = Response::new(axum::body::Body::from(reply.body));
    *res.status_mut() = StatusCode::from_u16(reply.status)
        .unwrap_or_else(|_| panic!("test receiver: {} is not an HTTP status", reply.status));
    for (k, v) in reply.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .unwrap_or_else(|_| panic!("test receiver: bad header name {k:?}"));
        let value = HeaderValue::from_str(&v)
            .unwrap_or_else(|_| panic!("test receiver: bad header value {v:?}"));
        res.headers_mut().append(name, value);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn raw_post(addr: SocketAddr, target: &str, body: &str) -> String {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "POST {target} HTTP/1.1\r\nHost: {addr}\r\nX-Test: One\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out
    }

    #[tokio::test]
    async fn records_and_answers() {
        let rx = Receiver::start_with(Behavior::status_with_body(201, "made")).await;
        let answer = raw_post(rx.addr(), "/p/q?a=1&b=x%20y", "hello").await;
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
        assert!(answer.ends_with("made"), "{answer}");
        let got = rx.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(got[0].method, "POST");
        assert_eq!(got[0].path, "/p/q");
        assert_eq!(got[0].query.as_deref(), Some("a=1&b=x%20y"));
        assert_eq!(got[0].query_param("b").as_deref(), Some("x y"));
        assert_eq!(got[0].header("X-TEST"), Some("One"));
        assert_eq!(got[0].body_text(), "hello");
        rx.clear();
        assert!(rx.requests().is_empty());
    }

    #[tokio::test]
    async fn close_answers_nothing() {
        let rx = Receiver::start_with(Behavior::Close).await;
        let answer = raw_post(rx.addr(), "/", "x").await;
        assert_eq!(answer, "");
        assert_eq!(rx.wait_for(1, Duration::from_secs(5)).await.len(), 1);
    }

    #[tokio::test]
    #[should_panic(
        expected = "expected at least 2 request(s) within 50ms, got 1:\n  #1: POST /only (1 body bytes)"
    )]
    async fn wait_for_lists_what_arrived() {
        let rx = Receiver::start().await;
        raw_post(rx.addr(), "/only", "x").await;
        rx.wait_for(2, Duration::from_millis(50)).await;
    }
}
