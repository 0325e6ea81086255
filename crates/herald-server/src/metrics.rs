//! Prometheus metrics at `GET /metrics`: HTTP requests by route and
//! status, webhook deliveries by outcome and endpoint, delivery latency,
//! System Job queue depth and oldest-waiting age, Business Central
//! notifications (sent / failed, pending delivery, and changes still in
//! their delay window), and store pool usage. `prometheus-client` keeps one
//! registry per server (no globals, so tests with several servers in one
//! process stay apart).
//!
//! The answer is the Prometheus text format (0.0.4) unless the scraper asks
//! for OpenMetrics in `Accept` ([`Exposition::negotiate`]), as Prometheus
//! itself does when it prefers it. `prometheus-client` writes OpenMetrics;
//! [`to_prometheus_text`] turns that into 0.0.4 (a counter's family is
//! named with its `_total`, so `promtool check metrics` finds its HELP; no
//! `# EOF`).
//!
//! The Web API's requests are labelled by entity set, not by the one route
//! `/api/data/{version}/{*rest}` they all share ([`route_label`]); the
//! label set stays bounded: a name that is not a table of the schema (or
//! `$metadata`, `$batch`, `WhoAmI`) is `{other}`.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `sync`, `async` or `notify`.
    pub mode: String,
    pub endpoint: String,
    /// `succeeded` or `failed`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub deliveries: Family<DeliveryLabels, Counter>,
    pub delivery_seconds: Histogram,
    pub bc_notifications: Family<OutcomeLabels, Counter>,
    /// Notifications waiting to be sent (including those waiting for a retry).
    pub bc_pending: Gauge,
    /// Changes still in their delay window (not yet notifications).
    pub bc_changes_waiting: Gauge,
    queue_depth: Gauge,
    queue_oldest_seconds: Gauge,
    pool_in_use: Gauge,
    pool_idle: Gauge,
    /// Requests that offered an API key (bearer or console sign-in) and
    /// were refused with 401.
    pub auth_failures: Counter,
    /// Of those, the ones answered 429 because their address failed too often.
    pub auth_throttled: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("herald");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by route and status",
            http_requests.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries, by mode, endpoint and outcome",
            deliveries.clone(),
        );
        let delivery_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        registry.register(
            "webhook_delivery_seconds",
            "Time to deliver a webhook (all attempts)",
            delivery_seconds.clone(),
        );
        let bc_notifications = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "bc_notifications",
            "Business Central notification requests, by outcome (sent, failed)",
            bc_notifications.clone(),
        );
        let bc_pending = Gauge::default();
        registry.register(
            "bc_notifications_pending",
            "Business Central notifications waiting to be sent, including those waiting for a retry",
            bc_pending.clone(),
        );
        let bc_changes_waiting = Gauge::default();
        registry.register(
            "bc_changes_waiting",
            "Business Central changes still in their delay window (not yet notifications)",
            bc_changes_waiting.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "jobs_ready",
            "System Jobs ready to run and waiting",
            queue_depth.clone(),
        );
        let queue_oldest_seconds = Gauge::default();
        registry.register(
            "jobs_oldest_waiting_seconds",
            "Age of the oldest ready System Job",
            queue_oldest_seconds.clone(),
        );
        let pool_in_use = Gauge::default();
        registry.register(
            "store_connections_in_use",
            "Store connections in use",
            pool_in_use.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "store_connections_idle",
            "Idle store connections",
            pool_idle.clone(),
        );
        let auth_failures = Counter::default();
        registry.register(
            "auth_failures",
            "Requests that offered an API key (Authorization or a console sign-in) and were refused with 401",
            auth_failures.clone(),
        );
        let auth_throttled = Counter::default();
        registry.register(
            "auth_throttled",
            "Failed key checks answered 429 because their client address failed too often",
            auth_throttled.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            http_requests,
            deliveries,
            delivery_seconds,
            bc_notifications,
            bc_pending,
            bc_changes_waiting,
            queue_depth,
            queue_oldest_seconds,
            pool_in_use,
            pool_idle,
            auth_failures,
            auth_throttled,
        }
    }
}

/// Which text format a scrape gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposition {
    /// `text/plain; version=0.0.4`: the default.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`: only when asked for.
    OpenMetrics,
}

