//! Retention: succeeded System Jobs (and their attempts) older than
//! `jobs.retention` are purged in the background so the tables stay
//! bounded. Failed and canceled jobs stay until someone deletes them.

use tracing::{info, warn};

use crate::state::SharedState;

/// Purge once; returns how many jobs were deleted.
pub async fn purge_once(state: &SharedState) -> Result<u64, herald_store::StoreError> {
    purge_once_before(state, state.clock.now()).await
}

/// Purge as if the time were `now` (jobs completed before `now - retention`).
pub async fn purge_once_before(
    state: &SharedState,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, herald_store::StoreError> {
    let retention = chrono::Duration::from_std(state.config.jobs.retention)
        .unwrap_or(chrono::Duration::days(7));
    state
        .store
        .purge_succeeded_jobs((now - retention).timestamp_millis())
        .await
}

/// Purge now and then every `jobs.retention_interval` (default
/// `retention / 10`, between 1 min and 1 h; see
/// [`crate::config::JobsConfig::retention_every`]).
pub fn spawn_retention(state: SharedState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = state.config.jobs.retention_every();
        loop {
            match purge_once(&state).await {
                Ok(0) => {}
                Ok(n) => info!(jobs = n, "purged succeeded System Jobs past retention"),
                Err(e) => warn!(error = %e, "purging System Jobs failed"),
            }
            tokio::time::sleep(every).await;
        }
    })
}
