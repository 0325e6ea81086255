//! The scenarios that write over HTTP to a served herald, as clients do:
//! `create` (throughput and latency of creates), `sync-step` (what one
//! synchronous webhook step adds to an update) and `async` (creates with
//! one asynchronous step: how fast the writes go and how soon the receiver
//! sees each of them).

use std::sync::Arc;

use anyhow::bail;
use bytes::Bytes;
use hyper::Method;
use serde_json::json;

use crate::cli::bench::herald::{Herald, Target};
use crate::cli::bench::load::{drive, HttpConn, MakeRequest};
use crate::cli::bench::receiver::{Arrivals, Receiver};
use crate::cli::bench::report::{Outcome, Unit};
use crate::cli::bench::stats::{latencies, per_s, span, Lat};
use crate::cli::progress::ProgressHandle;

/// `create`: `POST /contacts` throughput and latency with `c` clients.
pub async fn create(target: &Target, n: usize, c: usize) -> anyhow::Result<Outcome> {
    let h = Herald::started(target).await?;
    let result = async {
        let api = h.api()?;
        let warm = (n / 10).clamp(1, 200);
        let make = api.contact_creates();
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
                .metric("creates_per_s", "creates/s", per_s(n, t0, t1), Unit::PerSec)
                .metric("latency_p50_ms", "latency p50", lat.p50, Unit::Ms)
                .metric("latency_p99_ms", "latency p99", lat.p99, Unit::Ms),
        )
    }
    .await;
    h.stop().await;
    result
}

/// `sync-step`: sequential updates of one record (one client), in
/// alternating blocks with one synchronous PostOperation step to the
/// receiver disabled and enabled (so machine noise hits both sides alike);
/// the difference of the percentiles is what the step adds.
pub async fn sync_step(target: &Target, n: usize) -> anyhow::Result<Outcome> {
    let h = Herald::started(target).await?;
    let rx = Receiver::start(0).await?;
    let result = async {
        let api = h.api()?;
        let mut conn = HttpConn::open(h.addr).await?;
        let id = api.create(&mut conn, "contacts", &json!({"lastname": "sync-step"})).await?;
        let path = format!("contacts({id})");
        let make: MakeRequest = {
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
            .metric("without_p50_ms", "update p50, no step", a.p50, Unit::Ms)
            .metric("without_p99_ms", "update p99, no step", a.p99, Unit::Ms)
            .metric("with_p50_ms", "update p50, 1 sync step", b.p50, Unit::Ms)
            .metric("with_p99_ms", "update p99, 1 sync step", b.p99, Unit::Ms)
            .metric("added_p50_ms", "added by the step, p50", b.p50 - a.p50, Unit::Ms)
            .metric("added_p99_ms", "added by the step, p99", b.p99 - a.p99, Unit::Ms))
    }
    .await;
    h.stop().await;
    result
}

/// `async` (`async-paced` with a `rate`): `n` creates with one
/// asynchronous step to the receiver — writes/s, deliveries/s, and commit →
/// receiver latency. Each record carries its [`seq_mark`](crate::cli::bench::receiver::seq_mark);
/// the receiver stamps its arrival, the client stamps the commit when the
/// 204 comes back. `rate` paces the writes (open loop).
pub async fn async_step(
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
        let make = api.contact_creates();
        let label = match rate {
            Some(r) => format!("async: {n} writes at {r}/s, {c} clients"),
            None => format!("async: {n} writes, {c} clients"),
        };
        let p = ProgressHandle::start(&label, n as u64);
        let samples = drive(h.addr, c, n, rate, &p, make).await?;
        p.finish();
        let (t0, t_written) = span(&samples);
        let p = ProgressHandle::start(&format!("async: waiting for {n} deliveries"), n as u64);
        let t_delivered = rx.wait_for(Arrivals::Requests, n, &p).await?;
        p.finish();
        let mut commit_to_rx = Vec::with_capacity(n);
        let mut send_to_rx = Vec::with_capacity(n);
        let mut early = 0usize;
        for (i, s) in samples.iter().enumerate() {
            let r = rx.arrival(i);
            if r == 0 {
                bail!("record {i} was never delivered (or its marker was not found in the body)");
            }
            if r < s.done {
                early += 1;
            }
            commit_to_rx.push(r.saturating_sub(s.done));
            send_to_rx.push(r - s.sent);
        }
        let commit_to_rx = Lat::of(commit_to_rx);
        let send_to_rx = Lat::of(send_to_rx);
        let lat = latencies(&samples);
        let name = if rate.is_some() {
            "async-paced"
        } else {
            "async"
        };
        Ok(
            Outcome::new(name, json!({"n": n, "concurrency": c, "rate": rate}))
                .metric(
                    "writes_per_s",
                    "writes/s",
                    per_s(n, t0, t_written),
                    Unit::PerSec,
                )
                .metric(
                    "deliveries_per_s",
                    "deliveries/s (first write → last delivery)",
                    per_s(n, t0, t_delivered),
                    Unit::PerSec,
                )
                .metric("write_p50_ms", "write latency p50", lat.p50, Unit::Ms)
                .metric("write_p99_ms", "write latency p99", lat.p99, Unit::Ms)
                .metric(
                    "commit_to_receiver_p50_ms",
                    "commit → receiver p50",
                    commit_to_rx.p50,
                    Unit::Ms,
                )
                .metric(
                    "commit_to_receiver_p99_ms",
                    "commit → receiver p99",
                    commit_to_rx.p99,
                    Unit::Ms,
                )
                .metric(
                    "send_to_receiver_p99_ms",
                    "write sent → receiver p99",
                    send_to_rx.p99,
                    Unit::Ms,
                )
                .metric(
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
