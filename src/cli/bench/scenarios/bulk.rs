//! `create-multiple`: herald's fastest write path as a client sees it —
//! `POST contacts/Microsoft.Dynamics.CRM.CreateMultiple` with 1 000
//! `Targets` per request from C clients, with one asynchronous step on
//! `Create` (which, as in Dataverse, fires for every record of the bulk
//! message). Reports records committed/s (first request sent → last 200
//! back) and deliveries/s (first request sent → the receiver got every
//! record's delivery), both beside the ceiling of the same run.

use std::sync::Arc;

use anyhow::bail;
use bytes::Bytes;
use hyper::Method;
use serde_json::json;

use crate::cli::bench::herald::Herald;
use crate::cli::bench::herald::Target;
use crate::cli::bench::load::{drive, HttpConn, MakeRequest};
use crate::cli::bench::receiver::{seq_mark, Arrivals, Receiver};
use crate::cli::bench::report::{Outcome, Unit};
use crate::cli::bench::stats::{latencies, per_s, span, Lat};
use crate::cli::progress::ProgressHandle;

/// Records per CreateMultiple request.
pub const PER_REQUEST: usize = 1000;

/// The body of the `r`th request: records `r * per .. (r + 1) * per` (capped
/// at `n`), each carrying its sequence number for the receiver.
pub(super) fn body(r: usize, per: usize, n: usize) -> Bytes {
    let mut s = String::with_capacity(per * 140 + 16);
    s.push_str(r#"{"Targets":["#);
    for (k, i) in (r * per..((r + 1) * per).min(n)).enumerate() {
        if k > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"@odata.type":"Microsoft.Dynamics.CRM.contact","firstname":"Bench","lastname":"{}","emailaddress1":"bench{i}@example.com"}}"#,
            seq_mark(i)
        ));
    }
    s.push_str("]}");
    Bytes::from(s)
}

/// `create-multiple`: `n` records in requests of [`PER_REQUEST`] over `c`
/// clients, one async step on Create.
pub async fn create_multiple(target: &Target, n: usize, c: usize) -> anyhow::Result<Outcome> {
    let per = PER_REQUEST.min(n);
    let requests = n.div_ceil(per);
    let h = Herald::started(target).await?;
    let rx = Receiver::start(n).await?;
    let result = async {
        let api = h.api()?;
        let mut conn = HttpConn::open(h.addr).await?;
        // Warm the bulk path before the step exists (those records deliver nothing).
        let warm = Bytes::from(
            json!({"Targets": (0..100).map(|i| json!({"@odata.type": "Microsoft.Dynamics.CRM.contact", "lastname": format!("warm-{i}")})).collect::<Vec<_>>()})
                .to_string(),
        );
        for _ in 0..3 {
            let (status, _, b) = conn
                .send(api.request(Method::POST, "contacts/Microsoft.Dynamics.CRM.CreateMultiple", Some(warm.clone())))
                .await?;
            if !status.is_success() {
                bail!("warm-up CreateMultiple: {status}: {}", String::from_utf8_lossy(&b));
            }
        }
        api.register_step(&mut conn, &rx.url(), "Create", "contact", 1).await?;
        drop(conn);
        let make: MakeRequest = {
            let api = api.clone();
            Arc::new(move |r| {
                api.request(Method::POST, "contacts/Microsoft.Dynamics.CRM.CreateMultiple", Some(body(r, per, n)))
            })
        };
        let p = ProgressHandle::start(
            &format!("create-multiple: {n} records, {per} per request, {c} clients"),
            requests as u64,
        );
        let samples = drive(h.addr, c, requests, None, &p, make).await?;
        p.finish();
        let (t0, t_written) = span(&samples);
        let p = ProgressHandle::start(&format!("create-multiple: waiting for {n} deliveries"), n as u64);
        let t_delivered = rx.wait_for(Arrivals::Requests, n, &p).await?;
        p.finish();
        let mut commit_to_rx = Vec::with_capacity(n);
        for i in 0..n {
            let r = rx.arrival(i);
            if r == 0 {
                bail!("record {i} was never delivered (or its marker was not found in the body)");
            }
            commit_to_rx.push(r.saturating_sub(samples[i / per].done));
        }
        let commit_to_rx = Lat::of(commit_to_rx);
        let lat = latencies(&samples);
        Ok::<_, anyhow::Error>(
            Outcome::new(
                "create-multiple",
                json!({"n": n, "per_request": per, "concurrency": c}),
            )
            .metric("records_per_s", "records committed/s", per_s(n, t0, t_written), Unit::PerSec)
            .metric(
                "deliveries_per_s",
                "deliveries/s (first request → last delivery)",
                per_s(n, t0, t_delivered),
                Unit::PerSec,
            )
            .metric("request_p50_ms", "request latency p50", lat.p50, Unit::Ms)
            .metric("request_p99_ms", "request latency p99", lat.p99, Unit::Ms)
            .metric("commit_to_receiver_p50_ms", "commit → receiver p50", commit_to_rx.p50, Unit::Ms)
            .metric("commit_to_receiver_p99_ms", "commit → receiver p99", commit_to_rx.p99, Unit::Ms),
        )
    }
    .await;
    h.stop().await;
    result
}
