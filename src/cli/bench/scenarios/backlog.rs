//! The scenarios that measure delivery of a backlog: `drain` (N ready
//! System Jobs), `backlog` (the same with the System Jobs reads timed while
//! it waits and after it drained) and `bc` (N Business Central changes).
//! All build the backlog before anything delivers: the server is started
//! (`server::start`) but not yet served, the webhook or subscriptions are
//! registered over HTTP through a listener that serves the API router only
//! (no workers, no notifier), and the N creates run either through the
//! write pipeline in-process (`pipeline::execute`, the path every HTTP
//! write takes; `--build pipeline`, drain's default) or as CreateMultiple
//! requests of 1 000 Targets over HTTP to that listener (`--build
//! create-multiple`, backlog's default: ~2–3× faster, and the Create step
//! still fires for every record). Then `Running::serve` starts the workers
//! and the clock.
//!
//! Memory and CPU: the bench's process is herald, the receiver and the
//! (then idle) load generator together, so its resident memory is an upper
//! bound of herald's. `drain` reports `VmRSS` while the backlog waits, the
//! peak (`VmHWM`) of the build, and the peak of the drain (`VmHWM` reset at
//! its start, `procfs`), and over the drain the cores the process kept busy
//! and the machine's busy share.
//!
//! `drain --nodes 2` (PostgreSQL): after the one-node drain, a second
//! backlog on a fresh database is drained by two nodes — the bench's herald
//! and `herald serve` in a child process on the same database ([`Node`],
//! whose doc says why a process) — and the speed-up is reported with each
//! process's cores and the machine's busy share, which tells whether the
//! box (2 cores shared by both nodes, the receiver and PostgreSQL) is the
//! limit. The child starts (and begins claiming) just before the first
//! node is served and the clock starts, so its start-up costs the two-node
//! figure nothing and gives it at most the child's first ~100 ms.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::ValueEnum;
use herald_core::Value as HValue;
use herald_server::pipeline::{Message, Operation};
use hyper::Method;
use serde_json::json;

use super::bulk;
use super::job_views::{time_reads, Views};
use crate::cli::bench::herald::{Herald, StoreKind, Target};
use crate::cli::bench::load::{drive, pipeline_creates, HttpConn, MakeRequest};
use crate::cli::bench::node::Node;
use crate::cli::bench::procfs::{self, CpuSpan, RssWatch};
use crate::cli::bench::receiver::{seq_mark, Arrivals, Receiver};
use crate::cli::bench::report::{Outcome, Unit};
use crate::cli::bench::stats::{now_ns, per_s};
use crate::cli::progress::ProgressHandle;

/// How a backlog is built (`--build`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Build {
    /// One create per job through the write pipeline, in-process, on C tasks (default 8).
    Pipeline,
    /// CreateMultiple requests of 1 000 Targets over HTTP, C clients (default 4); the Create step fires for every record.
    CreateMultiple,
}

impl Build {
    fn name(self) -> &'static str {
        match self {
            Build::Pipeline => "pipeline",
            Build::CreateMultiple => "create-multiple",
        }
    }
}

/// What a drain run measures besides the drain.
#[derive(Debug, Clone, Copy)]
pub struct DrainOptions {
    pub build: Build,
    /// Concurrency of the build (pipeline tasks or HTTP clients).
    pub build_concurrency: usize,
    /// 2: also drain with two nodes (PostgreSQL).
    pub nodes: usize,
    /// Time the System Jobs reads this many times while the backlog waits
    /// and after it drained (`backlog`); the receiver then answers 400 to
    /// one job in [`FAIL_EVERY`], so the failed-jobs query has rows.
    pub view_runs: Option<usize>,
}

/// With `view_runs`, one job in this many ends Failed.
pub const FAIL_EVERY: usize = 1000;

