//! herald-store: one store interface over two sqlx backends, SQLite (the
//! embedded default, WAL, a single writer connection) and PostgreSQL
//! (multi-node). Both run the same SQL text with `$N` placeholders; only the
//! column types of the DDL differ.
//!
//! Writes happen in a [`Tx`]; the pipeline keeps one open across the whole
//! write (validation, sync steps, outbox rows) and commits once.
//!
//! ## One interface: a struct over an enum of backends, not a trait
//!
//! The store's one interface is the concrete [`Store`] / [`Tx`] / [`Conn`]
//! API; each method matches on a private enum of the two backends. This is
//! a deliberate choice over a `trait Store` with two implementations:
//!
//! - The backends differ in almost nothing but the sqlx connection type:
//!   the SQL text is shared (`$N` placeholders, [`sql`]), so one method body
//!   serves both and a trait would duplicate every query or need a generic
//!   `sqlx::Database` bound that leaks into every caller.
//! - The set of backends is closed (SQLite and PostgreSQL, chosen by the
//!   URL at start). Callers never pick or extend it, so dynamic dispatch
//!   (`dyn Store`, boxed futures for async methods) would buy nothing.
//! - The conformance suite (`tests/conformance/`) runs every behaviour on
//!   both variants, which is what "one interface, two backends" must
//!   guarantee; a trait would not add a check the suite does not make.
//!
//! Where a backend really differs (DDL column types, `FOR UPDATE SKIP
//! LOCKED`, LISTEN/NOTIFY, SQLite's single writer) the code says so in one
//! `match` on [`Dialect`] or the backend, next to the shared path. Where
//! only sqlx's types differ, the two arms are written once by a macro:
//! `conn::on_conn!` runs a statement on a [`Conn`] (`conn::conn_rows!`
//! collects its rows), `read::on_reader!` lends a [`Conn`] of the read
//! pool and `read::rows!` collects a statement's rows on that pool.
//!
//! ## Where things are
//!
//! - `lib.rs`: [`Store`] (connecting, pools, reads) and [`Tx`] (a write
//!   transaction, SQLite's batched inserts); `conn`: [`Conn`] and row
//!   writes; `read`: reading on the read pool; `record`: [`Record`].
//! - [`sql`]: the query model as SQL; [`ddl`]: the schema tables' DDL;
//!   `dialect`: [`Dialect`]; `migrate`: bringing a database up to date.
//! - herald's own tables, each module with its `DDL` beside its queries:
//!   [`jobs`] (System Jobs queue and attempts), [`bc`] (Business Central
//!   webhooks), [`bins`] (request bins), [`keys`] (API keys), `settings`.

mod audit;
mod batch;
pub mod bc;
pub mod bins;
mod checkpoint;
mod conn;
mod credentials;
pub mod ddl;
mod definitions;
mod dialect;
mod error;
mod group;
pub mod jobs;
pub mod keys;
mod migrate;
mod pg_group;
mod prepared;
mod read;
mod readers;
mod record;
pub mod secrets;
pub mod security;
mod settings;
pub mod sql;
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::sql::Sql;
use herald_core::{Query, Schema, Table, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, Postgres};
use uuid::Uuid;

use crate::secrets::Keyring;
pub use conn::Conn;
pub use definitions::{Changing, LiveSchema};
pub use dialect::Dialect;
pub use error::StoreError;
pub use jobs::{
    AttemptRow, Claim, ClaimLimits, ClaimedJob, EndpointCap, JobOutcome, JobRow, Lease, NewJob,
    OutcomeRow, HELD_ENDPOINT, HELD_READY_AT,
};
pub use record::Record;

/// The store: a pool for one of the two backends plus the schema it
/// serves (replaced when the metadata API changes it: [`LiveSchema`]).
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    schema: Arc<LiveSchema>,
    /// Seals and opens the secret columns ([`secrets`]); `None` keeps them
    /// as they are (store unit tests, the request-bins file).
    keyring: Option<Arc<Keyring>>,
    /// PostgreSQL's group writers (`pg_group`), for
    /// [`Store::begin_grouped`].
    pg_groups: Option<pg_group::Groups>,
    /// API key lookups kept in memory on SQLite ([`credentials`]).
    credentials: credentials::Credentials,
}

