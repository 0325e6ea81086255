//! The shared state every request and worker sees.

use std::sync::Arc;

use herald_core::clock::Clock;
use herald_core::Schema;
use herald_store::Store;
use uuid::Uuid;

use crate::config::Config;

/// Ids of the singleton rows created at first start.
#[derive(Debug, Clone, Copy)]
pub struct Org {
    pub organization_id: Uuid,
    pub business_unit_id: Uuid,
    pub admin_user_id: Uuid,
}

pub struct AppState {
    pub config: Config,
    pub store: Store,
    /// The built-in and `[[tables]]` tables: the schema before the
    /// metadata API's definitions are applied (see `crate::tables`).
    pub base_schema: Arc<Schema>,
    pub clock: Arc<dyn Clock>,
    pub org: Org,
    pub depths: crate::pipeline::depth::DepthTracker,
    /// Outbound HTTP for webhooks.
    pub sender: herald_delivery::Sender,
    /// Wakes the System Job workers when a write enqueued jobs.
    pub jobs_wake: tokio::sync::Notify,
    /// This node's writes hand their System Jobs to its workers here.
    pub handoff: crate::jobs::handoff::Handoff,
    /// The registered steps, cached per (message, table).
    pub registrations: crate::pipeline::registrations::StepCache,
    /// Each user's privileges through its security roles.
    pub security: crate::security::GrantCache,
    pub metrics: crate::metrics::Metrics,
    /// Where request bins live: the main store on PostgreSQL; on SQLite a
    /// separate file, so a sync webhook aimed at a bin (captured while the
    /// write holds SQLite's single writer) does not wait on itself.
    pub bins: Store,
    /// The Business Central notifier's lease owner and tick lock.
    pub bc_notifier: crate::bc::notifier_state::NotifierState,
}

impl AppState {
    /// The schema served now: a snapshot, replaced as a whole when the
    /// metadata API (on this node or another) changes a table.
    pub fn schema(&self) -> Arc<Schema> {
        self.store.schema()
    }
}

pub type SharedState = Arc<AppState>;
