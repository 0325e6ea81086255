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
//! - `create-multiple`: N records (default 50 000) sent as
//!   `contacts/Microsoft.Dynamics.CRM.CreateMultiple` requests of 1 000
//!   `Targets` from C clients (default 4), with one asynchronous step on
//!   Create (fired for every record): records committed/s and
//!   deliveries/s, each record's delivery found by its sequence number.
//! - `drain`: a backlog of N ready System Jobs, delivered as fast as the
//!   workers go. The backlog is built before the workers exist: the server
//!   is started (`server::start`) but not yet served, the webhook and step
//!   are registered over HTTP through a temporary listener that serves the
//!   API router only (no workers), and the N creates run through the write
//!   pipeline in-process (`pipeline::execute`, the path every HTTP write
//!   takes). Then `Running::serve` starts the workers and the clock.
//!   The report gives the process's resident memory while the backlog
//!   waits and its peaks (the process is server, receiver and load
//!   generator together), and the CPU the process and the machine used
//!   over the drain. `--build create-multiple` builds the backlog with
//!   CreateMultiple requests over HTTP instead (faster); `--nodes 2`
//!   (PostgreSQL) then also drains a second backlog with two nodes, the
//!   second `herald serve` in a child process.
//! - `backlog`: `drain` of N (default 1 000 000) jobs built with
//!   CreateMultiple, and while they wait (and again once drained) the
//!   console's System Jobs page and the seed's failed-jobs query, each
//!   timed `--runs` times over HTTP (p50 / p99).
//! - `bc`: Business Central notifications/s — N changed records over 100
//!   subscriptions and 10 notification URLs, captured the same way before
//!   the notifier runs, then delivered by it.
//!
//! Progress goes to stderr as an `indicatif` bar per phase when stderr is a
//! terminal (a start and an end line per phase otherwise): see
//! [`crate::cli::progress`], shared with `herald job retry --failed`.
//!
//! The parts, one file each: [`receiver`] (the webhook target), [`load`]
//! (the load generator: HTTP clients and in-process pipeline writes),
//! [`herald`] (one server and database per scenario), [`node`] (a second
//! node as a child process), [`procfs`] (memory and CPU from `/proc`), [`scenarios`] (what
//! each measures and which run), [`report`] (table or JSON), with
//! [`stats`] (clock, rates, percentiles) beside them.
//! This file only turns the command line into a run.

mod herald;
mod load;
mod node;
mod procfs;
mod receiver;
mod report;
mod scenarios;
mod stats;

use anyhow::bail;
use clap::{Args, ValueEnum};

use herald::{StoreKind, Target};
use report::{load_average, print_report, Format};
use scenarios::{Build, Scenario, Selection};

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
    /// Operations per scenario (default: create 20000, sync-step 2000, async 10000 (paced too), create-multiple 50000 records, drain 100000 — 20000 within `all`, backlog 1000000, bc 10000 changed records).
    #[arg(long)]
    n: Option<usize>,
    /// Concurrent clients (keep-alive connections) for create and async (default 16), create-multiple (default 4); pipeline tasks building the drain and bc backlogs (default 8).
    #[arg(long, short = 'c')]
    concurrency: Option<usize>,
    /// Pace async writes at R per second (open loop). With `all`, the paced run uses this (default 1000).
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// How drain and backlog build their backlog (default: drain pipeline, backlog create-multiple).
    #[arg(long, value_enum)]
    build: Option<Build>,
    /// drain / backlog: 2 also drains a second backlog with two nodes on one PostgreSQL database (the second a `herald serve` child process).
    #[arg(long, default_value_t = 1, value_name = "1|2")]
    nodes: usize,
    /// backlog: timed runs of each System Jobs read.
    #[arg(long, default_value_t = 60)]
    runs: usize,
    /// Seconds of the ceiling measurement (0: skip it; no ratios then).
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    ceiling_secs: f64,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: Format,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    crate::cli::logging::to_stderr("warn,sqlx=error");
    stats::epoch();
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
    let name = args
        .scenario
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    eprintln!("herald bench {name} on {store}");
    let cores = report::cores();
    if let Some(load) = load_average() {
        if load > cores as f64 * 0.5 {
            eprintln!("warning: this machine is busy (load average {load:.1} on {cores} cores): the figures will be noisy");
        }
    }

    let selection = Selection {
        scenario: args.scenario,
        n: args.n,
        concurrency: args.concurrency,
        rate: args.rate,
        ceiling_secs: args.ceiling_secs,
        build: args.build,
        nodes: args.nodes,
        runs: args.runs,
    };
    let results = scenarios::run(&selection, &target).await?;
    print_report(args.output, store, results.ceiling_rps, &results.outcomes);
    Ok(())
}
