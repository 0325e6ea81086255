//! Writing System Job outcomes in batches. Every finished delivery is sent
//! to one completer task per node, which writes as many outcomes as are
//! waiting in ONE transaction (attempts, the asyncoperation row, leaving the
//! queue) and then tells each job it is durable. On SQLite, where a single
//! connection writes, this turns hundreds of small commits into a few.
//!
//! An outcome is written only while the node still holds the job's lease;
//! if the batch fails, the jobs stay leased and run again after the lease.

use herald_core::Value;
use herald_store::{AttemptRow, ClaimedJob};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::state::SharedState;

/// Outcomes written together at most.
const BATCH: usize = 256;

/// What to do with the asyncoperation row.
pub enum RowWrite {
    Update(Vec<(String, Value)>),
    /// A succeeded job of an asyncautodelete step.
    Delete,
}

/// One finished job.
pub struct Finished {
    pub job: ClaimedJob,
    /// Attempts of this run, numbered from 1; renumbered after earlier runs.
    pub attempts: Vec<AttemptRow>,
    pub row: RowWrite,
}

struct Pending {
    finished: Finished,
    done: oneshot::Sender<bool>,
}

#[derive(Clone)]
pub struct Completer {
    tx: mpsc::Sender<Pending>,
}

impl Completer {
    pub fn spawn(state: SharedState, owner: String) -> Completer {
        let (tx, mut rx) = mpsc::channel::<Pending>(4 * BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let written = write_batch(&state, &owner, &batch).await;
                if let Err(e) = &written {
                    warn!(error = %e, jobs = batch.len(), "writing System Job outcomes failed; they run again when their lease expires");
                }
                let ok = written.is_ok();
                for p in batch {
                    let _ = p.done.send(ok);
                }
            }
        });
        Completer { tx }
    }

    /// Hand over an outcome and wait until it is committed (true) or could
    /// not be written (false).
    pub async fn complete(&self, finished: Finished) -> bool {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Pending { finished, done }).await.is_err() {
            return false;
        }
        wait.await.unwrap_or(false)
    }
}

async fn write_batch(
    state: &SharedState,
    owner: &str,
    batch: &[Pending],
) -> Result<(), herald_store::StoreError> {
    let table = state
        .schema
        .table("asyncoperation")
        .ok_or_else(|| herald_store::StoreError::Invalid("no asyncoperation table".into()))?;
    let mut tx = state.store.begin().await?;
    for p in batch {
        let f = &p.finished;
        let id = f.job.asyncoperation_id;
        if !tx.release_job(id, owner).await? {
            debug!(job = %id, "lease lost before completion; leaving the outcome to the new owner");
            continue;
        }
        match &f.row {
            RowWrite::Delete => {
                tx.delete(table, id).await?;
                tx.delete_attempts(id).await?;
            }
            RowWrite::Update(values) => {
                let previous = tx.attempt_count(id).await?;
                for a in &f.attempts {
                    let mut a = a.clone();
                    a.attempt += previous;
                    tx.record_attempt(&a).await?;
                }
                tx.update(table, id, values).await?;
            }
        }
    }
    tx.commit().await
}
