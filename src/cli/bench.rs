//! `herald bench`: throughput and latency of herald on this machine, all
//! in-process on loopback — a herald server (SQLite in a temp dir, or a
//! fresh PostgreSQL database), a minimal receiver (hyper, answers 200 at
//! once, timestamps every request) and a load generator (hyper, one
//! keep-alive HTTP/1.1 connection per concurrent client).
//!
//! Scenarios (each on a fresh server and database):
//!
//! - `ceiling`: the raw HTTP ceiling — the receiver taking 5 KB POSTs over
//!   16 keep-alive connections for a few seconds. Every other throughput
//!   is also given as a fraction of this figure, measured in the same run.
//! - `create`: `POST /contacts` throughput and latency with C clients.
//! - `sync-step`: sequential updates of one record (one client), in
//!   alternating blocks with one synchronous PostOperation step to the
//!   receiver disabled and enabled (so machine noise hits both sides
//!   alike); the difference of the percentiles is what the step adds.
//! - `async`: N creates with one asynchronous step to the receiver:
//!   writes/s, deliveries/s, and commit → receiver latency. Each record
//!   carries its sequence number (`lastname = "benchseq-<i>-"`); the
//!   receiver finds it in the delivered context and stamps the arrival, the
//!   client stamps the commit when the 204 comes back. `--rate` paces the
//!   writes (open loop).
//! - `drain`: a backlog of N ready System Jobs, delivered as fast as the
//!   workers go. The backlog is built before the workers exist: the server
//!   is started (`server::start`) but not yet served, the webhook and step
//!   are registered over HTTP through a temporary listener that serves the
//!   API router only (no workers), and the N creates run through the write
//!   pipeline in-process (`pipeline::execute`, the path every HTTP write
//!   takes). Then `Running::serve` starts the workers and the clock.
//! - `bc`: Business Central notifications/s — N changed records over 100
//!   subscriptions and 10 notification URLs, captured the same way before
//!   the notifier runs, then delivered by it.
//!
//! Progress goes to stderr as one rewritten percentage line when stderr is
//! a terminal (one plain line per phase otherwise) — that is all a
//! progress display needs here, so no `indicatif`.

use std::future::IntoFuture;
use std::io::{IsTerminal, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use herald_core::Value as HValue;
use herald_server::config::Config;
use herald_server::pipeline::{self, Message, Operation, Precondition};
use herald_server::server::Running;
use herald_server::state::SharedState;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use sqlx::Connection as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// How the results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One aligned table.
    Table,
    /// One JSON document: {store, cores, ceiling_requests_per_s, scenarios: [{scenario, parameters…, metrics…}]}.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Every scenario below, in this order: ceiling, create, sync-step, async, async at --rate (default 1000/s), query, drain, bc.
    All,
    /// Raw loopback HTTP ceiling: 5 KB POSTs to a minimal hyper server over 16 keep-alive connections.
    Ceiling,
    /// Single-record create throughput over HTTP (POST /contacts), C concurrent clients.
    Create,
    /// Latency a synchronous PostOperation webhook step adds to an update.
    SyncStep,
    /// Creates with one async step: writes/s, deliveries/s, commit → receiver latency.
    Async,
    /// Delivery rate of a backlog of N ready System Jobs.
    Drain,
    /// Business Central notifications/s: N (default 10 000) changed records over 100 subscriptions and 10 URLs.
    Bc,
    /// A filtered, ordered, expanded list of 1 000 rows out of N (default 100 000) contacts, with the store's plan.
    Query,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    scenario: Scenario,
    /// Store to benchmark (`postgres` needs --database-url).
    #[arg(long, value_enum)]
    store: Option<StoreKind>,
    /// PostgreSQL server to use: each scenario creates a fresh database there
    /// and drops it afterwards (unless --use-database). Implies --store postgres.
    #[arg(long, env = "HERALD_BENCH_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    /// Use the database of --database-url as it is (not created, not dropped).
    #[arg(long)]
    use_database: bool,
    /// Operations per scenario (default: create 20000, sync-step 2000, async 10000 (paced too), drain 100000 — 20000 within `all`, bc 10000 changed records).
    #[arg(long)]
    n: Option<usize>,
    /// Concurrent clients (keep-alive connections) for create and async (default 16); pipeline tasks building the drain and bc backlogs (default 8).
    #[arg(long, short = 'c')]
    concurrency: Option<usize>,
    /// Pace async writes at R per second (open loop). With `all`, the paced run uses this (default 1000).
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Seconds of the ceiling measurement (0: skip it; no ratios then).
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    ceiling_secs: f64,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: Format,
}

// ---------------------------------------------------------------------------
// Time and statistics

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// Nanoseconds since the bench started (never 0, so 0 can mean "unset").
fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64 + 1
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn per_s(count: usize, from_ns: u64, to_ns: u64) -> f64 {
    let secs = to_ns.saturating_sub(from_ns) as f64 / 1e9;
    if secs <= 0.0 {
        0.0
    } else {
        count as f64 / secs
    }
}

// ---------------------------------------------------------------------------
// Progress on stderr

struct Progress {
    total: u64,
    done: AtomicU64,
}

struct ProgressHandle {
    p: Arc<Progress>,
    ticker: Option<JoinHandle<()>>,
    tty: bool,
}