#[derive(Clone)]
pub(crate) enum Backend {
    /// SQLite allows one writer at a time: one writer connection, shared
    /// by groups of write transactions (`group`), serialises writers
    /// in-process instead of failing with SQLITE_BUSY.
    Sqlite {
        writer: group::Writer,
        reader: readers::ReadPool,
        /// Keeps the log's checkpointer running (`checkpoint`).
        _alive: checkpoint::Alive,
    },
    Postgres(PgPool),
}

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// Rows a SQLite connection's thread may send ahead of the task reading
/// them (sqlx's default: 50). sqlx runs each statement on the
/// connection's own thread and passes the rows back through a bounded
/// channel; when it is full the thread stops and waits until the task is
/// polled again. A claim returns hundreds of rows, so with 50 it stopped
/// every 50 rows — and on a busy runtime each of those waits for the task
/// to come round in the queue, with the single writer connection held and
/// idle. A queue batch is read in one go this way. The rows are collected
/// whole anyway, so this bounds nothing that was not already in memory.
const ROW_CHANNEL: usize = 4096;

impl Store {
    /// Connect to `sqlite://path` or `postgres://…` and bring the schema up
    /// to date.
    pub async fn connect(
        url: &str,
        schema: Arc<Schema>,
        opts: StoreOptions,
    ) -> Result<Store, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                // Statement journals (a multi-row statement inside a
                // transaction or savepoint) and sort spills in memory, not
                // in temporary files created and deleted per statement.
                .pragma("temp_store", "memory")
                // A log that a long reader kept from starting over is cut
                // back to this when it next does (`checkpoint`); the usual
                // cycle stays well under it.
                .pragma("journal_size_limit", "134217728")
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(false)
                .row_buffer_size(ROW_CHANNEL);
            // The writer never checkpoints in its COMMITs: the
            // checkpointer does, beside it (`checkpoint`).
            let writer_options = base.clone().pragma("wal_autocheckpoint", "0");
            let log_restart = checkpoint::LogRestart::default();
            let writer = group::Writer::new(
                writer_options.connect().await?,
                opts.acquire_timeout,
                log_restart.clone(),
            );
            let alive = checkpoint::Alive::default();
            checkpoint::Checkpointer::connect(&base)
                .await?
                .spawn(Arc::downgrade(&alive), log_restart);
            // Read-only connections given back without sqlx's ping
            // (`readers`).
            let reader = readers::ReadPool::new(
                base.read_only(true),
                opts.max_connections.clamp(1, 8),
                opts.acquire_timeout,
            );
            Backend::Sqlite {
                writer,
                reader,
                _alive: alive,
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let o = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections)
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(o)
                .await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let pg_groups = match &backend {
            Backend::Postgres(p) => Some(pg_group::Groups::new(
                p.clone(),
                opts.max_connections,
                opts.acquire_timeout,
            )),
            Backend::Sqlite { .. } => None,
        };
        let store = Store {
            backend,
            pg_groups,
            schema: Arc::new(LiveSchema::new(schema)),
            keyring: None,
            credentials: credentials::Credentials::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The schema served now (a snapshot: a later change replaces it).
    pub fn schema(&self) -> Arc<Schema> {
        self.schema.get()
    }

    /// The served schema and the stored version it was built from.
    pub fn live_schema(&self) -> &LiveSchema {
        &self.schema
    }

    /// This store sealing its secrets with `keyring` (see [`secrets`]).
    pub fn with_keyring(mut self, keyring: Arc<Keyring>) -> Store {
        self.keyring = Some(keyring);
        self
    }

    pub fn keyring(&self) -> Option<&Arc<Keyring>> {
        self.keyring.as_ref()
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The PostgreSQL pool, for LISTEN/NOTIFY and tests.
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &self.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite { .. } => None,
        }
    }

