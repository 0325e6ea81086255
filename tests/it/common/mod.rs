//! Test harness: a real herald server on a free loopback port, against a
//! temp SQLite file or a fresh PostgreSQL database, driven over HTTP; the
//! `both_backends!` macro that makes one test per store. Beside it:
//! [`cli`] runs the real binary against such a server, and [`node`] runs
//! real `herald serve` processes (multi-node, crash, config-file tests).

pub mod cli;
pub mod node;

use std::sync::Arc;

use herald_server::config::Config;
use herald_server::state::SharedState;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub struct TestServer {
    pub base: String,
    pub api: String,
    pub key: String,
    pub client: reqwest::Client,
    pub state: SharedState,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestServer {
    /// Start on the given backend; `None` when PostgreSQL is not configured
    /// (the test then passes after printing SKIPPED).
    pub async fn start(backend: Backend, test: &str) -> Option<TestServer> {
        Self::start_with(backend, test, |_| {}).await
    }

    pub async fn start_with(
        backend: Backend,
        test: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        Self::start_with_clock(
            backend,
            test,
            Arc::new(herald_core::clock::SystemClock),
            tweak,
        )
        .await
    }

    /// Start on an injected clock (e.g. a `ManualClock` the test advances).
    pub async fn start_with_clock(
        backend: Backend,
        test: &str,
        clock: Arc<dyn herald_core::clock::Clock>,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        Self::launch(backend, test, clock, tweak, true).await
    }

    /// The HTTP API alone on a loopback port: no System Job workers, no
    /// retention and no background BC notifier, so queued jobs stay Ready
    /// and BC notifications move only when the test calls `bc::tick` — for
    /// tests of what waits (with a manual clock).
    pub async fn start_api_only(
        backend: Backend,
        test: &str,
        clock: Arc<dyn herald_core::clock::Clock>,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        Self::launch(backend, test, clock, tweak, false).await
    }

    async fn launch(
        backend: Backend,
        test: &str,
        clock: Arc<dyn herald_core::clock::Clock>,
        tweak: impl FnOnce(&mut Config),
        background: bool,
    ) -> Option<TestServer> {
        let dir = tempfile::tempdir().expect("tempdir");
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
        let running = herald_server::server::start_with_clock(config, clock)
            .await
            .expect("server starts");
        let key = running.admin_key.clone();
        let state = running.state.clone();
        let (scheme, client) = match &running.tls {
            Some(cert) => ("https", https_client(&cert.path)),
            None => ("http", reqwest::Client::new()),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let addr = if background {
            let addr = running.addr;
            tokio::spawn(running.serve(async move {
                let _ = rx.await;
            }));
            addr
        } else {
            drop(running);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a loopback port");
            let addr = listener.local_addr().expect("local addr");
            let app = herald_server::app::router(state.clone());
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
            });
            addr
        };
        let base = format!("{scheme}://{addr}");
        Some(TestServer {
            api: format!("{base}/api/data/v9.2"),
            base,
            key,
            client,
            state,
            _dir: dir,
            shutdown: Some(tx),
        })
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{}", self.api, path.trim_start_matches('/'))
        };
        self.client.request(method, url).bearer_auth(&self.key)
    }

    /// Send and return (status, headers, JSON body or Null).
    pub async fn send(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let resp = rb.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, headers, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.send(self.request(Method::GET, path)).await;
        (s, b)
    }

    pub async fn post(
        &self,
        path: &str,
        body: Value,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.send(self.request(Method::POST, path).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, b) = self
            .send(self.request(Method::PATCH, path).json(&body))
            .await;
        (s, b)
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        self.send(self.request(Method::DELETE, path)).await.0
    }

    /// Create a row and return its id (from OData-EntityId).
    pub async fn create(&self, set: &str, body: Value) -> String {
        let (status, headers, b) = self.post(set, body).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "create {set} failed: {b}");
        let entity = headers
            .get("odata-entityid")
            .expect("OData-EntityId")
            .to_str()
            .unwrap()
            .to_string();
        entity
            .rsplit('(')
            .next()
            .unwrap()
            .trim_end_matches(')')
            .to_string()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Percent-encode a query option value.
pub fn enc(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Assert an OData error body with the given status; return its message.
pub fn odata_error(status: StatusCode, body: &Value, expected: StatusCode) -> String {
    assert_eq!(status, expected, "unexpected status; body {body}");
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {body}"));
    assert!(code.starts_with("0x"), "error code {code}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.message in {body}"))
        .to_string()
}