impl ProgressHandle {
    fn start(label: &str, total: u64) -> ProgressHandle {
        let tty = std::io::stderr().is_terminal();
        let p = Arc::new(Progress {
            total: total.max(1),
            done: AtomicU64::new(0),
        });
        let ticker = if tty {
            let (p2, label) = (p.clone(), label.to_string());
            Some(tokio::spawn(async move {
                loop {
                    let d = p2.done.load(Ordering::Relaxed).min(p2.total);
                    eprint!(
                        "\r\x1b[2K  {label}: {:>3}% ({d}/{})",
                        d * 100 / p2.total,
                        p2.total
                    );
                    let _ = std::io::stderr().flush();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }))
        } else {
            eprintln!("  {label} …");
            None
        };
        ProgressHandle { p, ticker, tty }
    }

    fn set(&self, n: u64) {
        self.p.done.store(n, Ordering::Relaxed);
    }

    fn finish(mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        if self.tty {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

impl Drop for ProgressHandle {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
            if self.tty {
                eprintln!();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The receiver: a minimal hyper server that answers 200 at once

const MARKER: &[u8] = b"benchseq-";

struct RxStats {
    count: AtomicU64,
    last_ns: AtomicU64,
    /// Arrival time per sequence number (0 = not yet), when parsing.
    seq: Vec<AtomicU64>,
    /// Business Central subscriber: answers the `validationToken` handshake
    /// and counts the entries of each notification body (`{"value":[…]}`).
    bc: bool,
    /// Notification entries received (`bc` only).
    entries: AtomicU64,
}

impl RxStats {
    fn record(&self, body: &[u8]) {
        let t = now_ns();
        let entries = if self.bc {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["value"].as_array().map(Vec::len))
                .unwrap_or(0) as u64
        } else {
            0
        };
        if !self.seq.is_empty() {
            if let Some(i) = find_seq(body) {
                if let Some(slot) = self.seq.get(i) {
                    let _ = slot.compare_exchange(0, t, Ordering::Relaxed, Ordering::Relaxed);
                }
            }
        }
        self.last_ns.fetch_max(t, Ordering::Relaxed);
        self.entries.fetch_add(entries, Ordering::Release);
        self.count.fetch_add(1, Ordering::Release);
    }
}

fn find_seq(body: &[u8]) -> Option<usize> {
    let at = body.windows(MARKER.len()).position(|w| w == MARKER)? + MARKER.len();
    let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&body[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

struct Receiver {
    addr: SocketAddr,
    stats: Arc<RxStats>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `validationToken` of a BC handshake, if this query carries one.
fn validation_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "validationToken")
        .map(|(_, v)| v.into_owned())
}

impl Receiver {
    /// `track`: how many sequence numbers to look for in bodies (0: none).
    async fn start(track: usize) -> anyhow::Result<Receiver> {
        Receiver::start_with(track, false).await
    }

    /// A Business Central subscriber: echoes the handshake's token and
    /// counts notification entries.
    async fn start_bc() -> anyhow::Result<Receiver> {
        Receiver::start_with(0, true).await
    }

    async fn start_with(track: usize, bc: bool) -> anyhow::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the receiver")?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(RxStats {
            count: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
            seq: (0..track).map(|_| AtomicU64::new(0)).collect(),
            bc,
            entries: AtomicU64::new(0),
        });
        let st = stats.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                conns.spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let st = st.clone();
                            async move {
                                if st.bc {
                                    if let Some(token) = validation_token(req.uri().query()) {
                                        return Ok::<_, std::convert::Infallible>(Response::new(
                                            Full::new(Bytes::from(token)),
                                        ));
                                    }
                                }
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|c| c.to_bytes())
                                    .unwrap_or_default();
                                st.record(&body);
                                Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                                    Bytes::new(),
                                )))
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(Receiver { addr, stats, task })
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn count(&self) -> u64 {
        self.stats.count.load(Ordering::Acquire)
    }

    /// Wait until `n` BC notification entries arrived; returns the arrival
    /// time of the last request.
    async fn wait_for_entries(
        &self,
        n: u64,
        within: Duration,
        progress: Option<&ProgressHandle>,
    ) -> anyhow::Result<u64> {
        self.wait_until(&self.stats.entries, n, within, progress)
            .await
            .map_err(|c| {
                anyhow!("the subscribers got {c} of {n} expected notifications within {within:?}")
            })
    }

    /// Wait until `n` requests arrived; returns the arrival time of the last.
    async fn wait_for(
        &self,
        n: u64,
        within: Duration,
        progress: Option<&ProgressHandle>,
    ) -> anyhow::Result<u64> {
        self.wait_until(&self.stats.count, n, within, progress)
            .await
            .map_err(|c| {
                anyhow!("the receiver got {c} of {n} expected webhook requests within {within:?}")
            })
    }

    /// Wait until `counter` reaches `n`: the arrival time of the last
    /// request, or the count reached by the deadline.
    async fn wait_until(
        &self,
        counter: &AtomicU64,
        n: u64,
        within: Duration,
        progress: Option<&ProgressHandle>,
    ) -> Result<u64, u64> {
        let deadline = Instant::now() + within;
        loop {
            let c = counter.load(Ordering::Acquire);
            if let Some(p) = progress {
                p.set(c);
            }
            if c >= n {
                return Ok(self.stats.last_ns.load(Ordering::Relaxed));
            }
            if Instant::now() > deadline {
                return Err(c);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

// ---------------------------------------------------------------------------
// The load generator's HTTP/1.1 client: one keep-alive connection

struct HttpConn {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    conn: JoinHandle<()>,
}

impl Drop for HttpConn {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl HttpConn {
    async fn open(addr: SocketAddr) -> anyhow::Result<HttpConn> {
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

    async fn send(
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
struct Api {
    host: HeaderValue,
    auth: HeaderValue,
}

const API: &str = "/api/data/v9.2/";

impl Api {
    fn new(addr: SocketAddr, key: &str) -> anyhow::Result<Api> {
        Ok(Api {
            host: HeaderValue::from_str(&addr.to_string())?,
            auth: HeaderValue::from_str(&format!("Bearer {key}"))?,
        })
    }

    /// A request to `path`: relative to the Web API, or absolute (`/api/v2.0/…`).
    fn request(&self, method: Method, path: &str, body: Option<Bytes>) -> Request<Full<Bytes>> {
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
    async fn call(
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
    async fn create(&self, conn: &mut HttpConn, set: &str, body: &Value) -> anyhow::Result<String> {
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

    /// Register a webhook to `url` and one step on it, as the Plug-in Registration tool does.
    async fn register_step(
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
        let (_, m) = self
            .call(
                conn,
                Method::GET,
                &format!("sdkmessages?$select=name&$filter=name%20eq%20'{message}'"),
                None,
            )
            .await?;
        let mid = m["value"][0]["sdkmessageid"]
            .as_str()
            .ok_or_else(|| anyhow!("no sdkmessage {message}"))?
            .to_string();
        let (_, f) = self
            .call(
                conn,
                Method::GET,
                &format!("sdkmessagefilters?$select=primaryobjecttypecode&$filter=_sdkmessageid_value%20eq%20{mid}%20and%20primaryobjecttypecode%20eq%20'{table}'"),
                None,
            )
            .await?;
        let fid = f["value"][0]["sdkmessagefilterid"]
            .as_str()
            .ok_or_else(|| anyhow!("no sdkmessagefilter {message}/{table}"))?
            .to_string();
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
}

fn contact_body(seq: usize) -> Bytes {
    Bytes::from(format!(
        r#"{{"firstname":"Bench","lastname":"benchseq-{seq}-","emailaddress1":"bench{seq}@example.com"}}"#
    ))
}

/// One request's client-side times.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    sent: u64,
    done: u64,
}

/// Run `n` requests over `conns` keep-alive connections (each connection one
/// client issuing its requests one after another), optionally paced at
/// `rate` per second overall. Fails on the first non-2xx answer.
async fn drive(
    addr: SocketAddr,
    conns: usize,
    n: usize,
    rate: Option<f64>,
    progress: &ProgressHandle,
    make: Arc<dyn Fn(usize) -> Request<Full<Bytes>> + Send + Sync>,
) -> anyhow::Result<Vec<Sample>> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(5);
    let mut tasks = JoinSet::new();
    for _ in 0..conns.max(1).min(n.max(1)) {
        let (next, make, p) = (next.clone(), make.clone(), progress.p.clone());
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
                p.done.fetch_add(1, Ordering::Relaxed);
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

struct Lat {
    p50: f64,
    p99: f64,
}

fn latencies(samples: &[Sample]) -> Lat {
    let mut v: Vec<u64> = samples.iter().map(|s| s.done - s.sent).collect();
    v.sort_unstable();
    Lat {
        p50: ms(pct(&v, 50.0)),
        p99: ms(pct(&v, 99.0)),
    }
}

fn span(samples: &[Sample]) -> (u64, u64) {
    let first = samples.iter().map(|s| s.sent).min().unwrap_or(0);
    let last = samples.iter().map(|s| s.done).max().unwrap_or(0);
    (first, last)
}

// ---------------------------------------------------------------------------
// One herald for one scenario

#[derive(Clone)]
struct Target {
    kind: StoreKind,
    /// PostgreSQL server (or database, with `use_database`).
    pg: Option<String>,
    use_database: bool,
}

struct PgDb {
    server: String,
    name: String,
}

fn with_db_name(url: &str, name: &str) -> String {
    herald_store::testing::replace_db_name(url, name)
}

impl PgDb {
    async fn create(server: &str) -> anyhow::Result<PgDb> {
        let name = format!("herald_bench_{}", uuid::Uuid::new_v4().simple());
        let mut c = sqlx::PgConnection::connect(server)
            .await
            .with_context(|| format!("connecting to {server}"))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .context("creating the bench database")?;
        let _ = c.close().await;
        Ok(PgDb {
            server: server.to_string(),
            name,
        })
    }

    fn url(&self) -> String {
        with_db_name(&self.server, &self.name)
    }

    async fn drop_db(self) {
        if let Ok(mut c) = sqlx::PgConnection::connect(&self.server).await {
            if let Err(e) = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut c)
            .await
            {
                eprintln!(
                    "warning: could not drop the bench database {}: {e}",
                    self.name
                );
            }
            let _ = c.close().await;
        }
    }
}

struct Herald {
    addr: SocketAddr,
    key: String,
    state: SharedState,
    running: Option<Running>,
    dir: PathBuf,
    db: Option<PgDb>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// [`Herald::api_only`]'s listener.
struct ApiOnly {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ApiOnly {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Herald {
    /// Connect, migrate, bootstrap and bind — not serving yet.
    async fn start(target: &Target) -> anyhow::Result<Herald> {
        Herald::start_with(target, |_| {}).await
    }

    /// [`Herald::start`] with the configuration adjusted by `tweak`.
    async fn start_with(
        target: &Target,
        tweak: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Herald> {
        let dir =
            std::env::temp_dir().join(format!("herald-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".into();
        config.server.data_dir = dir.clone();
        config.server.allow_private_targets = true;
        config.server.admin_key = Some(format!("bench-{}", uuid::Uuid::new_v4().simple()));
        let mut db = None;
        if target.kind == StoreKind::Postgres {
            let server = target
                .pg
                .clone()
                .ok_or_else(|| anyhow!("--store postgres needs --database-url postgres://…"))?;
            if target.use_database {
                config.store.database_url = Some(server);
            } else {
                let d = PgDb::create(&server).await?;
                config.store.database_url = Some(d.url());
                db = Some(d);
            }
        }
        tweak(&mut config);
        let running = match herald_server::server::start(config).await {
            Ok(r) => r,
            Err(e) => {
                if let Some(d) = db {
                    d.drop_db().await;
                }
                let _ = std::fs::remove_dir_all(&dir);
                return Err(anyhow!("cannot start herald: {e}"));
            }
        };
        Ok(Herald {
            addr: running.addr,
            key: running.admin_key.clone(),
            state: running.state.clone(),
            running: Some(running),
            dir,
            db,
            shutdown: None,
            task: None,
        })
    }

    /// The API router alone on a loopback port (no workers, no notifier),
    /// to register through over HTTP before [`Herald::serve`].
    async fn api_only(&self) -> anyhow::Result<ApiOnly> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(
            axum::serve(listener, herald_server::api::router(self.state.clone()))
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .into_future(),
        );
        Ok(ApiOnly { addr, stop, task })
    }

    /// Serve (Web API and System Job workers).
    fn serve(&mut self) {
        let running = self.running.take().expect("served once");
        let (tx, rx) = oneshot::channel::<()>();
        self.shutdown = Some(tx);
        self.task = Some(tokio::spawn(running.serve(async move {
            let _ = rx.await;
        })));
    }

    async fn started(target: &Target) -> anyhow::Result<Herald> {
        let mut h = Herald::start(target).await?;
        h.serve();
        Ok(h)
    }

    fn api(&self) -> anyhow::Result<Api> {
        Api::new(self.addr, &self.key)
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        drop(self.running.take());
        if let Some(d) = self.db.take() {
            d.drop_db().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// Results

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    PerSec,
    Ms,
    Count,
}

struct Metric {
    key: String,
    label: String,
    value: f64,
    unit: Unit,
}

struct Outcome {
    name: String,
    params: Map<String, Value>,
    metrics: Vec<Metric>,
}

impl Outcome {
    fn new(name: impl Into<String>, params: Value) -> Outcome {
        Outcome {
            name: name.into(),
            params: params.as_object().cloned().unwrap_or_default(),
            metrics: Vec::new(),
        }
    }

    fn m(mut self, key: &str, label: &str, value: f64, unit: Unit) -> Outcome {
        self.metrics.push(Metric {
            key: key.into(),
            label: label.into(),
            value,
            unit,
        });
        self
    }
}

fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::PerSec => format!("{} /s", group(v.round() as i64)),
        Unit::Count => group(v.round() as i64),
        Unit::Ms if v.abs() < 10.0 => format!("{v:.2} ms"),
        Unit::Ms => format!("{v:.1} ms"),
    }
}

fn group(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn print_report(format: Format, store: &str, ceiling: Option<f64>, outcomes: &[Outcome]) {
    match format {
        Format::Json => {
            let scenarios: Vec<Value> = outcomes
                .iter()
                .map(|o| {
                    let mut m = Map::new();
                    m.insert("scenario".into(), json!(o.name));
                    for (k, v) in &o.params {
                        m.insert(k.clone(), v.clone());
                    }
                    for x in &o.metrics {
                        m.insert(x.key.clone(), json!((x.value * 1000.0).round() / 1000.0));
                        if let (Unit::PerSec, Some(c)) = (x.unit, ceiling) {
                            if o.name != "ceiling" && c > 0.0 {
                                m.insert(
                                    format!("{}_vs_ceiling", x.key),
                                    json!((x.value / c * 10000.0).round() / 10000.0),
                                );
                            }
                        }
                    }
                    Value::Object(m)
                })
                .collect();
            let doc = json!({
                "store": store,
                "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                "load_average": load_average(),
                "ceiling_requests_per_s": ceiling.map(|c| c.round()),
                "scenarios": scenarios,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Table => {
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            println!("herald bench — store {store}, {cores} cores, everything in one process on loopback");
            let mut rows: Vec<[String; 4]> = vec![[
                "SCENARIO".into(),
                "METRIC".into(),
                "VALUE".into(),
                "OF CEILING".into(),
            ]];
            for o in outcomes {
                let params: Vec<String> = o
                    .params
                    .iter()
                    .filter(|(_, v)| !v.is_null() && !v.is_array())
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let params = params.join(" ");
                for (i, x) in o.metrics.iter().enumerate() {
                    let ratio = match (x.unit, ceiling) {
                        (Unit::PerSec, Some(c)) if c > 0.0 => {
                            format!("{:.1} %", x.value / c * 100.0)
                        }
                        _ => String::new(),
                    };
                    let first = match i {
                        0 => o.name.clone(),
                        1 => format!("  {params}"),
                        _ => String::new(),
                    };
                    rows.push([first, x.label.clone(), fmt_value(x.value, x.unit), ratio]);
                }
                if o.metrics.len() == 1 && !params.is_empty() {
                    rows.push([
                        format!("  {params}"),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
            let w: Vec<usize> = (0..4)
                .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
                .collect();
            for (ri, r) in rows.iter().enumerate() {
                let line = format!(
                    "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}",
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    w0 = w[0],
                    w1 = w[1],
                    w2 = w[2],
                    w3 = w[3]
                );
                println!("{}", line.trim_end());
                if ri == 0 {
                    println!("{}", "-".repeat(w.iter().sum::<usize>() + 6));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Scenarios

const CEILING_CONNS: usize = 16;
const CEILING_BODY: usize = 5 * 1024;

async fn ceiling(secs: f64) -> anyhow::Result<Outcome> {
    let rx = Receiver::start(0).await?;
    let body = Bytes::from(vec![b'x'; CEILING_BODY]);
    let host = HeaderValue::from_str(&rx.addr.to_string())?;
    let progress = ProgressHandle::start(&format!("ceiling: {secs} s"), (secs * 10.0) as u64);
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = JoinSet::new();
    let t0 = now_ns();
    for _ in 0..CEILING_CONNS {
        let mut conn = HttpConn::open(rx.addr).await?;
        let (body, host) = (body.clone(), host.clone());
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < stop {
                let mut b = Request::builder().method(Method::POST).uri("/hook");
                let h = b.headers_mut().expect("builder");
                h.insert(HOST, host.clone());
                h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                let (status, _, _) = conn.send(b.body(Full::new(body.clone()))?).await?;
                if !status.is_success() {
                    bail!("ceiling receiver answered {status}");
                }
                n += 1;
            }
            Ok::<_, anyhow::Error>(n)
        });
    }
    let ticker = {
        let p = progress.p.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                p.done.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let mut total = 0u64;
    while let Some(r) = tasks.join_next().await {
        total += r??;
    }
    let t1 = now_ns();
    ticker.abort();
    progress.finish();
    let rps = per_s(total as usize, t0, t1);
    Ok(Outcome::new(
        "ceiling",
        json!({"connections": CEILING_CONNS, "body_bytes": CEILING_BODY, "seconds": secs}),
    )
    .m(
        "requests_per_s",
        "requests/s (5 KB POST)",
        rps,
        Unit::PerSec,
    ))
}

async fn create(target: &Target, n: usize, c: usize) -> anyhow::Result<Outcome> {
    let h = Herald::started(target).await?;
    let result = async {
        let api = h.api()?;
        let warm = (n / 10).clamp(1, 200);
        let make: Arc<dyn Fn(usize) -> Request<Full<Bytes>> + Send + Sync> = {
            let api = api.clone();
            Arc::new(move |i| api.request(Method::POST, "contacts", Some(contact_body(i))))
        };
        let p = ProgressHandle::start(&format!("create: {warm} warm-up writes"), warm as u64);
        drive(h.addr, c, warm, None, &p, make.clone()).await?;
        p.finish();
        let p = ProgressHandle::start(&format!("create: {n} writes, {c} clients"), n as u64);
        let samples = drive(h.addr, c, n, None, &p, make).await?;
        p.finish();
        let (t0, t1) = span(&samples);
        let lat = latencies(&samples);
        Ok::<_, anyhow::Error>(
            Outcome::new("create", json!({"n": n, "concurrency": c}))
                .m("creates_per_s", "creates/s", per_s(n, t0, t1), Unit::PerSec)
                .m("latency_p50_ms", "latency p50", lat.p50, Unit::Ms)
                .m("latency_p99_ms", "latency p99", lat.p99, Unit::Ms),
        )
    }
    .await;
    h.stop().await;
    result
}

async fn sync_step(target: &Target, n: usize) -> anyhow::Result<Outcome> {
    let h = Herald::started(target).await?;
    let rx = Receiver::start(0).await?;
    let result = async {
        let api = h.api()?;
        let mut conn = HttpConn::open(h.addr).await?;
        let id = api.create(&mut conn, "contacts", &json!({"lastname": "sync-step"})).await?;
        let path = format!("contacts({id})");
        let make: Arc<dyn Fn(usize) -> Request<Full<Bytes>> + Send + Sync> = {
            let (api, path) = (api.clone(), path.clone());
            Arc::new(move |i| api.request(Method::PATCH, &path, Some(Bytes::from(format!(r#"{{"firstname":"v{i}"}}"#)))))
        };
        let step = api.register_step(&mut conn, &rx.url(), "Update", "contact", 0).await?;
        let step_path = format!("sdkmessageprocessingsteps({step})");
        // Alternate blocks without and with the step (disabled / enabled), so
        // that whatever else the machine does hits both sides alike.
        let blocks = n.div_ceil(100).clamp(1, 20);
        let per_block = n.div_ceil(blocks);
        let warm = per_block.min(100);
        let p = ProgressHandle::start(&format!("sync-step: 2 × {} updates", warm + per_block * blocks), (2 * (warm + per_block * blocks)) as u64);
        let mut without = Vec::new();
        let mut with = Vec::new();
        let mut sent_with = 0u64;
        for block in 0..=blocks {
            for enabled in [false, true] {
                let state = if enabled { json!({"statecode": 0, "statuscode": 1}) } else { json!({"statecode": 1, "statuscode": 2}) };
                api.call(&mut conn, Method::PATCH, &step_path, Some(&state)).await?;
                // Block 0 is the warm-up of both sides.
                let count = if block == 0 { warm } else { per_block };
                let samples = drive(h.addr, 1, count, None, &p, make.clone()).await?;
                if enabled {
                    sent_with += count as u64;
                }
                if block > 0 {
                    if enabled { &mut with } else { &mut without }.extend(samples);
                }
            }
        }
        p.finish();
        let got = rx.count();
        if got != sent_with {
            bail!("the sync step was called {got} times for {sent_with} updates with the step enabled");
        }
        let (a, b) = (latencies(&without), latencies(&with));
        Ok(Outcome::new("sync-step", json!({"n": per_block * blocks}))
            .m("without_p50_ms", "update p50, no step", a.p50, Unit::Ms)
            .m("without_p99_ms", "update p99, no step", a.p99, Unit::Ms)
            .m("with_p50_ms", "update p50, 1 sync step", b.p50, Unit::Ms)
            .m("with_p99_ms", "update p99, 1 sync step", b.p99, Unit::Ms)
            .m("added_p50_ms", "added by the step, p50", b.p50 - a.p50, Unit::Ms)
            .m("added_p99_ms", "added by the step, p99", b.p99 - a.p99, Unit::Ms))
    }
    .await;
    h.stop().await;
    result
}

async fn async_step(
    target: &Target,
    n: usize,
    c: usize,
    rate: Option<f64>,
) -> anyhow::Result<Outcome> {
    let h = Herald::started(target).await?;
    let rx = Receiver::start(n).await?;
    let result = async {
        let api = h.api()?;
        let mut conn = HttpConn::open(h.addr).await?;
        // Warm the write path before the step exists (those writes deliver nothing).
        for i in 0..50 {
            api.call(
                &mut conn,
                Method::POST,
                "contacts",
                Some(&json!({"lastname": format!("warm-{i}")})),
            )
            .await?;
        }
        api.register_step(&mut conn, &rx.url(), "Create", "contact", 1)
            .await?;
        drop(conn);
        let make: Arc<dyn Fn(usize) -> Request<Full<Bytes>> + Send + Sync> = {
            let api = api.clone();
            Arc::new(move |i| api.request(Method::POST, "contacts", Some(contact_body(i))))
        };
        let label = match rate {
            Some(r) => format!("async: {n} writes at {r}/s, {c} clients"),
            None => format!("async: {n} writes, {c} clients"),
        };
        let p = ProgressHandle::start(&label, n as u64);
        let samples = drive(h.addr, c, n, rate, &p, make).await?;
        p.finish();
        let (t0, t_written) = span(&samples);
        let p = ProgressHandle::start(&format!("async: waiting for {n} deliveries"), n as u64);
        let within = Duration::from_secs(120) + Duration::from_millis(n as u64 * 10);
        let t_delivered = rx.wait_for(n as u64, within, Some(&p)).await?;
        p.finish();
        let mut commit_to_rx = Vec::with_capacity(n);
        let mut send_to_rx = Vec::with_capacity(n);
        let mut early = 0usize;
        for (i, s) in samples.iter().enumerate() {
            let r = rx.stats.seq[i].load(Ordering::Relaxed);
            if r == 0 {
                bail!("record {i} was never delivered (or its marker was not found in the body)");
            }
            if r < s.done {
                early += 1;
            }
            commit_to_rx.push(r.saturating_sub(s.done));
            send_to_rx.push(r - s.sent);
        }
        commit_to_rx.sort_unstable();
        send_to_rx.sort_unstable();
        let lat = latencies(&samples);
        let name = if rate.is_some() {
            "async-paced"
        } else {
            "async"
        };
        Ok(
            Outcome::new(name, json!({"n": n, "concurrency": c, "rate": rate}))
                .m(
                    "writes_per_s",
                    "writes/s",
                    per_s(n, t0, t_written),
                    Unit::PerSec,
                )
                .m(
                    "deliveries_per_s",
                    "deliveries/s (first write → last delivery)",
                    per_s(n, t0, t_delivered),
                    Unit::PerSec,
                )
                .m("write_p50_ms", "write latency p50", lat.p50, Unit::Ms)
                .m("write_p99_ms", "write latency p99", lat.p99, Unit::Ms)
                .m(
                    "commit_to_receiver_p50_ms",
                    "commit → receiver p50",
                    ms(pct(&commit_to_rx, 50.0)),
                    Unit::Ms,
                )
                .m(
                    "commit_to_receiver_p99_ms",
                    "commit → receiver p99",
                    ms(pct(&commit_to_rx, 99.0)),
                    Unit::Ms,
                )
                .m(
                    "send_to_receiver_p99_ms",
                    "write sent → receiver p99",
                    ms(pct(&send_to_rx, 99.0)),
                    Unit::Ms,
                )
                .m(
                    "delivered_before_204",
                    "delivered before the 204 arrived",
                    early as f64,
                    Unit::Count,
                ),
        )
    }
    .await;
    h.stop().await;
    result
}

/// `n` creates through the write pipeline, in-process (the path every HTTP
/// write takes), on `c` concurrent tasks: the `i`th is `make(i)`, counted
/// by `progress`; a failure is reported as `"{what} {i}: …"`.
async fn pipeline_creates(
    state: &SharedState,
    n: usize,
    c: usize,
    progress: &ProgressHandle,
    what: &'static str,
    make: impl Fn(usize) -> Operation + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..c.max(1) {
        let (state, next, make, pp) = (
            state.clone(),
            next.clone(),
            make.clone(),
            progress.p.clone(),
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
                pp.done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

async fn drain(target: &Target, n: usize, c: usize) -> anyhow::Result<Outcome> {
    let mut h = Herald::start(target).await?;
    let rx = Receiver::start(0).await?;
    let result = async {
        // Register over HTTP through a listener serving the API router only: no workers yet.
        let reg = h.api_only().await?;
        {
            let api = Api::new(reg.addr, &h.key)?;
            let mut conn = HttpConn::open(reg.addr).await?;
            api.register_step(&mut conn, &rx.url(), "Create", "contact", 1)
                .await?;
        }
        reg.stop().await;

        // The backlog: N creates through the write pipeline, in-process.
        let state = h.state.clone();
        let caller = state.org.admin_user_id;
        let p = ProgressHandle::start(&format!("drain: building a backlog of {n} jobs"), n as u64);
        let b0 = now_ns();
        pipeline_creates(&state, n, c, &p, "backlog write", move |i| Operation {
            message: Message::Create,
            table: "contact".into(),
            id: None,
            values: vec![
                ("firstname".into(), HValue::String("Bench".into())),
                ("lastname".into(), HValue::String(format!("benchseq-{i}-"))),
            ],
            caller,
            precondition: Precondition::None,
            upsert: false,
            correlation: None,
        })
        .await?;
        let b1 = now_ns();
        p.finish();
        let now = state.clock.now().timestamp_millis() + 1;
        let (queued, _) = state.store.queue_depth(now).await?;
        if queued != n as i64 {
            bail!("expected a backlog of {n} System Jobs, found {queued}");
        }

        // Now the workers.
        let p = ProgressHandle::start(&format!("drain: delivering {n} jobs"), n as u64);
        let t0 = now_ns();
        h.serve();
        let within = Duration::from_secs(120) + Duration::from_millis(n as u64 * 10);
        let t_delivered = rx.wait_for(n as u64, within, Some(&p)).await?;
        p.finish();
        let deadline = Instant::now() + Duration::from_secs(120);
        let t_completed = loop {
            let now = state.clock.now().timestamp_millis() + 1;
            if state.store.queue_depth(now).await?.0 == 0 {
                break now_ns();
            }
            if Instant::now() > deadline {
                bail!("the queue did not empty within 120 s after the last delivery");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        Ok(Outcome::new("drain", json!({"n": n}))
            .m(
                "backlog_writes_per_s",
                "backlog built (in-process writes/s)",
                per_s(n, b0, b1),
                Unit::PerSec,
            )
            .m(
                "delivered_per_s",
                "jobs delivered/s",
                per_s(n, t0, t_delivered),
                Unit::PerSec,
            )
            .m(
                "completed_per_s",
                "jobs completed/s (queue empty)",
                per_s(n, t0, t_completed),
                Unit::PerSec,
            ))
    }
    .await;
    h.stop().await;
    result
}

// ---------------------------------------------------------------------------

/// The `bc` scenario's subscriptions: companies × entities, one subscription
/// each, spread over this many notification URLs.
const BC_COMPANIES: usize = 5;
const BC_ENTITIES_PER_COMPANY: usize = 20;
const BC_URLS: usize = 10;

/// Business Central notifications (issue #5): N records changed over 100
/// subscriptions (5 companies × 20 entities, N/100 records each) whose
/// notifications go to 10 URLs. The changes are captured by N creates
/// through the write pipeline before the notifier runs (as in `drain`);
/// once their delay window has passed the server is served, and the
/// figure is N over the time from then until the subscribers hold every
/// notification: closing the windows (coalescing, one notification row per
/// record and subscription), batching per URL and the POSTs, as the
/// background notifier does them.
async fn bc(target: &Target, n: usize, c: usize) -> anyhow::Result<Outcome> {
    let delay = Duration::from_millis(100);
    let subscriptions = BC_COMPANIES * BC_ENTITIES_PER_COMPANY;
    let mut h = Herald::start_with(target, |config| {
        config.bc.notification_delay = delay;
        // One notification per record (no `collection`), whatever N.
        config.bc.collection_threshold = config.bc.collection_threshold.max(n);
        config.bc.max_subscriptions = config.bc.max_subscriptions.max(subscriptions);
    })
    .await?;
    let rx = Receiver::start_bc().await?;
    let result = async {
        // Companies and subscriptions over HTTP through a listener serving
        // the API router only: no notifier yet.
        let reg = h.api_only().await?;
        let entities = &herald_core::builtin::BC_ENTITIES[..BC_ENTITIES_PER_COMPANY];
        let mut streams = Vec::with_capacity(subscriptions);
        {
            let api = Api::new(reg.addr, &h.key)?;
            let mut conn = HttpConn::open(reg.addr).await?;
            let mut companies = vec![herald_server::bc::default_company_id()];
            for i in 1..BC_COMPANIES {
                let id = uuid::Uuid::new_v4();
                api.call(
                    &mut conn,
                    Method::POST,
                    "bc_companies",
                    Some(&json!({"bc_companyid": id, "name": format!("Bench {i}")})),
                )
                .await?;
                companies.push(id);
            }
            for company in &companies {
                for entity in entities {
                    let url = format!("http://{}/bc/{}", rx.addr, streams.len() % BC_URLS);
                    api.call(
                        &mut conn,
                        Method::POST,
                        "/api/v2.0/subscriptions",
                        Some(&json!({
                            "notificationUrl": url,
                            "resource": format!("/api/v2.0/companies({company})/{}", entity.name),
                        })),
                    )
                    .await?;
                    streams.push((*company, entity.logical));
                }
            }
        }
        reg.stop().await;

        // The changes: N creates through the write pipeline, in-process,
        // round-robin over the subscribed (company, entity) streams.
        let state = h.state.clone();
        let caller = state.org.admin_user_id;
        let p = ProgressHandle::start(&format!("bc: {n} changes"), n as u64);
        let b0 = now_ns();
        pipeline_creates(&state, n, c, &p, "change", move |i| {
            let (company, table) = streams[i % streams.len()];
            Operation::new(
                Message::Create,
                table,
                None,
                vec![("companyid".into(), HValue::Guid(company))],
                caller,
            )
        })
        .await?;
        let b1 = now_ns();
        p.finish();
        let captured = state.store.bc_pending_changes().await?;
        if captured != n as i64 {
            bail!("expected {n} captured BC changes, found {captured}");
        }
        // Every window is due when the notifier starts.
        tokio::time::sleep(delay).await;

        let p = ProgressHandle::start(&format!("bc: delivering {n} notifications"), n as u64);
        let t0 = now_ns();
        h.serve();
        let within = Duration::from_secs(120) + Duration::from_millis(n as u64 * 10);
        let t_delivered = rx.wait_for_entries(n as u64, within, Some(&p)).await?;
        p.finish();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if state.store.bc_pending_notifications().await? == 0
                && state.store.bc_pending_changes().await? == 0
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("BC notifications were still pending 60 s after the last delivery");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let entries = rx.stats.entries.load(Ordering::Acquire);
        if entries != n as u64 {
            bail!("the subscribers got {entries} notifications for {n} changes");
        }
        let posts = rx.count();
        Ok::<_, anyhow::Error>(
            Outcome::new(
                "bc",
                json!({"n": n, "subscriptions": subscriptions, "urls": BC_URLS}),
            )
            .m(
                "changes_per_s",
                "changes captured (in-process writes/s)",
                per_s(n, b0, b1),
                Unit::PerSec,
            )
            .m(
                "notifications_per_s",
                "notifications delivered/s",
                per_s(n, t0, t_delivered),
                Unit::PerSec,
            )
            .m(
                "posts",
                "POSTs to the subscribers",
                posts as f64,
                Unit::Count,
            ),
        )
    }
    .await;
    h.stop().await;
    result
}

/// The 1-minute load average (Linux), to warn about a busy machine.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------

/// The list query of issue #4: contacts of one account (1 000 of N), newest
/// first, with the account's name expanded — through the Web API, R times.
const QUERY_PATH: &str = "contacts?$select=fullname,lastname,createdon&$filter=_parentcustomerid_value eq {account} and statecode eq 0&$orderby=createdon desc&$top=1000&$expand=parentcustomerid_account($select=name)";

async fn query(target: &Target, n: usize) -> anyhow::Result<Outcome> {
    let h = Herald::started(target).await?;
    let result = async {
        let schema = h.state.schema.clone();
        let accounts = schema
            .table("account")
            .ok_or_else(|| anyhow!("no account table"))?;
        let contacts = schema
            .table("contact")
            .ok_or_else(|| anyhow!("no contact table"))?;
        let per_account = 1000usize;
        let n_accounts = n.div_ceil(per_account).max(1);
        let user = h.state.org.admin_user_id;
        let now = chrono::Utc::now();
        let p = ProgressHandle::start(
            &format!("query: loading {n} contacts over {n_accounts} accounts"),
            n as u64,
        );
        let mut account_ids = Vec::with_capacity(n_accounts);
        let mut tx = h.state.store.begin().await?;
        for i in 0..n_accounts {
            let id = uuid::Uuid::new_v4();
            tx.insert(
                accounts,
                &[
                    ("accountid".into(), HValue::Guid(id)),
                    ("name".into(), HValue::String(format!("Account {i:05}"))),
                    ("versionnumber".into(), HValue::Int(1)),
                    ("statecode".into(), HValue::Int(0)),
                ],
            )
            .await?;
            account_ids.push(id);
        }
        for i in 0..n {
            tx.insert(
                contacts,
                &[
                    ("contactid".into(), HValue::Guid(uuid::Uuid::new_v4())),
                    ("firstname".into(), HValue::String(format!("First{i}"))),
                    (
                        "lastname".into(),
                        HValue::String(format!("Family{:02}", i % 97)),
                    ),
                    (
                        "fullname".into(),
                        HValue::String(format!("First{i} Family{:02}", i % 97)),
                    ),
                    (
                        "parentcustomerid".into(),
                        HValue::Guid(account_ids[i % n_accounts]),
                    ),
                    ("statecode".into(), HValue::Int(0)),
                    ("statuscode".into(), HValue::Int(1)),
                    (
                        "createdon".into(),
                        HValue::DateTime(now - chrono::Duration::seconds(i as i64)),
                    ),
                    ("createdby".into(), HValue::Guid(user)),
                    ("versionnumber".into(), HValue::Int(1)),
                ],
            )
            .await?;
            if i % 10_000 == 9_999 {
                tx.commit().await?;
                tx = h.state.store.begin().await?;
                p.set((i + 1) as u64);
            }
        }
        tx.commit().await?;
        p.finish();
        let account = account_ids[n_accounts / 2];
        let path = QUERY_PATH
            .replace("{account}", &account.to_string())
            .replace(' ', "%20");
        let api = h.api()?;
        let mut conn = HttpConn::open(h.addr).await?;
        let (_, first) = api.call(&mut conn, Method::GET, &path, None).await?;
        let rows = first["value"].as_array().map(Vec::len).unwrap_or(0);
        if rows != per_account.min(n) {
            bail!(
                "the query returned {rows} rows, expected {}",
                per_account.min(n)
            );
        }
        let runs = 30;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = now_ns();
            api.call(&mut conn, Method::GET, &path, None).await?;
            times.push(now_ns() - t);
        }
        times.sort_unstable();
        // The plan the store uses for the main query (the expansion is a second, by-key query).
        let options = herald_core::odata::split_query_string(
            &QUERY_PATH.replace("{account}", &account.to_string())["contacts?".len()..],
        );
        let q = herald_core::odata::parse_options(&schema, contacts, &options)
            .map_err(|e| anyhow!("{e}"))?;
        let plan = h.state.store.explain(&q, Some(1000)).await?;
        eprintln!(
            "query plan ({}):",
            if target.kind == StoreKind::Sqlite {
                "EXPLAIN QUERY PLAN"
            } else {
                "EXPLAIN"
            }
        );
        for line in &plan {
            eprintln!("  {line}");
        }
        Ok::<_, anyhow::Error>(
            Outcome::new(
                "query",
                json!({"n": n, "rows": rows, "runs": runs, "plan": plan}),
            )
            .m(
                "query_p50_ms",
                "1 000 of N, p50",
                ms(pct(&times, 50.0)),
                Unit::Ms,
            )
            .m(
                "query_p99_ms",
                "1 000 of N, p99",
                ms(pct(&times, 99.0)),
                Unit::Ms,
            ),
        )
    }
    .await;
    h.stop().await;
    result
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,sqlx=error".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    epoch();
    let kind = match (args.store, &args.database_url) {
        (Some(k), _) => k,
        (None, Some(_)) => StoreKind::Postgres,
        (None, None) => StoreKind::Sqlite,
    };
    if kind == StoreKind::Postgres && args.database_url.is_none() {
        bail!("--store postgres needs --database-url postgres://user@host/db (or HERALD_BENCH_DATABASE_URL)");
    }
    let target = Target {
        kind,
        pg: if kind == StoreKind::Postgres {
            args.database_url.clone()
        } else {
            None
        },
        use_database: args.use_database,
    };
    let store = match kind {
        StoreKind::Sqlite => "sqlite",
        StoreKind::Postgres => "postgres",
    };
    let c = args.concurrency.unwrap_or(16).max(1);
    let n = |default: usize| args.n.unwrap_or(default).max(1);
    let name = args
        .scenario
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    eprintln!("herald bench {name} on {store}");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if let Some(load) = load_average() {
        if load > cores as f64 * 0.5 {
            eprintln!("warning: this machine is busy (load average {load:.1} on {cores} cores): the figures will be noisy");
        }
    }

    let s = args.scenario;
    let all = s == Scenario::All;
    let mut outcomes = Vec::new();
    let mut ceiling_rps = None;
    let secs = if s == Scenario::Ceiling && args.ceiling_secs <= 0.0 {
        3.0
    } else {
        args.ceiling_secs
    };
    if secs > 0.0 {
        let o = ceiling(secs).await?;
        ceiling_rps = o.metrics.first().map(|m| m.value);
        outcomes.push(o);
    }
    if all || s == Scenario::Create {
        outcomes.push(create(&target, n(20_000), c).await?);
    }
    if all || s == Scenario::SyncStep {
        outcomes.push(sync_step(&target, n(2_000)).await?);
    }
    if all || s == Scenario::Async {
        let rate = if all { None } else { args.rate };
        outcomes.push(async_step(&target, n(10_000), c, rate).await?);
    }
    if all {
        outcomes.push(async_step(&target, n(10_000), c, Some(args.rate.unwrap_or(1000.0))).await?);
    }
    if all || s == Scenario::Query {
        outcomes.push(query(&target, n(100_000)).await?);
    }
    if all || s == Scenario::Drain {
        // `all` keeps to a few minutes on SQLite: a 20 000-job backlog there.
        outcomes.push(
            drain(
                &target,
                n(if all { 20_000 } else { 100_000 }),
                args.concurrency.unwrap_or(8).max(1),
            )
            .await?,
        );
    }
    if all || s == Scenario::Bc {
        outcomes.push(bc(&target, n(10_000), args.concurrency.unwrap_or(8).max(1)).await?);
    }
    print_report(args.output, store, ceiling_rps, &outcomes);
    Ok(())
}
