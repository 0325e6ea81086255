//! The load generator: what drives herald during a scenario. Over HTTP,
//! [`drive`] runs N requests over C keep-alive HTTP/1.1 connections (one
//! client each, optionally paced) and keeps each request's send and answer
//! times; [`Api`] is how those clients talk to one herald (auth, Web API
//! paths, registering a webhook step the way the Plug-in Registration
//! tool does). In-process, [`pipeline_creates`] runs N creates straight
//! through the write pipeline, to build backlogs before the workers exist.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use herald_server::pipeline::{self, Operation};
use herald_server::state::SharedState;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};

use super::receiver::seq_mark;
use super::stats::{now_ns, Sample};
use crate::cli::progress::ProgressHandle;

/// One keep-alive HTTP/1.1 connection; dropping it closes it.
pub struct HttpConn {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    conn: JoinHandle<()>,
}

impl Drop for HttpConn {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl HttpConn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<HttpConn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(HttpConn { send, conn })
    }

    pub async fn send(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
        self.send.ready().await?;
        let resp = self.send.send_request(req).await?;
        let status = resp.status();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok((status, parts.headers, body))
    }
}

/// How the load generator talks to one herald.
#[derive(Clone)]
pub struct Api {
    host: HeaderValue,
    auth: HeaderValue,
}

const API: &str = "/api/data/v9.2/";

impl Api {
    pub fn new(addr: SocketAddr, key: &str) -> anyhow::Result<Api> {
        Ok(Api {
            host: HeaderValue::from_str(&addr.to_string())?,
            auth: HeaderValue::from_str(&format!("Bearer {key}"))?,
        })
    }

    /// A request to `path`: relative to the Web API, or absolute (`/api/v2.0/…`).
    pub fn request(&self, method: Method, path: &str, body: Option<Bytes>) -> Request<Full<Bytes>> {
        let uri = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{API}{path}")
        };
        let mut b = Request::builder().method(method).uri(uri);
        let h = b.headers_mut().expect("request builder");
        h.insert(HOST, self.host.clone());
        h.insert(AUTHORIZATION, self.auth.clone());
        if body.is_some() {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        b.body(Full::new(body.unwrap_or_default()))
            .expect("valid request")
    }

    /// One call; fails unless the answer is 2xx. Returns the headers and the JSON body (Null when empty).
    pub async fn call(
        &self,
        conn: &mut HttpConn,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(HeaderMap, Value)> {
        let req = self.request(
            method.clone(),
            path,
            body.map(|b| Bytes::from(b.to_string())),
        );
        let (status, headers, body) = conn.send(req).await?;
        if !status.is_success() {
            bail!(
                "{method} {path}: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)?
        };
        Ok((headers, json))
    }

    /// Create a row; returns its id (from OData-EntityId).
    pub async fn create(
        &self,
        conn: &mut HttpConn,
        set: &str,
        body: &Value,
    ) -> anyhow::Result<String> {
        let (headers, _) = self.call(conn, Method::POST, set, Some(body)).await?;
        let entity = headers
            .get("odata-entityid")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("no OData-EntityId creating {set}"))?;
        Ok(entity
            .rsplit('(')
            .next()
            .unwrap_or("")
            .trim_end_matches(')')
            .to_string())
    }

    /// `column` of the first row that the list `path` answers; `missing`
    /// says what was not found when there is none.
    async fn first_id(
        &self,
        conn: &mut HttpConn,
        path: &str,
        column: &str,
        missing: impl FnOnce() -> String,
    ) -> anyhow::Result<String> {
        let (_, list) = self.call(conn, Method::GET, path, None).await?;
        list["value"][0][column]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!(missing()))
    }

