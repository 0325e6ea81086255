//! Throttling failed sign-ins per client address (issue 15): every request
//! that offered an API key (`Authorization`, the console's sign-in form)
//! and was answered 401 costs its client address a token; an address that
//! has spent its burst ([`BURST`] tokens, one back every [`REFILL`]) gets
//! `429 Too Many Requests` with `Retry-After` instead of the 401, for a
//! penalty that doubles each time it runs dry again (from [`FIRST_PENALTY`]
//! up to [`MAX_PENALTY`]) and is forgiven once its bucket is full again.
//!
//! Only failures are counted and only failures are turned into 429s: a
//! request whose key is valid is never delayed or refused, even from an
//! address being throttled (keys are 238 random bits: the throttle is
//! there against noise and to make guessing visible, not to make a
//! guessable secret safe). Addresses are throttled apart: IPv4 by address,
//! IPv6 by /64 (one host's usual allocation). The table is bounded
//! ([`MAX_ADDRESSES`]): when full, addresses with a full bucket and no
//! penalty are dropped first, then the least recently seen.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::{codes, ApiError};
use crate::public_origin::PeerAddr;
use crate::state::SharedState;

/// Failures an address may make at once.
pub const BURST: f64 = 10.0;
/// One failure is forgiven every this long.
pub const REFILL: Duration = Duration::from_secs(6);
/// The first penalty; each next one doubles.
pub const FIRST_PENALTY: Duration = Duration::from_secs(1);
pub const MAX_PENALTY: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at most.
pub const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
    /// How often the bucket ran dry without being forgiven in between.
    strikes: u32,
    blocked_until: Option<Instant>,
}

/// The per-address failure buckets.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// The address a client is throttled by: IPv4 as it is (IPv4-mapped IPv6
/// too), IPv6 by its /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = v6.to_bits() & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from_bits(bits))
            }
        },
    }
}

impl Throttle {
    /// Record a failed key check from `ip` at `now`: `Some(retry_after)`
    /// when the address is throttled (answer 429), `None` when the failure
    /// is within its burst (answer as usual).
    pub fn failure(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let key = client_key(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= MAX_ADDRESSES {
            evict(&mut buckets, now);
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: BURST,
            last: now,
            strikes: 0,
            blocked_until: None,
        });
        refill(b, now);
        if let Some(until) = b.blocked_until.filter(|u| *u > now) {
            return Some(until - now);
        }
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return None;
        }
        let penalty = FIRST_PENALTY
            .saturating_mul(1u32 << b.strikes.min(20))
            .min(MAX_PENALTY);
        b.strikes = b.strikes.saturating_add(1);
        b.blocked_until = Some(now + penalty);
        Some(penalty)
    }

    /// How many addresses are remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn refill(b: &mut Bucket, now: Instant) {
    let gained = now.saturating_duration_since(b.last).as_secs_f64() / REFILL.as_secs_f64();
    b.tokens = (b.tokens + gained).min(BURST);
    b.last = now;
    if b.tokens >= BURST && b.blocked_until.is_none_or(|u| u <= now) {
        // A full bucket after the penalty: forgiven.
        b.strikes = 0;
        b.blocked_until = None;
    }
}

/// Make room: forget forgiven addresses, else the least recently seen.
fn evict(buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) {
    buckets.retain(|_, b| {
        refill(b, now);
        b.strikes > 0 || b.tokens < BURST
    });
    while buckets.len() >= MAX_ADDRESSES {
        let Some(oldest) = buckets.iter().min_by_key(|(_, b)| b.last).map(|(k, _)| *k) else {
            break;
        };
        buckets.remove(&oldest);
    }
}

/// Whether a request offered a key: an `Authorization` header, or the
/// console's sign-in form.
fn offers_key(req: &Request) -> bool {
    req.headers().contains_key(header::AUTHORIZATION)
        || (req.method() == Method::POST && req.uri().path() == "/console/login")
}

/// The middleware: counts failed key checks and answers 429 for an address
/// past its burst.
pub async fn layer(
    State((state, throttle)): State<(SharedState, Arc<Throttle>)>,
    req: Request,
    next: Next,
) -> Response {
    let counted = offers_key(&req);
    let peer = req
        .extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|ConnectInfo(PeerAddr(a))| a.ip());
    let console = req.uri().path().starts_with("/console");
    let resp = next.run(req).await;
    if !counted || resp.status() != StatusCode::UNAUTHORIZED {
        return resp;
    }
    state.metrics.auth_failures.inc();
    // Without a peer address (a router served without connect info, as in
    // some tests) there is no one to throttle.
    let Some(ip) = peer else { return resp };
    match throttle.failure(ip, Instant::now()) {
        None => resp,
        Some(wait) => {
            state.metrics.auth_throttled.inc();
            too_many(wait, console)
        }
    }
}

/// The 429: an OData error (an HTML page for the console) with `Retry-After`.
fn too_many(wait: Duration, console: bool) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let message =
        format!("Too many failed sign-ins from this address: try again in {secs} s (Retry-After)");
    let mut resp = if console {
        crate::console::too_many_sign_ins(&message)
    } else {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_REQUESTS,
            message,
        )
        .into_response()
    };
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_passes_then_penalties_grow_and_are_forgiven() {
        let t = Throttle::default();
        let a = ip("127.0.0.9");
        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(t.failure(a, start), None);
        }
        assert_eq!(t.failure(a, start), Some(FIRST_PENALTY));
        // Still blocked: the time left.
        let half = start + Duration::from_millis(500);
        assert_eq!(t.failure(a, half), Some(Duration::from_millis(500)));
        // After the penalty, an empty bucket (one token regained in 6 s).
        let later = start + REFILL + Duration::from_millis(10);
        assert_eq!(t.failure(a, later), None);
        assert_eq!(t.failure(a, later), Some(FIRST_PENALTY * 2), "doubles");
        let again = later + REFILL * 2 + Duration::from_millis(10);
        assert_eq!(t.failure(a, again), None);
        assert_eq!(t.failure(a, again), None);
        assert_eq!(t.failure(a, again), Some(FIRST_PENALTY * 4));
        // A full bucket forgives the strikes.
        let rested = again + REFILL * 11;
        for _ in 0..10 {
            assert_eq!(t.failure(a, rested), None);
        }
        assert_eq!(t.failure(a, rested), Some(FIRST_PENALTY));
    }

    #[test]
    fn addresses_are_apart_and_ipv6_counts_by_64() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..11 {
            t.failure(ip("127.0.0.2"), now);
        }
        assert!(t.failure(ip("127.0.0.2"), now).is_some());
        assert_eq!(t.failure(ip("127.0.0.3"), now), None);
        assert_eq!(
            client_key(ip("2001:db8::1")),
            client_key(ip("2001:db8::ffff:1"))
        );
        assert_ne!(
            client_key(ip("2001:db8::1")),
            client_key(ip("2001:db8:0:1::1"))
        );
        assert_eq!(client_key(ip("::ffff:127.0.0.2")), ip("127.0.0.2"));
    }

    #[test]
    fn the_table_is_bounded() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 50) {
            t.failure(
                IpAddr::V4(std::net::Ipv4Addr::from_bits(0x0a00_0000 + i)),
                now,
            );
        }
        assert!(t.len() <= MAX_ADDRESSES);
    }
}
