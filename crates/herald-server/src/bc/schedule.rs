//! When to try a failed notification batch again (SPEC §5): no answer,
//! 408, 429 and 5xx are retried after 1 min, 10 min, 100 min, then every
//! 6 h (plus up to 10 % jitter), a `Retry-After` answer is honoured, and
//! nothing is tried later than 36 h after the first failure — the last try
//! happens at that mark, and a failure there gives up.

use chrono::{DateTime, Duration, Utc};

/// How long a URL may keep failing before its batch is dropped.
pub fn horizon() -> Duration {
    Duration::hours(36)
}

/// The pause after the `failures`-th consecutive failure (1-based);
/// `jitter` in [0, 1) stretches the 6-hour steps by up to 10 %.
pub fn delay(failures: i64, jitter: f64) -> Duration {
    match failures {
        ..=1 => Duration::minutes(1),
        2 => Duration::minutes(10),
        3 => Duration::minutes(100),
        _ => {
            Duration::hours(6)
                + Duration::milliseconds((jitter.clamp(0.0, 1.0) * 0.1 * 6.0 * 3_600_000.0) as i64)
        }
    }
}

/// Whether a status is worth retrying (408, 429, 5xx).
pub fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// `Retry-After` as seconds or an HTTP date, as an instant.
pub fn retry_after(value: Option<&str>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let v = value?.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return Some(now + Duration::seconds(secs.clamp(0, 10 * 86_400)));
    }
    DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|t| t.with_timezone(&Utc).max(now))
}

/// The next attempt after a retryable failure at `now`, or None to give up.
pub fn next_attempt(
    first_failure: DateTime<Utc>,
    now: DateTime<Utc>,
    failures: i64,
    retry_after: Option<DateTime<Utc>>,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let deadline = first_failure + horizon();
    if now >= deadline {
        return None;
    }
    let wanted = retry_after.unwrap_or_else(|| now + delay(failures, jitter));
    Some(wanted.min(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: f64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::milliseconds((h * 3_600_000.0) as i64)
    }

    #[test]
    fn grows_then_stops_at_36_hours() {
        assert_eq!(delay(1, 0.5), Duration::minutes(1));
        assert_eq!(delay(2, 0.5), Duration::minutes(10));
        assert_eq!(delay(3, 0.5), Duration::minutes(100));
        assert_eq!(delay(4, 0.0), Duration::hours(6));
        assert_eq!(delay(9, 0.99).num_minutes(), 360 + 35);
        // Walk the schedule from a first failure at 0 with no jitter.
        let mut now = t(0.0);
        let mut failures = 0;
        let mut times = vec![];
        while let Some(next) = next_attempt(t(0.0), now, failures + 1, None, 0.0) {
            failures += 1;
            now = next;
            times.push(now);
        }
        assert_eq!(times.first(), Some(&t(1.0 / 60.0)));
        assert_eq!(times.last(), Some(&t(36.0)));
        assert_eq!(times.len(), 3 + 5 + 1, "{times:?}");
    }

    #[test]
    fn retry_after_is_honoured_within_the_horizon() {
        let now = t(1.0);
        assert_eq!(
            retry_after(Some("120"), now),
            Some(now + Duration::seconds(120))
        );
        assert_eq!(
            retry_after(Some("Thu, 01 Jan 1970 05:00:00 GMT"), now),
            Some(t(5.0))
        );
        assert_eq!(retry_after(Some("soon"), now), None);
        assert_eq!(
            next_attempt(t(0.0), now, 1, Some(t(2.0)), 0.0),
            Some(t(2.0))
        );
        assert_eq!(
            next_attempt(t(0.0), now, 1, Some(t(99.0)), 0.0),
            Some(t(36.0))
        );
        assert_eq!(next_attempt(t(0.0), t(36.0), 9, None, 0.0), None);
        assert!(
            retryable(503)
                && retryable(408)
                && retryable(429)
                && !retryable(404)
                && !retryable(302)
        );
    }
}