    /// (in use, idle) connections of the main pool, for metrics.
    pub fn pool_usage(&self) -> (u32, u32) {
        match &self.backend {
            // size and num_idle are read separately and may be momentarily
            // inconsistent: never underflow.
            Backend::Sqlite { writer, reader, .. } => (
                u32::from(writer.busy()) + reader.size().saturating_sub(reader.num_idle() as u32),
                u32::from(!writer.busy()) + reader.num_idle() as u32,
            ),
            // The group writers' connections are the pool's, counted there.
            Backend::Postgres(p) => (
                p.size().saturating_sub(p.num_idle() as u32),
                p.num_idle() as u32,
            ),
        }
    }

    /// Start a write transaction. On SQLite it shares its commit with the
    /// write transactions around it (`group`); it still commits or rolls
    /// back as a whole, and alone.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        self.begin_with(false).await
    }

    /// Start a write transaction that may stay open for a while (one that
    /// calls out over HTTP before it commits): on SQLite the writes before
    /// it commit first instead of waiting for it.
    pub async fn begin_alone(&self) -> Result<Tx, StoreError> {
        self.begin_with(true).await
    }

    /// Start a write transaction that shares its commit with the writes
    /// around it on both stores: on SQLite as [`Store::begin`], on
    /// PostgreSQL in a group transaction (`pg_group`), for the pipeline's
    /// single writes that call no webhook. Such a write may fail with
    /// [`StoreError::is_lock_conflict`] where an ordinary transaction would
    /// have waited for a row lock: nothing of it was committed, and the
    /// caller runs it again in [`Store::begin_alone`].
    ///
    /// On SQLite such a write takes the writer connection only when it
    /// first needs it (`group::Pending`), and may fail the same way when
    /// the settings it decided on changed meanwhile
    /// ([`StoreError::SettingsChanged`]).
    pub async fn begin_grouped(&self) -> Result<Tx, StoreError> {
        let Some(groups) = &self.pg_groups else {
            if let Backend::Sqlite { writer, .. } = &self.backend {
                return Ok(self.tx(TxInner::SqlitePending(writer.pending()), None));
            }
            return self.begin_with(false).await;
        };
        let mut member = groups.join().await?;
        let settings = member.settings();
        Ok(self.tx(TxInner::PgGroup(member), settings))
    }

    fn tx(
        &self,
        inner: TxInner,
        settings: Option<std::collections::HashMap<String, String>>,
    ) -> Tx {
        Tx {
            inner,
            schema: self.schema(),
            pending: batch::Batch::default(),
            pending_id: None,
            keyring: self.keyring.clone(),
            notify: false,
            settings,
            settings_generation: None,
            settings_written: Written::No,
            credentials: self.credentials.clone(),
            credentials_changed: false,
        }
    }

    async fn begin_with(&self, alone: bool) -> Result<Tx, StoreError> {
        let mut settings = None;
        let inner = match &self.backend {
            Backend::Sqlite { writer, .. } => {
                let mut member = writer.join(alone).await?;
                settings = member.settings();
                TxInner::Sqlite(member)
            }
            Backend::Postgres(p) => TxInner::Pg(p.begin().await?),
        };
        Ok(self.tx(inner, settings))
    }

    /// Run a read-only query outside any transaction.
    pub async fn fetch(
        &self,
        query: &Query,
        limit: Option<u64>,
        offset: u64,
    ) -> Result<Vec<Record>, StoreError> {
        let schema = self.schema();
        let mut rows = read::on_reader!(self, |c| c.fetch(&schema, query, limit, offset).await)?;
        secrets::open_records(self.keyring.as_deref(), &schema, query, &mut rows)?;
        Ok(rows)
    }

    pub async fn count(&self, query: &Query) -> Result<i64, StoreError> {
        read::on_reader!(self, |c| c.count(&self.schema(), query).await)
    }

    /// Read one row with every column, write-only ones included (for the
    /// server's own use, e.g. a webhook's authvalue).
    pub async fn get(&self, table: &Table, id: Uuid) -> Result<Option<Record>, StoreError> {
        let q = by_id(table, id);
        Ok(self.fetch(&q, Some(1), 0).await?.into_iter().next())
    }

    /// The store's query plan for a query (`EXPLAIN QUERY PLAN` on SQLite,
    /// `EXPLAIN` on PostgreSQL), one line per step.
    pub async fn explain(
        &self,
        query: &Query,
        limit: Option<u64>,
    ) -> Result<Vec<String>, StoreError> {
        use sqlx::Row;
        let select = sql::select(self.dialect(), &self.schema(), query, limit, 0)?;
        let mut stmt = select.sql;
        let mut out = Vec::new();
        match &self.backend {
            Backend::Sqlite { reader, .. } => {
                stmt.text = format!("EXPLAIN QUERY PLAN {}", stmt.text);
                for r in reader.rows(&stmt).await? {
                    out.push(r.try_get::<String, _>(3)?);
                }
            }
            Backend::Postgres(p) => {
                stmt.text = format!("EXPLAIN {}", stmt.text);
                for r in conn::bound_query(&stmt).fetch_all(p).await? {
                    out.push(r.try_get::<String, _>(0)?);
                }
            }
        }
        Ok(out)
    }
}