    /// Register a webhook to `url` and one step on it, as the Plug-in Registration tool does.
    pub async fn register_step(
        &self,
        conn: &mut HttpConn,
        url: &str,
        message: &str,
        table: &str,
        mode: i64,
    ) -> anyhow::Result<String> {
        let hook = self
            .create(
                conn,
                "serviceendpoints",
                &json!({"name": format!("bench-{}", uuid::Uuid::new_v4().simple()), "url": url, "contract": 8, "authtype": 5,
                        "authvalue": r#"<settings><setting name="X-Bench" value="1" /></settings>"#}),
            )
            .await?;
        let mid = self
            .first_id(
                conn,
                &format!("sdkmessages?$select=name&$filter=name%20eq%20'{message}'"),
                "sdkmessageid",
                || format!("no sdkmessage {message}"),
            )
            .await?;
        let fid = self
            .first_id(
                conn,
                &format!("sdkmessagefilters?$select=primaryobjecttypecode&$filter=_sdkmessageid_value%20eq%20{mid}%20and%20primaryobjecttypecode%20eq%20'{table}'"),
                "sdkmessagefilterid",
                || format!("no sdkmessagefilter {message}/{table}"),
            )
            .await?;
        self.create(
            conn,
            "sdkmessageprocessingsteps",
            &json!({
                "name": format!("bench {message} of {table}"),
                "sdkmessageid@odata.bind": format!("/sdkmessages({mid})"),
                "sdkmessagefilterid@odata.bind": format!("/sdkmessagefilters({fid})"),
                "eventhandler_serviceendpoint@odata.bind": format!("/serviceendpoints({hook})"),
                "stage": 40,
                "mode": mode,
            }),
        )
        .await
    }

    /// Request `i` creates a contact that carries [`seq_mark`]`(i)`.
    pub fn contact_creates(&self) -> MakeRequest {
        let api = self.clone();
        Arc::new(move |i| api.request(Method::POST, "contacts", Some(contact_body(i))))
    }
}

/// The `i`th request of a [`drive`] run.
pub type MakeRequest = Arc<dyn Fn(usize) -> Request<Full<Bytes>> + Send + Sync>;

fn contact_body(seq: usize) -> Bytes {
    Bytes::from(format!(
        r#"{{"firstname":"Bench","lastname":"{}","emailaddress1":"bench{seq}@example.com"}}"#,
        seq_mark(seq)
    ))
}

/// Run `n` requests over `conns` keep-alive connections (each connection one
/// client issuing its requests one after another), optionally paced at
/// `rate` per second overall. Fails on the first non-2xx answer.
pub async fn drive(
    addr: SocketAddr,
    conns: usize,
    n: usize,
    rate: Option<f64>,
    progress: &ProgressHandle,
    make: MakeRequest,
) -> anyhow::Result<Vec<Sample>> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(5);
    let mut tasks = JoinSet::new();
    for _ in 0..conns.max(1).min(n.max(1)) {
        let (next, make, p) = (next.clone(), make.clone(), progress.counter());
        let mut conn = HttpConn::open(addr).await?;
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                if let Some(r) = rate {
                    tokio::time::sleep_until(
                        (start + Duration::from_secs_f64(i as f64 / r)).into(),
                    )
                    .await;
                }
                let req = make(i);
                let what = format!("{} {}", req.method(), req.uri());
                let sent = now_ns();
                let (status, _, body) = conn.send(req).await?;
                let done = now_ns();
                if !status.is_success() {
                    bail!("{what}: {status}: {}", String::from_utf8_lossy(&body));
                }
                out.push((i, Sample { sent, done }));
                p.tick();
            }
            Ok::<_, anyhow::Error>(out)
        });
    }
    let mut samples = vec![Sample::default(); n];
    while let Some(r) = tasks.join_next().await {
        for (i, s) in r?? {
            samples[i] = s;
        }
    }
    Ok(samples)
}

/// `n` creates through the write pipeline, in-process (the path every HTTP
/// write takes), on `c` concurrent tasks: the `i`th is `make(i)`, shown as
/// the progress phase `label`; a failure is reported as `"{what} {i}: …"`.
/// Returns the time stamps of the start and the end.
pub async fn pipeline_creates(
    state: &SharedState,
    n: usize,
    c: usize,
    label: &str,
    what: &'static str,
    make: impl Fn(usize) -> Operation + Send + Sync + 'static,
) -> anyhow::Result<(u64, u64)> {
    let progress = ProgressHandle::start(label, n as u64);
    let started = now_ns();
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..c.max(1) {
        let (state, next, make, pp) = (
            state.clone(),
            next.clone(),
            make.clone(),
            progress.counter(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                pipeline::execute(&state, make(i))
                    .await
                    .map_err(|e| anyhow!("{what} {i}: {e}"))?;
                pp.tick();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let ended = now_ns();
    progress.finish();
    Ok((started, ended))
}
