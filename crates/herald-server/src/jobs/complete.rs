//! Writing System Job outcomes in batches. Every finished delivery hands
//! its outcome to one completer task per node and frees its slot at once;
//! the completer writes as many outcomes as are waiting in ONE transaction
//! of a few statements (attempts, the asyncoperation rows, leaving the
//! queue). On SQLite, where a single connection writes, this turns hundreds
//! of small commits into a few.
//!
//! An outcome is written only while the node still holds the job's lease;
//! if the batch fails, the jobs stay leased and run again after the lease.

use herald_store::JobOutcome;
use tokio::sync::mpsc;
use tracing::warn;

use crate::state::SharedState;

/// Outcomes written together at most.
const BATCH: usize = 256;

#[derive(Clone)]
pub struct Completer {
    tx: mpsc::Sender<JobOutcome>,
    owner: std::sync::Arc<str>,
}

impl Completer {
    pub fn spawn(state: SharedState, owner: String) -> Completer {
        let lease_owner: std::sync::Arc<str> = owner.as_str().into();
        let (tx, mut rx) = mpsc::channel::<JobOutcome>(4 * BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(o) => batch.push(o),
                        Err(_) => break,
                    }
                }
                if let Err(e) = write_batch(&state, &owner, &batch).await {
                    warn!(error = %e, jobs = batch.len(), "writing System Job outcomes failed; they run again when their lease expires");
                }
            }
        });
        Completer {
            tx,
            owner: lease_owner,
        }
    }

    /// The lease owner (this node) whose outcomes it writes.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Hand over an outcome to be written with the next batch. Waits only
    /// while the completer is [`BATCH`] × 4 outcomes behind (back-pressure);
    /// false if the completer is gone (the job then runs again after its
    /// lease).
    pub async fn submit(&self, outcome: JobOutcome) -> bool {
        self.tx.send(outcome).await.is_ok()
    }
}

async fn write_batch(
    state: &SharedState,
    owner: &str,
    outcomes: &[JobOutcome],
) -> Result<(), herald_store::StoreError> {
    state.store.complete_jobs(owner, outcomes).await
}