impl Exposition {
    /// The format for a request's `Accept` header.
    pub fn negotiate(accept: Option<&str>) -> Exposition {
        match accept {
            Some(a)
                if a.to_ascii_lowercase()
                    .contains("application/openmetrics-text") =>
            {
                Exposition::OpenMetrics
            }
            _ => Exposition::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The matched route `/api/data/{version}/{*rest}`: every Web API request.
const WEB_API_ROUTE: &str = "/api/data/{version}/{*rest}";

/// The `route` label of a request: the matched route, except that a Web
/// API request is labelled by what it addresses — its entity set
/// (`/api/data/{version}/contacts` for `contacts`, `contacts(<id>)` and
/// `contacts(<id>)/…`), `$metadata`, `$batch` or `WhoAmI`, and any other
/// name `/api/data/{version}/{other}`, so the label set stays bounded.
pub fn route_label(matched: &str, path: &str, schema: &herald_core::Schema) -> String {
    if matched != WEB_API_ROUTE {
        return matched.to_string();
    }
    let rest = path
        .strip_prefix("/api/data/")
        .and_then(|p| p.split_once('/'))
        .map(|(_, rest)| rest)
        .unwrap_or("");
    let first = rest.split(['/', '(']).next().unwrap_or("");
    let known = matches!(first, "$metadata" | "$batch" | "WhoAmI")
        || (!first.is_empty() && schema.table_by_set(first).is_some());
    if known {
        format!("/api/data/{{version}}/{first}")
    } else {
        "/api/data/{version}/{other}".to_string()
    }
}

/// OpenMetrics text (as `prometheus-client` writes it) → the Prometheus
/// text format 0.0.4: a counter family's HELP and TYPE name its samples'
/// `_total` name, and the `# EOF` / `# UNIT` lines go.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters
                .contains(name)
                .then(|| format!("{tag}{name}_total {tail}"))
        });
        match renamed {
            Some(r) => out.push_str(r.trim_end()),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

impl Metrics {
    pub fn record_delivery(&self, mode: &str, endpoint: &str, succeeded: bool, took: Duration) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                mode: mode.to_string(),
                endpoint: endpoint.to_string(),
                outcome: if succeeded { "succeeded" } else { "failed" }.to_string(),
            })
            .inc();
        self.delivery_seconds.observe(took.as_secs_f64());
    }

    /// Set the gauges read from the store, then encode everything in `format`.
    pub fn render(
        &self,
        queue: (i64, Option<i64>),
        now_ms: i64,
        pool: (u32, u32),
        format: Exposition,
    ) -> String {
        self.queue_depth.set(queue.0);
        self.queue_oldest_seconds
            .set(queue.1.map(|t| ((now_ms - t).max(0)) / 1000).unwrap_or(0));
        self.pool_in_use.set(i64::from(pool.0));
        self.pool_idle.set(i64::from(pool.1));
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        match format {
            Exposition::OpenMetrics => out,
            Exposition::Prometheus => to_prometheus_text(&out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_only_when_asked_for() {
        assert_eq!(Exposition::negotiate(None), Exposition::Prometheus);
        assert_eq!(
            Exposition::negotiate(Some("text/plain;version=0.0.4")),
            Exposition::Prometheus
        );
        assert_eq!(
            Exposition::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
            )),
            Exposition::OpenMetrics
        );
    }

    #[test]
    fn counters_are_named_with_total_in_the_text_format() {
        let om = "# HELP herald_x Things.\n# TYPE herald_x counter\nherald_x_total{a=\"b\"} 1\n# HELP herald_g G.\n# TYPE herald_g gauge\nherald_g 2\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP herald_x_total Things.\n# TYPE herald_x_total counter\nherald_x_total{a=\"b\"} 1\n# HELP herald_g G.\n# TYPE herald_g gauge\nherald_g 2\n"
        );
    }

    #[test]
    fn web_api_routes_are_labelled_by_entity_set() {
        let schema = herald_core::Schema::build(&[]).expect("the built-in schema");
        let label = |path: &str| route_label(WEB_API_ROUTE, path, &schema);
        assert_eq!(
            label("/api/data/v9.2/contacts"),
            "/api/data/{version}/contacts"
        );
        assert_eq!(
            label("/api/data/v9.2/contacts(00000000-0000-0000-0000-000000000001)/fullname"),
            "/api/data/{version}/contacts"
        );
        assert_eq!(
            label("/api/data/v9.2/$metadata"),
            "/api/data/{version}/$metadata"
        );
        assert_eq!(label("/api/data/v9.1/WhoAmI"), "/api/data/{version}/WhoAmI");
        assert_eq!(
            label("/api/data/v9.2/nosuchset"),
            "/api/data/{version}/{other}"
        );
        assert_eq!(label("/api/data/v9.2/x%20y"), "/api/data/{version}/{other}");
        assert_eq!(route_label("/metrics", "/metrics", &schema), "/metrics");
    }
}
