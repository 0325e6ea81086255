//! The BC test harness: [`Bc`], a herald on a manual clock whose background
//! notifier is held — each test moves the clock and calls `tick` itself —
//! driven over the BC API (and the Dataverse Web API by absolute path); and
//! readers of what a loopback subscriber received (handshakes apart from
//! notifications).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::clock::{Clock, ManualClock};
use herald_server::bc::{self, TickReport};
use herald_server::config::Config;
use herald_server::state::SharedState;
use herald_testkit::{Captured, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::Backend;

/// A herald on a manual clock, driven over HTTP and by `tick`.
pub struct Bc {
    pub base: String,
    key: String,
    client: reqwest::Client,
    pub state: SharedState,
    clock: Arc<ManualClock>,
    config: Config,
    _dir: Arc<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Bc {
    pub async fn start(
        backend: Backend,
        test: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<Bc> {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".into();
        config.server.data_dir = dir.path().to_path_buf();
        config.server.allow_private_targets = true;
        config.server.admin_key = Some("test-admin-key".into());
        if let Backend::Postgres = backend {
            config.store.database_url =
                Some(herald_store::testing::fresh_postgres_url(test).await?);
            config.store.max_connections = 8;
        }
        tweak(&mut config);
        let clock = Arc::new(ManualClock::new(Utc::now()));
        Some(Self::launch(config, clock, dir).await)
    }

    async fn launch(config: Config, clock: Arc<ManualClock>, dir: Arc<tempfile::TempDir>) -> Bc {
        let running = herald_server::server::start_with_clock(config.clone(), clock.clone())
            .await
            .expect("server starts");
        bc::notifier::hold_background(&running.state);
        let base = format!("http://{}", running.addr);
        let key = running.admin_key.clone();
        let state = running.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            let _ = running
                .serve(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Bc {
            base,
            key,
            client: reqwest::Client::new(),
            state,
            clock,
            config,
            _dir: dir,
            shutdown: Some(tx),
            served: Some(served),
        }
    }

    /// Stop this server and start a new one on the same database and clock.
    pub async fn restart(mut self) -> Bc {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.served.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
        let (config, clock, dir) = (self.config.clone(), self.clock.clone(), self._dir.clone());
        drop(self);
        Self::launch(config, clock, dir).await
    }

    /// A second herald on the same database and clock (another node).
    pub async fn another_node(&self) -> Bc {
        Self::launch(self.config.clone(), self.clock.clone(), self._dir.clone()).await
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else if path.starts_with("/api/") {
            format!("{}{path}", self.base)
        } else {
            format!("{}/api/v2.0/{}", self.base, path.trim_start_matches('/'))
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut rb = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.key);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status();
        let h = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, h, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.send(Method::GET, path, None, &[]).await;
        (s, b)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, b) = self.send(Method::POST, path, Some(body), &[]).await;
        (s, b)
    }

    /// POST every body to `path` at once; the answers in the bodies' order.
    pub async fn post_concurrently(
        &self,
        path: &str,
        bodies: Vec<Value>,
    ) -> Vec<(StatusCode, Value)> {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, body) in bodies.into_iter().enumerate() {
            let rb = self
                .client
                .post(self.url(path))
                .bearer_auth(&self.key)
                .json(&body);
            tasks.spawn(async move {
                let resp = rb.send().await.expect("request sent");
                let status = resp.status();
                (i, status, resp.json::<Value>().await.unwrap_or(Value::Null))
            });
        }
        let mut out = Vec::new();
        while let Some(done) = tasks.join_next().await {
            out.push(done.expect("task"));
        }
        out.sort_by_key(|(i, _, _)| *i);
        out.into_iter().map(|(_, s, v)| (s, v)).collect()
    }

    pub async fn tick(&self) -> TickReport {
        bc::tick(&self.state).await.expect("tick")
    }

    pub fn advance(&self, d: chrono::Duration) {
        self.clock.advance(d);
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn company(&self) -> String {
        bc::default_company_id().to_string()
    }

    pub fn collection(&self, entity: &str) -> String {
        format!("companies({})/{entity}", self.company())
    }

    pub fn resource(&self, entity: &str) -> String {
        format!("/api/v2.0/companies({})/{entity}", self.company())
    }

    /// Create a record through the BC API; returns it.
    pub async fn create(&self, entity: &str, body: Value) -> Value {
        let (s, b) = self.post(&self.collection(entity), body).await;
        assert_eq!(s, StatusCode::CREATED, "create {entity}: {b}");
        b
    }

    pub async fn patch(&self, entity: &str, id: &str, body: Value) -> Value {
        let (s, _, b) = self
            .send(
                Method::PATCH,
                &format!("{}({id})", self.collection(entity)),
                Some(body),
                &[("If-Match", "*")],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "patch {entity}: {b}");
        b
    }

    /// Subscribe `url` to `entity`; returns the subscription.
    pub async fn subscribe(&self, url: &str, entity: &str, client_state: Option<&str>) -> Value {
        let mut body = json!({"notificationUrl": url, "resource": self.resource(entity)});
        if let Some(cs) = client_state {
            body["clientState"] = json!(cs);
        }
        let (s, b) = self.post("subscriptions", body).await;
        assert_eq!(s, StatusCode::CREATED, "subscribe: {b}");
        b
    }

    /// Move past the delay window and tick.
    pub async fn after_window(&self) -> TickReport {
        self.advance(chrono::Duration::seconds(31));
        self.tick().await
    }
}

impl Drop for Bc {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Validation handshakes (POSTs with `validationToken`) the receiver got.
pub fn handshakes(rx: &Receiver) -> Vec<Captured> {
    rx.requests()
        .into_iter()
        .filter(|c| c.query_param("validationToken").is_some())
        .collect()
}

/// Notification POSTs (not handshakes) the receiver got.
pub fn notifications(rx: &Receiver) -> Vec<Captured> {
    rx.requests()
        .into_iter()
        .filter(|c| c.query_param("validationToken").is_none())
        .collect()
}

/// The `value` array of one notification body.
pub fn values(c: &Captured) -> Vec<Value> {
    c.body_json()["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Assert a BC error body with the given status; return its message.
pub fn error_message(status: StatusCode, body: &Value, expected: StatusCode) -> String {
    assert_eq!(status, expected, "unexpected status; body {body}");
    assert!(body["error"]["code"].is_string(), "no error.code in {body}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.message in {body}"))
        .to_string()
}
