//! Business Central (SPEC §5, seed 004): the data API, subscriptions with
//! the validation handshake, and notifications — delay window, coalescing,
//! batching per URL, collection, retries over 36 h, expiry, restarts —
//! against a real loopback subscriber, on SQLite and PostgreSQL.
//!
//! The server runs on a manual clock and its background notifier is held:
//! each test moves the clock and calls `bc::tick` itself, so hours and days
//! pass in milliseconds and every step is deterministic ([`harness`]).

mod harness;

mod data;
mod expiry;
mod failures;
mod lines;
mod metadata;
mod notifications;
mod numbering;
mod subscriptions;
