//! Audit retention: rows older than `[audit] retention` (default 90 days,
//! `HERALD_AUDIT__RETENTION`) are purged at start and then every
//! `[audit] retention_interval`. Every node runs the purge; it deletes by
//! age in small batches, so nodes purging at once share the work and none
//! fails (see `herald_store::Store::purge_audit`).

use tracing::{info, warn};

use crate::state::SharedState;

/// Purge as if the time were `now`; how many rows went.
pub async fn purge_once_before(
    state: &SharedState,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, herald_store::StoreError> {
    let retention = chrono::Duration::from_std(state.config.audit.retention)
        .unwrap_or(chrono::Duration::days(90));
    state
        .store
        .purge_audit((now - retention).timestamp_millis())
        .await
}

/// Purge now and then every `[audit] retention_interval`.
pub fn spawn_retention(state: SharedState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = state.config.audit.retention_every();
        loop {
            match purge_once_before(&state, state.clock.now()).await {
                Ok(0) => {}
                Ok(n) => info!(rows = n, "purged audit rows past retention"),
                Err(e) => warn!(error = %e, "purging audit rows failed"),
            }
            tokio::time::sleep(every).await;
        }
    })
}
