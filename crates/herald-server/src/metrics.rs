//! Prometheus metrics at `GET /metrics` (text format): HTTP requests by
//! route and status, webhook deliveries by outcome and endpoint, delivery
//! latency, System Job queue depth and oldest-waiting age, Business
//! Central notifications (sent / failed, pending delivery, and changes still
//! in their delay window), and store pool usage. `prometheus-client` keeps one registry per server (no globals, so
//! tests with several servers in one process stay apart).

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
        }
    }
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

    /// Set the gauges read from the store, then encode everything.
    pub fn render(&self, queue: (i64, Option<i64>), now_ms: i64, pool: (u32, u32)) -> String {
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
        out
    }
}
