//! The scenarios that measure delivery of a backlog: `drain` (N ready
//! System Jobs) and `bc` (N Business Central changes). Both build the
//! backlog before anything delivers: the server is started
//! (`server::start`) but not yet served, the webhook or subscriptions are
//! registered over HTTP through a listener that serves the API router only
//! (no workers, no notifier), and the N creates run through the write
//! pipeline in-process (`pipeline::execute`, the path every HTTP write
//! takes). Then `Running::serve` starts the workers and the clock.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;
use herald_core::Value as HValue;
use herald_server::pipeline::{Message, Operation};
use hyper::Method;
use serde_json::json;

use crate::cli::bench::herald::{Herald, Target};
use crate::cli::bench::load::{pipeline_creates, HttpConn};
use crate::cli::bench::receiver::{seq_mark, Arrivals, Receiver};
use crate::cli::bench::report::{Outcome, Unit};
use crate::cli::bench::stats::{now_ns, per_s};
use crate::cli::progress::ProgressHandle;

/// `drain`: a backlog of `n` ready System Jobs, delivered as fast as the
/// workers go.
pub async fn drain(target: &Target, n: usize, c: usize) -> anyhow::Result<Outcome> {
    let mut h = Herald::start(target).await?;
    let rx = Receiver::start(0).await?;
    let result = async {
        // Register over HTTP through a listener serving the API router only: no workers yet.
        let reg = h.api_only().await?;
        let mut conn = HttpConn::open(reg.addr).await?;
        reg.api
            .register_step(&mut conn, &rx.url(), "Create", "contact", 1)
            .await?;
        drop(conn);
        reg.stop().await;

        // The backlog: N creates through the write pipeline, in-process.
        let state = h.state.clone();
        let caller = state.org.admin_user_id;
        let (b0, b1) = pipeline_creates(
            &state,
            n,
            c,
            &format!("drain: building a backlog of {n} jobs"),
            "backlog write",
            move |i| {
                Operation::new(
                    Message::Create,
                    "contact",
                    None,
                    vec![
                        ("firstname".into(), HValue::String("Bench".into())),
                        ("lastname".into(), HValue::String(seq_mark(i))),
                    ],
                    caller,
                )
            },
        )
        .await?;
        let now = state.clock.now().timestamp_millis() + 1;
        let (queued, _) = state.store.queue_depth(now).await?;
        if queued != n as i64 {
            bail!("expected a backlog of {n} System Jobs, found {queued}");
        }

        // Now the workers.
        let p = ProgressHandle::start(&format!("drain: delivering {n} jobs"), n as u64);
        let t0 = now_ns();
        h.serve();
        let t_delivered = rx.wait_for(Arrivals::Requests, n, &p).await?;
        p.finish();
        let state = &state;
        poll_until(
            Duration::from_secs(120),
            "the queue did not empty within 120 s after the last delivery",
            move || async move {
                let now = state.clock.now().timestamp_millis() + 1;
                Ok(state.store.queue_depth(now).await?.0 == 0)
            },
        )
        .await?;
        let t_completed = now_ns();
        Ok(Outcome::new("drain", json!({"n": n}))
            .metric(
                "backlog_writes_per_s",
                "backlog built (in-process writes/s)",
                per_s(n, b0, b1),
                Unit::PerSec,
            )
            .metric(
                "delivered_per_s",
                "jobs delivered/s",
                per_s(n, t0, t_delivered),
                Unit::PerSec,
            )
            .metric(
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
pub async fn bc(target: &Target, n: usize, c: usize) -> anyhow::Result<Outcome> {
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
            let api = &reg.api;
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
        let (b0, b1) = pipeline_creates(
            &state,
            n,
            c,
            &format!("bc: {n} changes"),
            "change",
            move |i| {
                let (company, table) = streams[i % streams.len()];
                Operation::new(
                    Message::Create,
                    table,
                    None,
                    vec![("companyid".into(), HValue::Guid(company))],
                    caller,
                )
            },
        )
        .await?;
        let captured = state.store.bc_pending_changes().await?;
        if captured != n as i64 {
            bail!("expected {n} captured BC changes, found {captured}");
        }
        // Every window is due when the notifier starts.
        tokio::time::sleep(delay).await;

        let p = ProgressHandle::start(&format!("bc: delivering {n} notifications"), n as u64);
        let t0 = now_ns();
        h.serve();
        let t_delivered = rx.wait_for(Arrivals::Notifications, n, &p).await?;
        p.finish();
        poll_until(
            Duration::from_secs(60),
            "BC notifications were still pending 60 s after the last delivery",
            || async {
                Ok(state.store.bc_pending_notifications().await? == 0
                    && state.store.bc_pending_changes().await? == 0)
            },
        )
        .await?;
        let entries = rx.entries();
        if entries != n as u64 {
            bail!("the subscribers got {entries} notifications for {n} changes");
        }
        let posts = rx.count();
        Ok::<_, anyhow::Error>(
            Outcome::new(
                "bc",
                json!({"n": n, "subscriptions": subscriptions, "urls": BC_URLS}),
            )
            .metric(
                "changes_per_s",
                "changes captured (in-process writes/s)",
                per_s(n, b0, b1),
                Unit::PerSec,
            )
            .metric(
                "notifications_per_s",
                "notifications delivered/s",
                per_s(n, t0, t_delivered),
                Unit::PerSec,
            )
            .metric(
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

/// Poll `settled` every 5 ms until it holds; fails with `timeout` once
/// `within` has passed without.
async fn poll_until<F, Fut>(within: Duration, timeout: &str, mut settled: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + within;
    loop {
        if settled().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{timeout}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
