//! The worker loop of one node: claim ready jobs up to the configured
//! concurrency, run each on its own task, and sleep until a write wakes it
//! (in-process `Notify`) or the poll interval passes (the safety net that
//! also picks up other nodes' jobs and expired leases).

use std::sync::Arc;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::warn;

use super::run::{lease_for, run_job};
use crate::state::SharedState;

pub struct WorkerHandle {
    pub node_id: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Stop claiming new jobs; running deliveries finish on their own tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

pub fn node_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    format!("{host}-{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8])
}

pub fn spawn_workers(state: SharedState) -> WorkerHandle {
    let node = node_id();
    let (stop, mut stopped) = watch::channel(false);
    let owner = node.clone();
    let task = tokio::spawn(async move {
        let concurrency = state.config.jobs.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let lease = lease_for(&state.config).as_millis() as i64;
        loop {
            if *stopped.borrow() {
                break;
            }
            let free = slots.available_permits();
            let mut claimed = 0;
            if free > 0 {
                let now = state.clock.now().timestamp_millis();
                match state.store.claim_jobs(&owner, now, lease, free as i64).await {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        for job in jobs {
                            let Ok(permit) = slots.clone().acquire_owned().await else { break };
                            let st = state.clone();
                            let own = owner.clone();
                            tokio::spawn(async move {
                                run_job(&st, &own, job).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => warn!(error = %e, "claiming System Jobs failed"),
                }
            }
            if claimed > 0 && claimed == free {
                // Possibly more ready: wait for a free slot, then claim again.
                tokio::select! {
                    p = slots.clone().acquire_owned() => drop(p),
                    _ = stopped.changed() => {}
                }
                continue;
            }
            if claimed > 0 {
                continue;
            }
            tokio::select! {
                _ = state.jobs_wake.notified() => {}
                _ = tokio::time::sleep(state.config.jobs.poll_interval) => {}
                _ = stopped.changed() => {}
            }
        }
    });
    WorkerHandle { node_id: node, stop, task }
}
