//! The scenarios: which ones a `herald bench <scenario>` runs, in what
//! order and with what defaults. Each scenario runs on a fresh herald and
//! database ([`Herald`](super::herald::Herald)) and returns an
//! [`Outcome`]; the loopback ceiling is measured first (unless
//! `--ceiling-secs 0`) so that every throughput can be given beside it.

mod backlog;
mod bulk;
mod ceiling;
mod job_views;
mod query;
mod writes;

pub use backlog::Build;

use clap::ValueEnum;

use super::herald::Target;
use super::report::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Every scenario below, in this order: ceiling, create, sync-step, async, async at --rate (default 1000/s), create-multiple, query, drain, bc.
    All,
    /// Raw loopback HTTP ceiling: 5 KB POSTs to a minimal hyper server over 16 keep-alive connections.
    Ceiling,
    /// Single-record create throughput over HTTP (POST /contacts), C concurrent clients.
    Create,
    /// Latency a synchronous PostOperation webhook step adds to an update.
    SyncStep,
    /// Creates with one async step: writes/s, deliveries/s, commit → receiver latency.
    Async,
    /// CreateMultiple of 1 000 records per request (4 clients by default) with one async step: records/s, deliveries/s.
    CreateMultiple,
    /// Delivery rate of a backlog of N ready System Jobs, with the process's RSS and CPU; `--nodes 2` (PostgreSQL) also drains with two nodes.
    Drain,
    /// `drain` of N (default 1 000 000) jobs built by CreateMultiple, with the console System Jobs page and the seed's failed-jobs query timed (--runs, p50/p99) while they wait and after the drain (one job in 1 000 fails).
    Backlog,
    /// Business Central notifications/s: N (default 10 000) changed records over 100 subscriptions and 10 URLs.
    Bc,
    /// A filtered, ordered, expanded list of 1 000 rows out of N (default 100 000) contacts, with the store's plan.
    Query,
}

/// What to run, as the command line asked for it.
pub struct Selection {
    pub scenario: Scenario,
    /// `--n`: operations per scenario (each has its default).
    pub n: Option<usize>,
    /// `--concurrency`: clients for create and async (default 16),
    /// create-multiple (default 4), pipeline
    /// tasks building the drain and bc backlogs (default 8).
    pub concurrency: Option<usize>,
    /// `--rate`: pace async writes (with `all`, the paced run's rate).
    pub rate: Option<f64>,
    /// `--ceiling-secs`: 0 skips the ceiling (except for `ceiling` itself).
    pub ceiling_secs: f64,
    /// `--build`: how drain and backlog build the backlog (drain: pipeline,
    /// backlog: create-multiple).
    pub build: Option<Build>,
    /// `--nodes`: drain with one node, or also with two (PostgreSQL).
    pub nodes: usize,
    /// `--runs`: timed runs of each read of `backlog`.
    pub runs: usize,
}

/// What a run measured.
pub struct Results {
    /// The ceiling's requests/s, when it was measured.
    pub ceiling_rps: Option<f64>,
    pub outcomes: Vec<Outcome>,
}

/// Tasks (pipeline) or clients (CreateMultiple) building a backlog.
fn build_concurrency(sel: &Selection, build: Build) -> usize {
    let default = match build {
        Build::Pipeline => 8,
        Build::CreateMultiple => 4,
    };
    sel.concurrency.unwrap_or(default).max(1)
}

/// Run the selected scenarios, one after another, on `target`.
pub async fn run(sel: &Selection, target: &Target) -> anyhow::Result<Results> {
    let s = sel.scenario;
    let all = s == Scenario::All;
    let c = sel.concurrency.unwrap_or(16).max(1);
    let backlog_tasks = sel.concurrency.unwrap_or(8).max(1);
    let n = |default: usize| sel.n.unwrap_or(default).max(1);
    let mut outcomes = Vec::new();
    let mut ceiling_rps = None;
    let secs = if s == Scenario::Ceiling && sel.ceiling_secs <= 0.0 {
        3.0
    } else {
        sel.ceiling_secs
    };
    if secs > 0.0 {
        let o = ceiling::ceiling(secs).await?;
        ceiling_rps = o.first_value();
        outcomes.push(o);
    }
    if all || s == Scenario::Create {
        outcomes.push(writes::create(target, n(20_000), c).await?);
    }
    if all || s == Scenario::SyncStep {
        outcomes.push(writes::sync_step(target, n(2_000)).await?);
    }
    if all || s == Scenario::Async {
        let rate = if all { None } else { sel.rate };
        outcomes.push(writes::async_step(target, n(10_000), c, rate).await?);
    }
    if all {
        let rate = Some(sel.rate.unwrap_or(1000.0));
        outcomes.push(writes::async_step(target, n(10_000), c, rate).await?);
    }
    if all || s == Scenario::CreateMultiple {
        let c = sel.concurrency.unwrap_or(4).max(1);
        outcomes.push(bulk::create_multiple(target, n(50_000), c).await?);
    }
    if all || s == Scenario::Query {
        outcomes.push(query::query(target, n(100_000)).await?);
    }
    if all || s == Scenario::Drain {
        // `all` keeps to a few minutes on SQLite: a 20 000-job backlog there.
        let n = n(if all { 20_000 } else { 100_000 });
        let build = sel.build.unwrap_or(Build::Pipeline);
        let opts = backlog::DrainOptions {
            build,
            build_concurrency: build_concurrency(sel, build),
            nodes: sel.nodes,
            view_runs: None,
        };
        outcomes.extend(backlog::drain(target, n, opts, "drain").await?);
    }
    if s == Scenario::Backlog {
        let build = sel.build.unwrap_or(Build::CreateMultiple);
        let opts = backlog::DrainOptions {
            build,
            build_concurrency: build_concurrency(sel, build),
            nodes: sel.nodes,
            view_runs: Some(sel.runs.max(1)),
        };
        outcomes.extend(backlog::drain(target, n(1_000_000), opts, "backlog").await?);
    }
    if all || s == Scenario::Bc {
        outcomes.push(backlog::bc(target, n(10_000), backlog_tasks).await?);
    }
    Ok(Results {
        ceiling_rps,
        outcomes,
    })
}