/// A query for one row by primary key, selecting every column.
pub fn by_id(table: &Table, id: Uuid) -> Query {
    let mut q = Query::all(&table.logical_name);
    q.select = table.columns.iter().map(|c| c.name.clone()).collect();
    q.filter = Some(herald_core::query::Condition::Compare {
        column: herald_core::query::ColumnRef::new(table.primary_id.clone()),
        op: herald_core::query::CompareOp::Eq,
        value: Value::Guid(id),
    });
    q
}

/// A write transaction. Dropping it without `commit` rolls back.
///
/// Row inserts ([`Tx::insert`], [`Tx::enqueue_job`],
/// [`Tx::insert_system_job`]) are not sent at once but gathered into one
/// batch, sent before anything else runs on the transaction (a read, an
/// update, [`Tx::flush`]) or at commit: a create with an async step (its
/// row, the System Job, its payload, the queue entry) thus costs one
/// statement instead of four.
///
/// - On SQLite the batch is one multi-statement text. sqlx runs every
///   SQLite statement on the connection's worker thread, and each hand-off
///   there and back costs two thread wake-ups, more than the insert itself.
/// - On PostgreSQL, whose extended protocol takes one statement per
///   message, the batch is one statement: each insert a data-modifying
///   `WITH` (PostgreSQL runs every one of them exactly once), ending in
///   `SELECT pg_notify(…)` when a Ready job was enqueued. One loopback round
///   trip instead of one per insert. It is sent early when it has bound
///   [`PG_BATCH_PARAMS`] parameters.
///
/// Rows of the same shape (table and columns) share one multi-row
/// `INSERT` ([`batch`]).
///
/// Errors of a batched insert (say a duplicate key) surface at the next
/// flush or commit, still before the transaction commits.
pub struct Tx {
    inner: TxInner,
    schema: Arc<Schema>,
    /// Batched inserts not yet sent, and the first one's row id (named in
    /// a duplicate-key error).
    pending: batch::Batch,
    pending_id: Option<String>,
    keyring: Option<Arc<Keyring>>,
    /// The PostgreSQL batch ends in `NOTIFY herald_jobs`.
    notify: bool,
    /// `herald_setting` as this transaction read it (`settings`).
    pub(crate) settings: Option<std::collections::HashMap<String, String>>,
    /// The copy in `settings` is the SQLite writer's published one of this
    /// generation (`group`), taken before the write had the connection.
    settings_generation: Option<u64>,
    /// Whether this transaction wrote settings.
    pub(crate) settings_written: Written,
    /// The store's credentials epoch, advanced by the commit when
    /// `credentials_changed` ([`credentials`]).
    credentials: credentials::Credentials,
    credentials_changed: bool,
}