/// `drain` / `backlog`: the one-node drain, then (with `nodes` 2) the
/// two-node drain of a second backlog of the same size.
pub async fn drain(
    target: &Target,
    n: usize,
    opts: DrainOptions,
    name: &str,
) -> anyhow::Result<Vec<Outcome>> {
    if opts.nodes > 2 {
        bail!("--nodes: 1 or 2");
    }
    if opts.nodes == 2 && target.kind != StoreKind::Postgres {
        bail!("--nodes 2 needs PostgreSQL (one SQLite file belongs to one process)");
    }
    if opts.nodes == 2 && target.use_database {
        bail!("--nodes 2 builds two backlogs on fresh databases: leave out --use-database");
    }
    let one = drain_once(target, n, opts, 1, name).await?;
    let mut out = vec![one.outcome];
    if opts.nodes == 2 {
        let two = drain_once(
            target,
            n,
            DrainOptions {
                view_runs: None,
                ..opts
            },
            2,
            &format!("{name}-2-nodes"),
        )
        .await?;
        let speedup = if one.delivered_per_s > 0.0 {
            two.delivered_per_s / one.delivered_per_s
        } else {
            0.0
        };
        out.push(two.outcome.metric(
            "speedup_vs_one_node",
            "two nodes' delivered/s ÷ one node's",
            speedup,
            Unit::Ratio,
        ));
    }
    Ok(out)
}

struct Drained {
    outcome: Outcome,
    delivered_per_s: f64,
}

