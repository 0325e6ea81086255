//! The registered steps per (message, table), kept in memory so that a
//! write does not read the step and image tables every time.
//!
//! Every committed change to a registration table (`serviceendpoint`,
//! `sdkmessageprocessingstep`, `sdkmessageprocessingstepimage`) changes
//! the registrations' version inside its own transaction, and a cached
//! entry is used only while the version it was loaded under is current:
//!
//! - SQLite: one process owns the file and writes one transaction at a
//!   time, so the version is an in-memory counter, bumped inside the
//!   changing transaction (no other write can run until it ends). A write
//!   that finds an entry of the current version reads nothing.
//! - PostgreSQL: several nodes share the tables, so the version is a row
//!   (`herald_setting` `registrations`) written in the changing
//!   transaction and read by every write (one small read instead of the
//!   step and image queries). A node therefore sees another node's change
//!   from the first write after its commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use herald_core::matching::StepDef;
use herald_store::{Dialect, Record, Tx};

use super::error::PipelineResult;

/// The tables whose changes change which steps run or how.
pub const REGISTRATION_TABLES: [&str; 3] = [
    "serviceendpoint",
    "sdkmessageprocessingstep",
    "sdkmessageprocessingstepimage",
];

const VERSION_SETTING: &str = "registrations";

/// The enabled steps of one (message, table), with the rows of the
/// webhooks they call (read under the same registrations version, so a
/// System Job handed to this node's workers needs no read of its webhook).
#[derive(Debug, Default)]
pub struct StepSet {
    pub defs: Vec<StepDef>,
    pub endpoints: HashMap<uuid::Uuid, Arc<Record>>,
}

impl std::ops::Deref for StepSet {
    type Target = [StepDef];
    fn deref(&self) -> &[StepDef] {
        &self.defs
    }
}

/// Shared by the writes that run them.
pub type Steps = Arc<StepSet>;

/// (message, table) → (the version it was loaded under, its steps).
type Entries = HashMap<(String, String), (String, Steps)>;

/// The cache; one per node ([`crate::state::AppState::registrations`]).
#[derive(Default)]
pub struct StepCache {
    local: AtomicU64,
    entries: Mutex<Entries>,
}

impl StepCache {
    /// The enabled steps for `message` on `table`, from the cache when it
    /// is current, else loaded in `tx` (and cached).
    pub async fn steps(&self, tx: &mut Tx, message: &str, table: &str) -> PipelineResult<Steps> {
        let version = self.version(tx).await?;
        let key = (message.to_string(), table.to_string());
        if let Some((v, steps)) = self.lock().get(&key) {
            if *v == version {
                return Ok(steps.clone());
            }
        }
        let defs = super::steps::load(tx, message, table).await?;
        let endpoints = crate::webhook::rows_by_id(tx, defs.iter().map(|d| d.endpoint_id))
            .await?
            .into_iter()
            .map(|(id, row)| (id, Arc::new(row)))
            .collect();
        let steps = Arc::new(StepSet { defs, endpoints });
        self.lock().insert(key, (version, steps.clone()));
        Ok(steps)
    }

    /// Whether a write of `message` on `table` may deliver a sync step,
    /// holding its transaction open across an HTTP call: it then begins
    /// alone ([`herald_store::Store::begin_alone`]) rather than in a group
    /// of SQLite writes. From the cache, without a read: true when the
    /// (message, table) entry is missing or stale, or when any cached
    /// entry of `table` (a derived Assign or SetState too) has a sync step.
    ///
    /// On PostgreSQL (group commit, herald-store `pg_group`) the entries'
    /// versions are the stored registration version, which this node
    /// compares only inside a write: there an entry counts as current when
    /// present. A sync step registered on another node since this node last
    /// read the version can therefore run once inside a group: its write
    /// still commits or rolls back alone (its savepoint), but the group's
    /// other writes wait for that call.
    pub fn may_call_out(&self, dialect: Dialect, message: &str, table: &str) -> bool {
        let version = self.local.load(Ordering::SeqCst).to_string();
        let entries = self.lock();
        let current = entries
            .get(&(message.to_string(), table.to_string()))
            .is_some_and(|(v, _)| dialect == Dialect::Postgres || *v == version);
        !current
            || entries
                .iter()
                .any(|((_, t), (_, steps))| t == table && steps.iter().any(|s| !s.is_async()))
    }

    /// Record, inside `tx`, that it changes registrations.
    pub async fn changed(&self, tx: &mut Tx) -> PipelineResult<()> {
        let n = self.local.fetch_add(1, Ordering::SeqCst) + 1;
        if tx.dialect() == Dialect::Postgres {
            let version = format!("{}-{n}", uuid::Uuid::new_v4().simple());
            tx.put_setting(VERSION_SETTING, &version).await?;
        }
        Ok(())
    }

    async fn version(&self, tx: &mut Tx) -> PipelineResult<String> {
        Ok(match tx.dialect() {
            Dialect::Postgres => tx.setting(VERSION_SETTING).await?.unwrap_or_default(),
            Dialect::Sqlite => self.local.load(Ordering::SeqCst).to_string(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