/// Whether a transaction wrote `herald_setting`, and through its copy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Written {
    No,
    /// Through `Tx::put_setting`: its copy holds the change.
    InCopy,
    /// Past its copy (which it dropped).
    PastCopy,
}

/// Parameters bound in one PostgreSQL batch before it is sent (the
/// protocol allows 65 535).
const PG_BATCH_PARAMS: usize = 30_000;

/// Text of one SQLite batch before it is sent: SQLite copies the rest of a
/// multi-statement text for every statement it prepares, so a batch of
/// thousands of statements costs quadratic copying (a bulk message's
/// records are written in pieces of this size).
const SQLITE_BATCH_TEXT: usize = 64 * 1024;

enum TxInner {
    Sqlite(group::Member),
    /// A SQLite write that has not needed the connection yet.
    SqlitePending(group::Pending),
    Pg(sqlx::Transaction<'static, Postgres>),
    /// A write of a PostgreSQL group transaction (`pg_group`).
    PgGroup(pg_group::Member),
}

impl Tx {
    /// The transaction's connection, after sending any batched inserts.
    pub async fn conn(&mut self) -> Result<Conn<'_>, StoreError> {
        self.flush().await?;
        self.raw_conn()
    }

    /// Take the SQLite writer connection if this write has not yet.
    async fn joined(&mut self) -> Result<(), StoreError> {
        if let TxInner::SqlitePending(p) = &self.inner {
            let mut member = p.join(self.settings_generation).await?;
            if self.settings.is_none() {
                self.settings = member.settings();
            }
            self.inner = TxInner::Sqlite(member);
        }
        Ok(())
    }

    /// Whether this is a SQLite write that has not taken the connection,
    /// and the writer's published settings if so.
    pub(crate) fn published_settings(&self) -> Option<(u64, group::Settings)> {
        match &self.inner {
            TxInner::SqlitePending(p) => p.published(),
            _ => None,
        }
    }

    /// Use the writer's published settings of `generation` (see
    /// [`Tx::published_settings`]).
    pub(crate) fn decide_on(&mut self, generation: u64, settings: group::Settings) {
        self.settings = Some(settings);
        self.settings_generation = Some(generation);
    }

