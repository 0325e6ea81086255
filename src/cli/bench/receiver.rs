//! The receiver: a minimal hyper server on loopback that answers 200 at
//! once and time-stamps every request, standing in for a webhook target
//! (or, with [`Receiver::start_bc`], for Business Central subscribers). It
//! is as cheap as a server can be, so what a scenario measures is herald.
//!
//! A record written by the load generator carries its sequence number
//! ([`seq_mark`]); the receiver finds it in the delivered body and stamps
//! that record's arrival, which gives commit → receiver latencies.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::stats::now_ns;
use crate::cli::progress::ProgressHandle;

/// What precedes a record's sequence number in the bodies it is sent in.
const SEQ_MARKER: &str = "benchseq-";

/// The text a record carries so that the receiver knows it (`benchseq-<i>-`).
pub fn seq_mark(i: usize) -> String {
    format!("{SEQ_MARKER}{i}-")
}

/// How long a scenario waits for `n` deliveries before giving up.
pub fn delivery_window(n: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(n as u64 * 10)
}

/// What [`Receiver::wait_for`] counts.
#[derive(Debug, Clone, Copy)]
pub enum Arrivals {
    /// Webhook requests.
    Requests,
    /// Business Central notification entries (of [`Receiver::start_bc`]).
    Notifications,
}

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
    /// Answer `400 Bad Request` to the record of every sequence number
    /// divisible by this (0: never), so that a share of the jobs ends
    /// Failed.
    fail_every: usize,
}

impl RxStats {
    /// Record a request; true when it is to be answered 400.
    fn record(&self, body: &[u8]) -> bool {
        let t = now_ns();
        let entries = if self.bc {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["value"].as_array().map(Vec::len))
                .unwrap_or(0) as u64
        } else {
            0
        };
        let mut fail = false;
        if !self.seq.is_empty() || self.fail_every > 0 {
            if let Some(i) = find_seq(body) {
                if let Some(slot) = self.seq.get(i) {
                    let _ = slot.compare_exchange(0, t, Ordering::Relaxed, Ordering::Relaxed);
                }
                fail = self.fail_every > 0 && i % self.fail_every == 0;
            }
        }
        self.last_ns.fetch_max(t, Ordering::Relaxed);
        self.entries.fetch_add(entries, Ordering::Release);
        self.count.fetch_add(1, Ordering::Release);
        fail
    }
}

/// The sequence number a body carries after [`SEQ_MARKER`].
fn find_seq(body: &[u8]) -> Option<usize> {
    let marker = SEQ_MARKER.as_bytes();
    let at = body.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&body[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// A running receiver; dropping it stops it.
pub struct Receiver {
    pub addr: SocketAddr,
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
    pub async fn start(track: usize) -> anyhow::Result<Receiver> {
        Receiver::start_with(track, false, 0).await
    }

    /// A receiver that answers `400` to the record of every sequence
    /// number divisible by `every` (and 200 to the rest).
    pub async fn start_failing(every: usize) -> anyhow::Result<Receiver> {
        Receiver::start_with(0, false, every).await
    }

    /// A Business Central subscriber: echoes the handshake's token and
    /// counts notification entries.
    pub async fn start_bc() -> anyhow::Result<Receiver> {
        Receiver::start_with(0, true, 0).await
    }

    async fn start_with(track: usize, bc: bool, fail_every: usize) -> anyhow::Result<Receiver> {
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
            fail_every,
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
                                let mut resp = Response::new(Full::new(Bytes::new()));
                                if st.record(&body) {
                                    *resp.status_mut() = hyper::StatusCode::BAD_REQUEST;
                                }
                                Ok::<_, std::convert::Infallible>(resp)
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

    /// The URL a webhook registered on this receiver posts to.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Requests received so far.
    pub fn count(&self) -> u64 {
        self.stats.count.load(Ordering::Acquire)
    }

    /// BC notification entries received so far.
    pub fn entries(&self) -> u64 {
        self.stats.entries.load(Ordering::Acquire)
    }

    /// When the record with sequence number `i` arrived (0: not yet, or
    /// not tracked).
    pub fn arrival(&self, i: usize) -> u64 {
        self.stats
            .seq
            .get(i)
            .map_or(0, |t| t.load(Ordering::Relaxed))
    }

    /// Wait until `n` of `what` arrived (within [`delivery_window`]);
    /// returns the arrival time of the last request.
    pub async fn wait_for(
        &self,
        what: Arrivals,
        n: usize,
        progress: &ProgressHandle,
    ) -> anyhow::Result<u64> {
        let within = delivery_window(n);
        let n = n as u64;
        let counter = match what {
            Arrivals::Requests => &self.stats.count,
            Arrivals::Notifications => &self.stats.entries,
        };
        let deadline = Instant::now() + within;
        loop {
            let c = counter.load(Ordering::Acquire);
            progress.set(c);
            if c >= n {
                return Ok(self.stats.last_ns.load(Ordering::Relaxed));
            }
            if Instant::now() > deadline {
                return Err(match what {
                    Arrivals::Requests => anyhow!(
                        "the receiver got {c} of {n} expected webhook requests within {within:?}"
                    ),
                    Arrivals::Notifications => anyhow!(
                        "the subscribers got {c} of {n} expected notifications within {within:?}"
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}