/// Generate one `#[tokio::test]` per backend for each listed async fn
/// taking a `TestServer` (in `mod on_sqlite` and `mod on_postgres`).
///
/// Every arm names the test it starts a server for by its own path,
/// `module_path!()` plus the test (e.g. `it::web_api::queries::on_postgres::
/// paging_count_and_top`), so a SKIPPED line names the test that skipped.
///
/// For tests that need their own start, each listed fn gets `mod <name>`
/// holding a `sqlite` and a `postgres` test (a PostgreSQL one passes
/// without running when `HERALD_TEST_DATABASE_URL` is unset):
/// - `both_backends!(starts_own: f, …)`: `async fn f(Backend, &str)` starts
///   its own server (the `&str` names the test) and returns when the start
///   gives `None`;
/// - `both_backends!(tweak = |c| …; f, …)`: `async fn f(TestServer)` on a
///   server started with that config tweak;
/// - `both_backends!(start = starter; f, …)`: `async fn f(TestServer)` on a
///   server from `async fn starter(Backend, &str) -> Option<TestServer>`.
macro_rules! both_backends {
    (starts_own: $($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite, concat!(module_path!(), "::sqlite")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres, concat!(module_path!(), "::postgres")).await;
            }
        })*
    };
    (tweak = $tweak:expr; $($name:ident),* $(,)?) => {
        both_backends!(start = |backend, test| {
            $crate::common::TestServer::start_with(backend, test, $tweak)
        }; $($name),*);
    };
    (start = $start:expr; $($name:ident),* $(,)?) => {
        $(mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let s = ($start)($crate::common::Backend::Sqlite, concat!(module_path!(), "::sqlite"))
                    .await
                    .expect("server");
                super::$name(s).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(s) = ($start)($crate::common::Backend::Postgres, concat!(module_path!(), "::postgres")).await {
                    super::$name(s).await;
                }
            }
        })*
    };
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let s = $crate::common::TestServer::start($crate::common::Backend::Sqlite, concat!(module_path!(), "::", stringify!($name))).await.unwrap();
                super::$name(s).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(s) = $crate::common::TestServer::start($crate::common::Backend::Postgres, concat!(module_path!(), "::", stringify!($name))).await {
                    super::$name(s).await;
                }
            })*
        }
    };
}

/// Registration helpers over the Web API (what the Plug-in Registration
/// tool does).
pub mod register {
    use super::TestServer;
    use serde_json::{json, Value};

    /// Register a webhook; `auth` is (authtype, authvalue).
    pub async fn webhook(
        s: &TestServer,
        name: &str,
        url: &str,
        authtype: i64,
        authvalue: &str,
    ) -> String {
        s.create(
            "serviceendpoints",
            json!({"name": name, "url": url, "contract": 8, "authtype": authtype, "authvalue": authvalue}),
        )
        .await
    }

    pub async fn message_id(s: &TestServer, message: &str) -> String {
        let (_, body) = s
            .get(&format!(
                "sdkmessages?$select=name&$filter=name eq '{message}'"
            ))
            .await;
        body["value"][0]["sdkmessageid"]
            .as_str()
            .unwrap_or_else(|| panic!("no sdkmessage {message}: {body}"))
            .to_string()
    }

    pub async fn filter_id(s: &TestServer, message_id: &str, table: &str) -> String {
        let (_, body) = s
            .get(&format!("sdkmessagefilters?$select=primaryobjecttypecode&$filter=_sdkmessageid_value eq {message_id} and primaryobjecttypecode eq '{table}'"))
            .await;
        body["value"][0]["sdkmessagefilterid"]
            .as_str()
            .unwrap_or_else(|| panic!("no filter: {body}"))
            .to_string()
    }

    /// Register a step; `extra` is merged into the body.
    pub async fn step(
        s: &TestServer,
        webhook: &str,
        message: &str,
        table: &str,
        stage: i64,
        mode: i64,
        extra: Value,
    ) -> String {
        let mid = message_id(s, message).await;
        let fid = filter_id(s, &mid, table).await;
        let mut body = json!({
            "sdkmessageid@odata.bind": format!("/sdkmessages({mid})"),
            "sdkmessagefilterid@odata.bind": format!("/sdkmessagefilters({fid})"),
            "eventhandler_serviceendpoint@odata.bind": format!("/serviceendpoints({webhook})"),
            "stage": stage,
            "mode": mode,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        s.create("sdkmessageprocessingsteps", body).await
    }

    pub async fn image(
        s: &TestServer,
        step: &str,
        imagetype: i64,
        alias: &str,
        attributes: &str,
    ) -> String {
        s.create(
            "sdkmessageprocessingstepimages",
            json!({"sdkmessageprocessingstepid@odata.bind": format!("/sdkmessageprocessingsteps({step})"),
                   "imagetype": imagetype, "entityalias": alias, "name": alias, "attributes": attributes}),
        )
        .await
    }
}

/// An HTTPS client that trusts only the PEM certificate at `cert` (a
/// server started with `tls_self_signed`).
pub fn https_client(cert: &std::path::Path) -> reqwest::Client {
    let pem = std::fs::read(cert).expect("read the server's certificate");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"))
        .build()
        .expect("https client")
}

/// Poll `f` until it returns Some or the deadline passes.
pub async fn eventually<T, F, Fut>(within: std::time::Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if std::time::Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The System Job of `step` once it has `statuscode` (polled with a deadline).
pub async fn job_of(s: &TestServer, step: &str, statuscode: i64) -> Value {
    eventually(
        std::time::Duration::from_secs(15),
        &format!("a job of {step} with statuscode {statuscode}"),
        || async {
            let (_, b) = s
                .get(&format!(
                    "asyncoperations?$filter=_owningextensionid_value eq {step}"
                ))
                .await;
            b["value"]
                .as_array()
                .and_then(|v| v.iter().find(|j| j["statuscode"] == statuscode).cloned())
        },
    )
    .await
}
