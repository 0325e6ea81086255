//! `ceiling`: the raw HTTP ceiling of this machine — the receiver taking
//! 5 KB POSTs over 16 keep-alive connections for a few seconds, no herald
//! involved. Every other throughput is also reported as a fraction of this
//! figure, measured in the same run, so results from different machines
//! (or a busy one) can be compared.

use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use serde_json::json;
use tokio::task::JoinSet;

use crate::cli::bench::load::HttpConn;
use crate::cli::bench::receiver::Receiver;
use crate::cli::bench::report::{Outcome, Unit};
use crate::cli::bench::stats::{now_ns, per_s};
use crate::cli::progress::ProgressHandle;

const CEILING_CONNS: usize = 16;
const CEILING_BODY: usize = 5 * 1024;

/// Requests/s the receiver takes over [`CEILING_CONNS`] connections for `secs`.
pub async fn ceiling(secs: f64) -> anyhow::Result<Outcome> {
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
        let p = progress.counter();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                p.tick();
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
    .metric(
        "requests_per_s",
        "requests/s (5 KB POST)",
        rps,
        Unit::PerSec,
    ))
}
