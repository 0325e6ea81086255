//! Real `herald serve` processes for multi-node and crash tests: spawn the
//! binary, read its "listening on" line, talk to it over HTTP, SIGKILL it.
//! A [`Node`] kills its process when dropped (so a failing test leaves no
//! server behind) and, when the test is panicking, prints the tail of the
//! node's log.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

pub const ADMIN_KEY: &str = "multinode-admin-key";
/// The secret key every test node is started with (base64 of 32 bytes).
pub const SECRET_KEY: &str = "dGVzdC1ub2Rlcy1zZWNyZXQta2V5LTMyLWJ5dGVzISE=";

/// One running `herald serve`.
pub struct Node {
    pub name: String,
    pub base: String,
    pub api: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Node {
    /// Start `herald serve` on `database_url` (or SQLite in `data_dir` when
    /// `None`) with `env` on top of the test defaults; waits (≤ 60 s) for
    /// the "listening on" line.
    pub fn start(
        name: &str,
        data_dir: &Path,
        database_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> Node {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let log = data_dir.join(format!("{name}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
        for (k, _) in std::env::vars() {
            if k.starts_with("HERALD_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir);
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.env("HERALD_ADMIN_KEY", ADMIN_KEY)
            // Nodes of one PostgreSQL database share the key that seals its
            // secrets (each has its own data directory).
            .env("HERALD_SECRET_KEY", SECRET_KEY)
            .env("HERALD_ALLOW_PRIVATE_TARGETS", "1")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn herald serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        // Read the banner, then keep draining stdout so the pipe never fills.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.split("listening on ").nth(1) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr.trim().to_string());
                    }
                }
            }
        });
        let mut node = Node {
            name: name.to_string(),
            base: String::new(),
            api: String::new(),
            child: Some(child),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => {
                node.api = format!("{base}/api/data/v9.2");
                node.base = base;
                node
            }
            Err(_) => panic!(
                "node {name} did not print \"listening on\" within 60 s; log:\n{}",
                node.log_tail(40)
            ),
        }
    }

    /// SIGKILL the process and reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// This node's `/metrics` count of async (System Job) deliveries to the
    /// webhook named `endpoint` that succeeded; 0 before the first one.
    pub async fn async_deliveries(&self, endpoint: &str) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap_or_else(|e| panic!("GET /metrics of node {}: {e}", self.name))
            .text()
            .await
            .expect("metrics body");
        let series = format!(
            r#"herald_webhook_deliveries_total{{mode="async",endpoint="{endpoint}",outcome="succeeded"}} "#
        );
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&series)?
                    .split(' ')
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
            .map_or(0, |v| v as u64)
    }

    pub fn client(&self) -> Api {
        Api {
            api: self.api.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let alive = self.child.is_some();
        self.kill();
        if alive && std::thread::panicking() {
            eprintln!(
                "--- last log lines of node {} ---\n{}",
                self.name,
                self.log_tail(30)
            );
        }
    }
}

/// A tiny Web API client for one node.
#[derive(Clone)]
pub struct Api {
    pub api: String,
    pub http: reqwest::Client,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.api, path.trim_start_matches('/'))
    }

    pub async fn get(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .expect("GET sent");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// POST; returns the status (or the transport error).
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<(StatusCode, String), reqwest::Error> {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(ADMIN_KEY)
            .json(body)
            .send()
            .await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let entity = headers
            .get("odata-entityid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok((
            status,
            if status == StatusCode::NO_CONTENT {
                entity
            } else {
                text
            },
        ))
    }

    /// Create a row and return its id.
    pub async fn create(&self, set: &str, body: Value) -> String {
        let (status, entity) = self.post(set, &body).await.expect("POST sent");
        assert_eq!(status, StatusCode::NO_CONTENT, "create {set}: {entity}");
        entity
            .rsplit('(')
            .next()
            .unwrap_or_default()
            .trim_end_matches(')')
            .to_string()
    }

    /// Register a webhook and an async PostOperation step on Create of `table`.
    pub async fn async_step(&self, name: &str, url: &str, table: &str) -> String {
        let hook = self
            .create(
                "serviceendpoints",
                json!({"name": name, "url": url, "contract": 8, "authtype": 5,
                "authvalue": r#"<settings><setting name="X-Key" value="k" /></settings>"#}),
            )
            .await;
        let msg = self
            .get("sdkmessages?$select=name&$filter=name eq 'Create'")
            .await["value"][0]["sdkmessageid"]
            .as_str()
            .expect("Create")
            .to_string();
        let filter = self
            .get(&format!("sdkmessagefilters?$select=primaryobjecttypecode&$filter=_sdkmessageid_value eq {msg} and primaryobjecttypecode eq '{table}'"))
            .await["value"][0]["sdkmessagefilterid"]
            .as_str()
            .expect("filter")
            .to_string();
        self.create(
            "sdkmessageprocessingsteps",
            json!({"sdkmessageid@odata.bind": format!("/sdkmessages({msg})"),
                   "sdkmessagefilterid@odata.bind": format!("/sdkmessagefilters({filter})"),
                   "eventhandler_serviceendpoint@odata.bind": format!("/serviceendpoints({hook})"),
                   "stage": 40, "mode": 1}),
        )
        .await
    }

    /// How many System Jobs have this statuscode.
    pub async fn jobs_with_status(&self, statuscode: i64) -> i64 {
        let b = self.get(&format!("asyncoperations?$select=asyncoperationid&$filter=statuscode eq {statuscode}&$count=true")).await;
        b["@odata.count"].as_i64().unwrap_or(-1)
    }
}

/// Poll `f` (every 50 ms) until it returns Some or `within` passes.
pub async fn until<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The record id a delivered context is about (`PrimaryEntityId`).
pub fn record_of(c: &herald_testkit::Captured) -> String {
    c.body_json()["PrimaryEntityId"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase()
}
