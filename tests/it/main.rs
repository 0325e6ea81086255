//! herald's integration tests, as ONE test binary (`cargo test --test it`):
//! a real herald (in-process on a loopback port, or the real binary) driven
//! over HTTP and the command line, on SQLite and — when
//! `HERALD_TEST_DATABASE_URL` is set — PostgreSQL.
//!
//! One binary rather than one per file: the harness in [`common`] and the
//! herald crates are compiled and linked once, not once per file, and a
//! helper no module calls is reported as dead code. Each module below is one
//! area of behaviour; run one with `cargo test --test it <module>::`, e.g.
//! `cargo test --test it web_api::`.

#[macro_use]
mod common;

mod audit;
mod batch;
mod bc;
mod bench_cli;
mod bins;
mod bulk;
mod bulk_delete;
mod cli;
mod cli_https;
mod cli_jobs;
mod cli_registration;
mod clients;
mod config_example;
mod console;
mod crash;
mod doctor;
mod edge;
mod edge_framing;
mod fetchxml_paging;
mod jobs;
mod keys;
mod malformed;
mod metadata;
mod metadata_csdl;
mod metrics;
mod multinode;
mod openapi;
mod readme;
mod refs;
mod roles;
mod secrets;
mod seed_queries;
mod signatures;
mod sql;
mod targets;
mod throttle;
mod user_tables;
mod web_api;
mod webhooks;
