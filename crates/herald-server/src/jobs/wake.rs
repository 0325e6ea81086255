//! Cross-node wake-up on PostgreSQL: every node LISTENs on
//! `herald_jobs` (see `herald_store::jobs::JOBS_CHANNEL`); a write that
//! enqueued jobs issues `NOTIFY herald_jobs` in its transaction, PostgreSQL
//! delivers it at commit, and each node's listener wakes its worker
//! (`state.jobs_wake`). The listener has its own connection (not one of the
//! store's pool). When the connection is lost it reconnects with backoff
//! and wakes the worker once, since notifications sent meanwhile are lost;
//! the worker's poll interval covers the gap in any case.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::state::SharedState;

/// Start the listener when the store is PostgreSQL (`None` on SQLite, where
/// all writers are in this process and the in-process wake suffices).
pub fn spawn_listener(
    state: SharedState,
    stopped: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    state.store.pg_pool()?;
    let url = state.config.database_url();
    Some(tokio::spawn(listen(state, url, stopped)))
}

async fn listen(state: SharedState, url: String, mut stopped: watch::Receiver<bool>) {
    let channel = herald_store::jobs::JOBS_CHANNEL;
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        if *stopped.borrow() {
            return;
        }
        let connected = async {
            let mut l = PgListener::connect(&url).await?;
            l.listen(channel).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        let mut listener = match connected {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, retry_in = ?backoff, "cannot LISTEN for System Jobs; relying on polling until it works");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        if first {
            debug!(channel, "listening for System Jobs of all nodes");
        } else {
            info!(channel, "listening for System Jobs again");
        }
        first = false;
        // Jobs committed before LISTEN took effect (or while the connection
        // was down) sent their notification to nobody: look now.
        state.jobs_wake.notify_one();
        loop {
            let next = tokio::select! {
                n = listener.try_recv() => n,
                _ = stopped.changed() => return,
            };
            match next {
                Ok(Some(_)) => {
                    backoff = Duration::from_millis(100);
                    state.jobs_wake.notify_one();
                }
                Ok(None) => {
                    // Connection lost and re-established by sqlx (re-subscribed).
                    info!(channel, "LISTEN connection was lost and re-established");
                    state.jobs_wake.notify_one();
                }
                Err(e) => {
                    warn!(error = %e, retry_in = ?backoff, "LISTEN for System Jobs failed; reconnecting");
                    state.jobs_wake.notify_one();
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stopped.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    break;
                }
            }
        }
    }
}