async fn drain_once(
    target: &Target,
    n: usize,
    opts: DrainOptions,
    nodes: usize,
    name: &str,
) -> anyhow::Result<Drained> {
    let mut h = Herald::start(target).await?;
    let rx = match opts.view_runs {
        Some(_) => Receiver::start_failing(FAIL_EVERY).await?,
        None => Receiver::start(0).await?,
    };
    let mut node2: Option<Node> = None;
    let result = async {
        // Register over HTTP through a listener serving the API router only: no workers yet.
        let reg = h.api_only().await?;
        let mut conn = HttpConn::open(reg.addr).await?;
        let step = reg
            .api
            .register_step(&mut conn, &rx.url(), "Create", "contact", 1)
            .await?;
        drop(conn);

        // The backlog.
        let state = h.state.clone();
        let label = format!(
            "{name}: building a backlog of {n} jobs ({})",
            opts.build.name()
        );
        let (b0, b1) = match opts.build {
            Build::Pipeline => {
                let caller = state.org.admin_user_id;
                pipeline_creates(
                    &state,
                    n,
                    opts.build_concurrency,
                    &label,
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
                .await?
            }
            Build::CreateMultiple => {
                let per = bulk::PER_REQUEST.min(n);
                let requests = n.div_ceil(per);
                let make: MakeRequest = {
                    let api = reg.api.clone();
                    Arc::new(move |r| {
                        api.request(
                            Method::POST,
                            "contacts/Microsoft.Dynamics.CRM.CreateMultiple",
                            Some(bulk::body(r, per, n)),
                        )
                    })
                };
                let p = ProgressHandle::start(&label, requests as u64);
                let t0 = now_ns();
                drive(reg.addr, opts.build_concurrency, requests, None, &p, make).await?;
                p.finish();
                (t0, now_ns())
            }
        };
        let now = state.clock.now().timestamp_millis() + 1;
        let (queued, _) = state.store.queue_depth(now).await?;
        if queued != n as i64 {
            bail!("expected a backlog of {n} System Jobs, found {queued}");
        }
        let rss_waiting = procfs::rss_mb(None);
        let peak_build = procfs::peak_mb(None);
        let mut out = Outcome::new(
            name,
            json!({
                "n": n,
                "build": opts.build.name(),
                "nodes": nodes,
                "slots": h.state.config.jobs.concurrency,
                "per_endpoint": h.state.config.jobs.per_endpoint(),
            }),
        )
        .metric(
            "backlog_writes_per_s",
            &format!("backlog built ({}, records/s)", opts.build.name()),
            per_s(n, b0, b1),
            Unit::PerSec,
        );
        if let Some(runs) = opts.view_runs {
            let views = Views {
                addr: reg.addr,
                api: &reg.api,
                key: &h.key,
                step: &step,
                store: &state.store,
            };
            out = time_reads(
                &views,
                runs,
                "waiting_",
                &format!("{name}: {n} jobs waiting"),
                out,
            )
            .await?;
        }
        reg.stop().await;

        // Now the workers.
        let fresh_peak = procfs::reset_peak();
        let watch = RssWatch::start();
        if nodes == 2 {
            let url = h
                .database_url()
                .ok_or_else(|| anyhow::anyhow!("--nodes 2 needs PostgreSQL"))?;
            node2 = Some(Node::start(&url, &h.key, h.data_dir()).await?);
        }
        let db = h.database_url().and_then(|u| {
            u.rsplit('/')
                .next()
                .map(|d| d.split('?').next().unwrap_or(d).to_string())
        });
        let cpu = CpuSpan::start(node2.as_ref().map(|n| n.pid), db.as_deref());
        let p = ProgressHandle::start(
            &format!(
                "{name}: delivering {n} jobs ({nodes} node{})",
                if nodes == 1 { "" } else { "s" }
            ),
            n as u64,
        );
        let t0 = now_ns();
        h.serve();
        let t_delivered = rx.wait_for(Arrivals::Requests, n, &p).await?;
        p.finish();
        let used = cpu.end();
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
        let delivered_per_s = per_s(n, t0, t_delivered);
        out = out
            .metric(
                "delivered_per_s",
                "jobs delivered/s",
                delivered_per_s,
                Unit::PerSec,
            )
            .metric(
                "completed_per_s",
                "jobs completed/s (queue empty)",
                per_s(n, t0, t_completed),
                Unit::PerSec,
            );
        let peak_drain = if fresh_peak {
            procfs::peak_mb(None)
        } else {
            watch.max_mb()
        };
        let mb = |o: Outcome, key: &str, label: &str, v: Option<f64>| match v {
            Some(v) => o.metric(key, label, v, Unit::Mb),
            None => o,
        };
        out = mb(
            out,
            "rss_waiting_mb",
            "RSS while the backlog waits (MB, bench process)",
            rss_waiting,
        );
        out = mb(
            out,
            "peak_rss_build_mb",
            "peak RSS building it (MB, VmHWM)",
            peak_build,
        );
        out = mb(
            out,
            "peak_rss_drain_mb",
            "peak RSS during the drain (MB, VmHWM)",
            peak_drain,
        );
        let pct = |o: Outcome, key: &str, label: &str, v: Option<f64>| match v {
            Some(v) => o.metric(key, label, v * 100.0, Unit::Pct),
            None => o,
        };
        out = pct(
            out,
            "cpu_bench_process_pct",
            "CPU of the bench process (% of one core)",
            used.this_cores,
        );
        if let Some(node) = &node2 {
            out = pct(
                out,
                "cpu_node2_pct",
                "CPU of the second node (% of one core)",
                used.child_cores,
            );
            out = mb(
                out,
                "node2_peak_rss_mb",
                "second node's peak RSS (MB)",
                node.peak_mb(),
            );
        }
        if target.kind == StoreKind::Postgres {
            out = pct(
                out,
                "cpu_postgres_pct",
                "CPU of this database's PostgreSQL backends (% of one core)",
                used.postgres_cores,
            );
        }
        if let Some(busy) = used.machine_busy_pct {
            out = out.metric(
                "machine_busy_pct",
                "machine's cores busy (all processes)",
                busy,
                Unit::Pct,
            );
        }
        if let Some(runs) = opts.view_runs {
            let api = h.api()?;
            let views = Views {
                addr: h.addr,
                api: &api,
                key: &h.key,
                step: &step,
                store: &state.store,
            };
            out = time_reads(
                &views,
                runs,
                "drained_",
                &format!("{name}: {n} jobs done"),
                out,
            )
            .await?;
        }
        Ok(Drained {
            outcome: out,
            delivered_per_s,
        })
    }
    .await;
    if let Some(node) = node2.take() {
        node.stop().await;
    }
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
