//! What one delivery produced: the attempts made, the outcome, and for a
//! failure its kind and a human sentence (what a System Job's `message`
//! and a sync step's "Endpoint unavailable" error say).
//!
//! Messages never contain the request URL's query string or headers, so a
//! WebhookKey / HttpQueryString secret cannot leak into stored job messages
//! or logs: the target is named as `host:port` only.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::guard::{RefusedTarget, ResolveFailed};
use crate::transport::SendError;

/// One HTTP exchange (or a try refused before any byte was sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    /// The answer's status; None when no answer arrived.
    pub status: Option<u16>,
    /// Why this attempt did not succeed (None for a 2xx).
    pub error: Option<String>,
    /// The first [`crate::EXCERPT_BYTES`] bytes of the answer's body, lossy
    /// UTF-8; empty when there was no answer.
    pub response_excerpt: String,
}

/// Every attempt made for one webhook call, in order, and how it ended.
/// There is always at least one attempt and at most two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub attempts: Vec<Attempt>,
    pub outcome: Outcome,
}

impl Delivery {
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, Outcome::Succeeded { .. })
    }

    /// The failure, when the delivery failed.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.outcome {
            Outcome::Failed(f) => Some(f),
            Outcome::Succeeded { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Succeeded {
        status: u16,
    },
    Failed(Failure),
}

/// Why a request failed, as a kind to branch on and a sentence to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Failure {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The endpoint answered with this non-2xx status (3xx included:
    /// redirects are not followed).
    Status(u16),
    /// No answer (or no connection) within the time allowed.
    Timeout,
    /// Could not connect, the name did not resolve, or the connection
    /// broke before an answer arrived.
    Connect,
    /// The SSRF guard refused the target (nothing was sent).
    Refused,
    /// The URL is not an absolute http(s) URL with a host.
    InvalidUrl,
    /// Anything else (e.g. an auth header that is not a valid header).
    Other,
}

/// `60 s`, `1.5 s`, `300 ms`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{ms} ms")
    }
}

/// `500 Internal Server Error`, or just `599` for an unknown code.
pub fn status_text(status: u16) -> String {
    match http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// The failure for a non-2xx answer.
pub(crate) fn status_failure(status: u16, location: Option<&str>) -> Failure {
    let mut message = format!("The webhook endpoint answered {}", status_text(status));
    if (300..400).contains(&status) {
        message.push_str("; redirects are not followed");
        if let Some(loc) = location {
            let loc: String = loc.chars().take(200).collect();
            message.push_str(&format!(" (Location: {loc})"));
        }
    }
    Failure::new(FailureKind::Status(status), message)
}

fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

/// The innermost cause's text (the client's errors never contain the
/// URL, whose query may hold a secret).
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(e) = last.source() {
        last = e;
    }
    last.to_string()
}

/// Map a transport error to a [`Failure`]. `target` is `host:port`.
pub(crate) fn classify(
    err: &SendError,
    target: &str,
    timeout: Duration,
    connect_timeout: Duration,
) -> Failure {
    let err = match err {
        SendError::Timeout => {
            return Failure::new(
                FailureKind::Timeout,
                format!("No answer within {} (timeout)", fmt_duration(timeout)),
            )
        }
        SendError::Client(e) => e,
    };
    let chain: &(dyn StdError + 'static) = err;
    if let Some(r) = find::<RefusedTarget>(chain) {
        return Failure::new(FailureKind::Refused, format!("Target refused: {r}"));
    }
    let io = find::<io::Error>(chain);
    if err.is_connect() && io.map(io::Error::kind) == Some(io::ErrorKind::TimedOut) {
        return Failure::new(
            FailureKind::Timeout,
            format!(
                "Could not connect to {target} within {} (connect timeout)",
                fmt_duration(connect_timeout)
            ),
        );
    }
    if let Some(r) = find::<ResolveFailed>(chain) {
        return Failure::new(
            FailureKind::Connect,
            format!("Could not resolve {}: {}", r.host, r.source),
        );
    }
    if let Some(io) = io {
        match io.kind() {
            io::ErrorKind::ConnectionRefused => {
                return Failure::new(
                    FailureKind::Connect,
                    format!("Connection refused by {target}"),
                );
            }
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => {
                return Failure::new(
                    FailureKind::Connect,
                    format!(
                        "The connection to {target} was closed before an answer arrived ({io})"
                    ),
                );
            }
            _ => {}
        }
    }
    if err.is_connect() {
        return Failure::new(
            FailureKind::Connect,
            format!("Could not connect to {target}: {}", root_cause(chain)),
        );
    }
    // The connection was there and the exchange broke off, e.g. hyper's
    // "connection closed before message completed".
    Failure::new(
        FailureKind::Connect,
        format!(
            "The connection to {target} failed before an answer arrived: {}",
            root_cause(chain)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_secs(60)), "60 s");
        assert_eq!(fmt_duration(Duration::from_millis(300)), "300 ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn status_messages() {
        assert_eq!(
            status_failure(500, None).message,
            "The webhook endpoint answered 500 Internal Server Error"
        );
        assert_eq!(
            status_failure(599, None).message,
            "The webhook endpoint answered 599"
        );
        let f = status_failure(302, Some("https://elsewhere.example/"));
        assert_eq!(f.kind, FailureKind::Status(302));
        assert_eq!(
            f.message,
            "The webhook endpoint answered 302 Found; redirects are not followed \
             (Location: https://elsewhere.example/)"
        );
    }
}
