//! Starting herald: load the schema, connect the store, bootstrap, bind the
//! listener (plain TCP, or TLS when configured) and serve until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use herald_core::clock::{Clock, SystemClock};
use herald_core::Schema;
use herald_store::{Store, StoreOptions};
use thiserror::Error;
use tokio::net::TcpListener;

use crate::bootstrap::{self, KeySource};
use crate::config::Config;
use crate::state::{AppState, SharedState};
use crate::tls::listener::TlsListener;
use crate::tls::CertificateInfo;

#[derive(Debug, Error)]
pub enum StartError {
    #[error("schema: {0}")]
    Schema(#[from] herald_core::SchemaError),
    #[error("store: {0}")]
    Store(#[from] herald_store::StoreError),
    /// The listen address cannot be bound; named once, with the reason in
    /// words (`cannot listen on 127.0.0.1:5080: address already in use`).
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("secret key: {0}")]
    SecretKey(#[from] crate::secret_key::SecretKeyError),
    /// The stored secrets do not open with the configured keys (the
    /// message starts "secret key does not decrypt the stored secrets").
    #[error("{reason} (keys {keys} from {origin})")]
    SecretsMismatch {
        reason: String,
        keys: String,
        origin: String,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why a bind failed, in words (the OS text adds "(os error 98)").
fn bind_failure(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "address already in use".into(),
        std::io::ErrorKind::AddrNotAvailable => "address not available on this machine".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Give the store its keyring and bring every stored secret under the
/// current key (sealing plaintext rows of older databases); a key that
/// does not open them stops the start with a clear error.
async fn open_secrets(store: Store, config: &Config) -> Result<Store, StartError> {
    let loaded =
        crate::secret_key::load(config.server.secret_key.as_deref(), &config.server.data_dir)?;
    let keyring = Arc::new(loaded.keyring()?);
    let store = store.with_keyring(keyring.clone());
    match store.sweep_secrets().await {
        Ok(report) => {
            if report.sealed > 0 || report.resealed > 0 {
                tracing::info!(
                    sealed = report.sealed,
                    resealed = report.resealed,
                    key = %keyring.current_id(),
                    "stored secrets encrypted under the current key"
                );
            }
        }
        Err(herald_store::StoreError::SecretsUndecryptable(what)) => {
            return Err(StartError::SecretsMismatch {
                reason: format!("secret key does not decrypt the stored secrets: {what}"),
                keys: keyring.ids().join(", "),
                origin: if loaded.generated {
                    format!("{} (none found: generated now, not saved)", loaded.origin)
                } else {
                    loaded.origin.to_string()
                },
            })
        }
        Err(e) => return Err(e.into()),
    }
    loaded.persist()?;
    Ok(store)
}

/// What the server accepts connections on.
enum Listener {
    Plain(TcpListener),
    Tls(TlsListener),
}

/// A started server: where it listens and the admin key.
pub struct Running {
    pub addr: SocketAddr,
    pub admin_key: String,
    pub key_source: KeySource,
    pub state: SharedState,
    /// The certificate served over HTTPS; `None` for plain HTTP.
    pub tls: Option<CertificateInfo>,
    listener: Listener,
}

/// Connect, migrate, bootstrap and bind. Serve with [`Running::serve`].
pub async fn start(config: Config) -> Result<Running, StartError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<Running, StartError> {
    let schema = Arc::new(Schema::build(&config.tables)?);
    // TLS first: a wrong certificate path fails before anything is written.
    let tls = crate::tls::from_config(&config.server)?;
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.server.data_dir)?;
    }
    let store = Store::connect(
        &url,
        schema.clone(),
        StoreOptions {
            max_connections: config.store.max_connections,
            ..StoreOptions::default()
        },
    )
    .await?;
    let store = open_secrets(store, &config).await?;
    let bins = if url.starts_with("sqlite:") {
        let bins_url = format!(
            "sqlite://{}",
            config.server.data_dir.join("bins.db").display()
        );
        Store::connect(
            &bins_url,
            Arc::new(Schema::build(&[])?),
            StoreOptions::default(),
        )
        .await?
    } else {
        store.clone()
    };
    if store.dialect() == herald_store::Dialect::Sqlite {
        // One process owns a SQLite file: leases found now are a dead
        // process's; release them so its jobs run again at once.
        let mut tx = store.begin().await?;
        let released = tx.release_all_leases().await?;
        tx.commit().await?;
        if released > 0 {
            tracing::info!(
                jobs = released,
                "released the leases of System Jobs left by a previous run"
            );
        }
    }
    // The tables created through the metadata API, on top of the base.
    let base_schema = schema;
    crate::tables::load(&store, &base_schema).await?;
    let org = bootstrap::bootstrap(
        &store,
        &store.schema(),
        &config.server.organization,
        clock.now(),
    )
    .await?;
    let (admin_key, key_source) = bootstrap::admin_key(
        &store,
        &org,
        config.server.admin_key.as_deref(),
        &config.server.data_dir,
        clock.now().timestamp_millis(),
    )
    .await?;
    let sender = herald_delivery::Sender::new(herald_delivery::SenderConfig {
        timeout: config.delivery.timeout,
        allow_private_targets: config.server.allow_private_targets,
    })
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    let tcp = TcpListener::bind(&config.server.listen)
        .await
        .map_err(|e| StartError::Listen {
            addr: config.server.listen.clone(),
            reason: bind_failure(&e),
        })?;
    let addr = tcp.local_addr()?;
    let (listener, tls) = match tls {
        Some(tls) => (
            Listener::Tls(TlsListener::new(tcp, tls.acceptor)?),
            Some(tls.certificate),
        ),
        None => (Listener::Plain(tcp), None),
    };
    sender.add_own_address(addr);
    let state = Arc::new(AppState {
        config,
        store,
        base_schema,
        clock,
        org,
        depths: Default::default(),
        sender,
        jobs_wake: tokio::sync::Notify::new(),
        handoff: Default::default(),
        registrations: Default::default(),
        security: Default::default(),
        metrics: Default::default(),
        bins,
        bc_notifier: Default::default(),
    });
    Ok(Running {
        addr,
        admin_key,
        key_source,
        state,
        tls,
        listener,
    })
}

impl Running {
    /// `https` when serving TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serve until `shutdown` resolves; the System Job workers run alongside.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let workers = crate::jobs::spawn_workers(self.state.clone());
        let retention = crate::jobs::retention::spawn_retention(self.state.clone());
        let audit_retention = crate::audit::retention::spawn_retention(self.state.clone());
        let bc_notifier = crate::bc::spawn_notifier(self.state.clone());
        let bulk_deletes = tokio::spawn(crate::jobs::bulk_delete::resume(self.state.clone()));
        let schema_refresher = crate::tables::spawn_refresher(self.state.clone());
        let app = crate::app::router(self.state.clone());
        let header_read_timeout = self.state.config.server.header_read_timeout;
        let result = match self.listener {
            Listener::Plain(tcp) => {
                crate::accept::serve(
                    crate::conn_limit::Capped::new(tcp),
                    app,
                    header_read_timeout,
                    shutdown,
                )
                .await
            }
            Listener::Tls(tls) => {
                crate::accept::serve(
                    crate::conn_limit::Capped::new(tls),
                    app,
                    header_read_timeout,
                    shutdown,
                )
                .await
            }
        };
        workers.stop().await;
        retention.abort();
        audit_retention.abort();
        bc_notifier.abort();
        bulk_deletes.abort();
        if let Some(r) = schema_refresher {
            r.abort();
        }
        result
    }
}
