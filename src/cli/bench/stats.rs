//! The bench's clock and the statistics over its readings: nanosecond
//! time stamps on one process-wide epoch (so the receiver's arrival times
//! and the load generator's send/answer times compare directly), rates,
//! and nearest-rank percentiles. Kept apart so every other part of the
//! bench measures with the same clock.

use std::sync::OnceLock;
use std::time::Instant;

/// The instant every time stamp counts from; fixed by the first call
/// (`bench::run` makes it at start).
pub fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// Nanoseconds since the bench started (never 0, so 0 can mean "unset").
pub fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64 + 1
}

pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `count` events over `from_ns..to_ns`, per second (0 over an empty span).
pub fn per_s(count: usize, from_ns: u64, to_ns: u64) -> f64 {
    let secs = to_ns.saturating_sub(from_ns) as f64 / 1e9;
    if secs <= 0.0 {
        0.0
    } else {
        count as f64 / secs
    }
}

/// One request's client-side times.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub sent: u64,
    pub done: u64,
}

/// The p50 and p99 of a set of durations, in milliseconds.
pub struct Lat {
    pub p50: f64,
    pub p99: f64,
}

impl Lat {
    /// The percentiles of `durations_ns` (in any order).
    pub fn of(mut durations_ns: Vec<u64>) -> Lat {
        durations_ns.sort_unstable();
        Lat {
            p50: ms(pct(&durations_ns, 50.0)),
            p99: ms(pct(&durations_ns, 99.0)),
        }
    }
}

/// Sent → answered, per request.
pub fn latencies(samples: &[Sample]) -> Lat {
    Lat::of(samples.iter().map(|s| s.done - s.sent).collect())
}

/// The first send and the last answer of `samples`.
pub fn span(samples: &[Sample]) -> (u64, u64) {
    let first = samples.iter().map(|s| s.sent).min().unwrap_or(0);
    let last = samples.iter().map(|s| s.done).max().unwrap_or(0);
    (first, last)
}
