//! One herald for one scenario: every scenario runs on a fresh server and
//! database — SQLite in a temp dir, or a PostgreSQL database created for it
//! and dropped after (unless `--use-database`) — so no scenario measures
//! what an earlier one left behind. A herald can be started without
//! serving, to build a backlog first ([`Herald::api_only`] registers over
//! HTTP with no workers running), then served.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::ValueEnum;
use herald_server::config::Config;
use herald_server::server::Running;
use herald_server::state::SharedState;
use sqlx::Connection as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::load::Api;

/// The store a scenario's herald runs on (`--store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

/// Where each scenario's herald keeps its data.
#[derive(Clone)]
pub struct Target {
    pub kind: StoreKind,
    /// PostgreSQL server (or database, with `use_database`).
    pub pg: Option<String>,
    pub use_database: bool,
}

/// A fresh PostgreSQL database for one scenario, dropped after it.
struct PgDb {
    server: String,
    name: String,
}

fn with_db_name(url: &str, name: &str) -> String {
    herald_store::testing::replace_db_name(url, name)
}

impl PgDb {
    async fn create(server: &str) -> anyhow::Result<PgDb> {
        let name = format!("herald_bench_{}", uuid::Uuid::new_v4().simple());
        let mut c = sqlx::PgConnection::connect(server)
            .await
            .with_context(|| format!("connecting to {server}"))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .context("creating the bench database")?;
        let _ = c.close().await;
        Ok(PgDb {
            server: server.to_string(),
            name,
        })
    }

    fn url(&self) -> String {
        with_db_name(&self.server, &self.name)
    }

    async fn drop_db(self) {
        if let Ok(mut c) = sqlx::PgConnection::connect(&self.server).await {
            if let Err(e) = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut c)
            .await
            {
                eprintln!(
                    "warning: could not drop the bench database {}: {e}",
                    self.name
                );
            }
            let _ = c.close().await;
        }
    }
}

/// The configuration every scenario's herald starts from: the defaults,
/// with the `HERALD_JOBS__*` and `HERALD_DELIVERY__*` variables applied (so
/// an operator can measure the slots, shares and timeouts they run with,
/// e.g. `HERALD_JOBS__CONCURRENCY=64 herald bench drain`). The other
/// sections are the bench's own: where the data lives, the listener, the
/// keys. A `herald serve` child node inherits the same variables.
fn tunable_config() -> anyhow::Result<Config> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("HERALD_JOBS__") || k.starts_with("HERALD_DELIVERY__"))
        .collect();
    Config::load(None, &env).context("the HERALD_JOBS__* / HERALD_DELIVERY__* variables")
}

/// One herald for one scenario: started (migrated, bootstrapped, bound)
/// and, once [`Herald::serve`]d, serving; [`Herald::stop`] removes its data.
pub struct Herald {
    pub addr: SocketAddr,
    pub key: String,
    pub state: SharedState,
    running: Option<Running>,
    dir: PathBuf,
    db: Option<PgDb>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// [`Herald::api_only`]'s listener.
pub struct ApiOnly {
    pub addr: SocketAddr,
    /// A client for it, with the herald's admin key.
    pub api: Api,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ApiOnly {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Herald {
    /// Connect, migrate, bootstrap and bind — not serving yet.
    pub async fn start(target: &Target) -> anyhow::Result<Herald> {
        Herald::start_with(target, |_| {}).await
    }

    /// [`Herald::start`] with the configuration adjusted by `tweak`.
    pub async fn start_with(
        target: &Target,
        tweak: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Herald> {
        let dir =
            std::env::temp_dir().join(format!("herald-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let mut config = tunable_config()?;
        config.server.listen = "127.0.0.1:0".into();
        config.server.data_dir = dir.clone();
        config.server.allow_private_targets = true;
        config.server.admin_key = Some(format!("bench-{}", uuid::Uuid::new_v4().simple()));
        let mut db = None;
        if target.kind == StoreKind::Postgres {
            let server = target
                .pg
                .clone()
                .ok_or_else(|| anyhow!("--store postgres needs --database-url postgres://…"))?;
            if target.use_database {
                config.store.database_url = Some(server);
            } else {
                let d = PgDb::create(&server).await?;
                config.store.database_url = Some(d.url());
                db = Some(d);
            }
        }
        tweak(&mut config);
        let running = match herald_server::server::start(config).await {
            Ok(r) => r,
            Err(e) => {
                if let Some(d) = db {
                    d.drop_db().await;
                }
                let _ = std::fs::remove_dir_all(&dir);
                return Err(anyhow!("cannot start herald: {e}"));
            }
        };
        Ok(Herald {
            addr: running.addr,
            key: running.admin_key.clone(),
            state: running.state.clone(),
            running: Some(running),
            dir,
            db,
            shutdown: None,
            task: None,
        })
    }

    /// The API router alone on a loopback port (no workers, no notifier),
    /// to register through over HTTP before [`Herald::serve`].
    pub async fn api_only(&self) -> anyhow::Result<ApiOnly> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let api = Api::new(addr, &self.key)?;
        let (stop, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(
            axum::serve(listener, herald_server::app::router(self.state.clone()))
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .into_future(),
        );
        Ok(ApiOnly {
            addr,
            api,
            stop,
            task,
        })
    }

    /// Serve (Web API and System Job workers).
    pub fn serve(&mut self) {
        let running = self.running.take().expect("served once");
        let (tx, rx) = oneshot::channel::<()>();
        self.shutdown = Some(tx);
        self.task = Some(tokio::spawn(running.serve(async move {
            let _ = rx.await;
        })));
    }

    /// [`Herald::start`], then [`Herald::serve`].
    pub async fn started(target: &Target) -> anyhow::Result<Herald> {
        let mut h = Herald::start(target).await?;
        h.serve();
        Ok(h)
    }

    /// The data directory (admin and secret keys; SQLite's file).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The PostgreSQL database this herald runs on (None on SQLite).
    pub fn database_url(&self) -> Option<String> {
        self.state.config.store.database_url.clone()
    }

    /// The load generator's client for this herald.
    pub fn api(&self) -> anyhow::Result<Api> {
        Api::new(self.addr, &self.key)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        drop(self.running.take());
        if let Some(d) = self.db.take() {
            d.drop_db().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