    fn raw_conn(&mut self) -> Result<Conn<'_>, StoreError> {
        Ok(match &mut self.inner {
            TxInner::SqlitePending(_) => {
                return Err(StoreError::Invalid(
                    "internal: the write has not taken the connection".into(),
                ))
            }
            TxInner::Sqlite(m) => Conn::Sqlite(m.conn()),
            TxInner::Pg(t) => Conn::Pg(t),
            TxInner::PgGroup(m) => Conn::Pg(m.conn()?),
        })
    }

    fn is_pg(&self) -> bool {
        !matches!(self.inner, TxInner::Sqlite(_) | TxInner::SqlitePending(_))
    }

    /// Send the batched inserts (see [`Tx`]).
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        self.joined().await?;
        // A SQLite write's first statements begin its savepoint (`group`).
        let preamble = match &mut self.inner {
            TxInner::SqlitePending(_) => None,
            TxInner::Sqlite(m) => m.preamble(),
            TxInner::Pg(_) => None,
            // A grouped PostgreSQL write's savepoint is its own message.
            TxInner::PgGroup(m) => {
                m.start().await?;
                None
            }
        };
        if self.pending.is_empty() && preamble.is_none() {
            return Ok(());
        }
        let pg = self.is_pg();
        let tail = if !pg {
            String::new()
        } else if std::mem::take(&mut self.notify) {
            format!(" SELECT pg_notify('{}', '')", jobs::JOBS_CHANNEL)
        } else {
            " SELECT 1".to_string()
        };
        let mut sql = self.pending.take(pg, &tail);
        if let Some(mut text) = preamble {
            text.push_str(&sql.text);
            sql.text = text;
        }
        let id = self.pending_id.take().unwrap_or_default();
        match self.raw_conn()?.execute(&sql).await {
            Ok(_) => Ok(()),
            Err(StoreError::Database(e)) => Err(StoreError::from_write(e, &id)),
            Err(e) => Err(e),
        }
    }

    /// Insert a row, batched (see [`Tx`]).
    async fn insert_row(
        &mut self,
        table: &Table,
        values: &[(String, Value)],
    ) -> Result<(), StoreError> {
        let id = self
            .try_batch(|sql| conn::insert_sql(sql, table, values))
            .await?;
        self.pending_id.get_or_insert(id);
        Ok(())
    }

    /// Append a statement to the batch (see [`Tx`] and [`batch`]); `build`
    /// writes it into an empty [`Sql`].
    pub(crate) async fn batch(&mut self, build: impl FnOnce(&mut Sql)) -> Result<(), StoreError> {
        self.try_batch(|sql| {
            build(sql);
            Ok(())
        })
        .await
    }

    /// [`Tx::batch`] with a `build` that may refuse: the batch is then left
    /// as it was, without the half-built statement.
    async fn try_batch<T>(
        &mut self,
        build: impl FnOnce(&mut Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pg = self.is_pg();
        let full = if pg {
            self.pending.params() >= PG_BATCH_PARAMS
        } else {
            self.pending.text_len() >= SQLITE_BATCH_TEXT
        };
        if full {
            self.flush().await?;
        }
        let mut stmt = Sql::default();
        let v = build(&mut stmt)?;
        self.pending.push(stmt);
        Ok(v)
    }

    /// End the batch with `NOTIFY herald_jobs` (PostgreSQL).
    pub(crate) fn notify_jobs(&mut self) {
        self.notify = true;
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            TxInner::Sqlite(_) | TxInner::SqlitePending(_) => Dialect::Sqlite,
            TxInner::Pg(_) | TxInner::PgGroup(_) => Dialect::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        let advance = self.credentials_changed.then(|| self.credentials.clone());
        let committed = self.commit_writes().await;
        // Before the commit returns: the change holds from the next
        // request on (`credentials`). Even after an error, which may come
        // after the change was written: a needless advance costs one read.
        if let Some(credentials) = advance {
            credentials.advance();
        }
        committed
    }

    /// This transaction changes what an API key lookup reads
    /// ([`credentials`]): its commit advances the credentials epoch.
    pub(crate) fn credentials_changed(&mut self) {
        self.credentials_changed = true;
    }

    async fn commit_writes(mut self) -> Result<(), StoreError> {
        if let TxInner::SqlitePending(p) = &self.inner {
            if self.pending.is_empty() {
                // Nothing to write: nothing to commit.
                return Ok(());
            }
            // All its statements are batched: handed over whole (`group`).
            let id = self.pending_id.take().unwrap_or_default();
            let stmts = self.pending.take_each();
            return match p
                .submit(stmts, self.settings.take(), self.settings_generation)
                .await
            {
                Err(StoreError::Database(e)) => Err(StoreError::from_write(e, &id)),
                other => other,
            };
        }
        match self.inner {
            TxInner::SqlitePending(_) => unreachable!("handed over above"),
            TxInner::Sqlite(m) => {
                // The last batch goes with the savepoint's release.
                let id = self.pending_id.take().unwrap_or_default();
                let last = self.pending.take(false, "");
                let left = match (self.settings.take(), self.settings_written) {
                    (None, Written::No) => group::SettingsLeft::Untouched,
                    (Some(copy), Written::No) => group::SettingsLeft::Read(copy),
                    (Some(copy), Written::InCopy) => group::SettingsLeft::Written(copy),
                    (_, _) => group::SettingsLeft::Unknown,
                };
                match m.commit(&last, left).await {
                    Err(StoreError::Database(e)) => Err(StoreError::from_write(e, &id)),
                    other => other,
                }
            }
            TxInner::Pg(_) => {
                self.flush().await?;
                let TxInner::Pg(t) = self.inner else {
                    unreachable!("matched above")
                };
                t.commit().await?;
                Ok(())
            }
            TxInner::PgGroup(_) => {
                self.flush().await?;
                let settings = self.settings.take();
                let TxInner::PgGroup(m) = self.inner else {
                    unreachable!("matched above")
                };
                m.commit(settings).await
            }
        }
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::SqlitePending(_) => {}
            TxInner::Sqlite(m) => m.rollback().await?,
            TxInner::Pg(t) => t.rollback().await?,
            TxInner::PgGroup(m) => m.rollback().await?,
        }
        Ok(())
    }

    pub async fn insert(
        &mut self,
        table: &Table,
        values: &[(String, Value)],
    ) -> Result<(), StoreError> {
        if credentials::read_by_lookups(&table.logical_name) {
            self.credentials_changed();
        }
        let values = secrets::seal_values(self.keyring.as_deref(), table, values);
        self.insert_row(table, &values).await
    }

    pub async fn update(
        &mut self,
        table: &Table,
        id: Uuid,
        values: &[(String, Value)],
    ) -> Result<u64, StoreError> {
        if credentials::read_by_lookups(&table.logical_name) {
            self.credentials_changed();
        }
        let values = secrets::seal_values(self.keyring.as_deref(), table, values);
        self.conn().await?.update(table, id, &values).await
    }

    /// The keyring this transaction seals with (see [`secrets`]).
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_deref()
    }

    pub async fn delete(&mut self, table: &Table, id: Uuid) -> Result<u64, StoreError> {
        if credentials::read_by_lookups(&table.logical_name) {
            self.credentials_changed();
        }
        self.conn().await?.delete(table, id).await
    }

    pub async fn fetch(
        &mut self,
        query: &Query,
        limit: Option<u64>,
        offset: u64,
    ) -> Result<Vec<Record>, StoreError> {
        let schema = self.schema.clone();
        let mut rows = self
            .conn()
            .await?
            .fetch(&schema, query, limit, offset)
            .await?;
        secrets::open_records(self.keyring.as_deref(), &schema, query, &mut rows)?;
        Ok(rows)
    }

    /// Read one row (all columns) inside the transaction.
    pub async fn get(&mut self, table: &Table, id: Uuid) -> Result<Option<Record>, StoreError> {
        let q = by_id(table, id);
        Ok(self.fetch(&q, Some(1), 0).await?.into_iter().next())
    }

    /// Read one row inside the transaction and hold it against concurrent
    /// writers until the transaction ends: PostgreSQL locks it (`SELECT …
    /// FOR UPDATE`), so a second transaction doing the same waits and then
    /// sees this one's committed writes; on SQLite the single writer already
    /// excludes every other write transaction. For read-modify-write of a
    /// row computed from others (a document's totals from its lines).
    pub async fn get_locked(
        &mut self,
        table: &Table,
        id: Uuid,
    ) -> Result<Option<Record>, StoreError> {
        if self.is_pg() {
            let mut sql = Sql::default();
            sql.push("SELECT 1 FROM ")
                .push(&sql::ident(&table.logical_name))
                .push(" WHERE ")
                .push(&sql::ident(&table.primary_id))
                .push(" = ")
                .bind(sql::Param::Text(Some(id.to_string())))
                .push(" FOR UPDATE");
            self.conn().await?.execute(&sql).await?;
        }
        self.get(table, id).await
    }

    /// Read the rows of `ids` (all columns) inside the transaction, a few
    /// hundred per query: those that exist, by id.
    pub async fn get_many(
        &mut self,
        table: &Table,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Record>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let mut q = by_id(table, Uuid::nil());
            q.filter = Some(herald_core::query::Condition::In {
                column: herald_core::query::ColumnRef::new(table.primary_id.clone()),
                values: chunk.iter().map(|id| Value::Guid(*id)).collect(),
                negated: false,
            });
            for row in self.fetch(&q, None, 0).await? {
                if let Some(id) = row.guid(&table.primary_id) {
                    out.insert(id, row);
                }
            }
        }
        Ok(out)
    }
}
