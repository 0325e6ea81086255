//! The worker loop of one node: claim ready jobs into the free delivery
//! slots, run each on its own task, and sleep until something may have
//! become claimable:
//!
//! - a write on this node enqueued jobs (in-process `Notify`),
//! - a write on any node committed jobs (PostgreSQL `NOTIFY herald_jobs`,
//!   see [`super::wake`]),
//! - one of this node's deliveries finished (a slot, or an endpoint's
//!   share, is free again),
//! - the poll interval passed (the safety net that also picks up expired
//!   leases of dead nodes, postponed jobs that became due, and anything a
//!   lost notification missed).
//!
//! Fairness: the slots are shared among endpoints. An endpoint may hold at
//! most `jobs.per_endpoint()` of them (`jobs.endpoint_share` percent of
//! `jobs.concurrency`); the claim skips endpoints at their cap and takes
//! the oldest ready jobs of the others. A webhook that hangs until the
//! timeout therefore ties up at most its share, and the jobs of every other
//! webhook keep flowing through the remaining slots. Within the caps the
//! order is `ready_at` (oldest first). The cap is per node: with N nodes a
//! single endpoint can have up to N × its share in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use herald_store::jobs::ClaimLimits;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;
use tracing::warn;
use uuid::Uuid;

use super::run::{lease_for, run_job};
use crate::state::SharedState;

pub struct WorkerHandle {
    pub node_id: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    listener: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Stop claiming new jobs; running deliveries finish on their own tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if let Some(l) = self.listener {
            l.abort();
        }
    }
}

pub fn node_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// This node's deliveries in flight, per endpoint.
#[derive(Default)]
struct InFlight(Mutex<HashMap<Uuid, i64>>);

impl InFlight {
    fn snapshot(&self) -> HashMap<Uuid, i64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn add(&self, endpoint: Uuid) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(endpoint)
            .or_insert(0) += 1;
    }

    fn done(&self, endpoint: Uuid) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&endpoint) {
            *n -= 1;
            if *n <= 0 {
                m.remove(&endpoint);
            }
        }
    }
}

pub fn spawn_workers(state: SharedState) -> WorkerHandle {
    let node = node_id();
    let (stop, mut stopped) = watch::channel(false);
    let owner = node.clone();
    let listener = super::wake::spawn_listener(state.clone(), stopped.clone());
    let completer = super::complete::Completer::spawn(state.clone(), owner.clone());
    let task = tokio::spawn(async move {
        let concurrency = state.config.jobs.concurrency.max(1);
        let per_endpoint = state.config.jobs.per_endpoint() as i64;
        let slots = Arc::new(Semaphore::new(concurrency));
        let in_flight = Arc::new(InFlight::default());
        let finished = Arc::new(Notify::new());
        let lease = lease_for(&state.config).as_millis() as i64;
        loop {
            if *stopped.borrow() {
                break;
            }
            let free = slots.available_permits();
            let mut claimed = 0;
            if free > 0 {
                let now = state.clock.now().timestamp_millis();
                let limits = ClaimLimits {
                    limit: free as i64,
                    per_endpoint,
                    in_flight: in_flight.snapshot(),
                };
                match state.store.claim_jobs(&owner, now, lease, &limits).await {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        for job in jobs {
                            let Ok(permit) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            let (st, done, fl, fin) = (
                                state.clone(),
                                completer.clone(),
                                in_flight.clone(),
                                finished.clone(),
                            );
                            let endpoint = job.endpoint_id;
                            fl.add(endpoint);
                            tokio::spawn(async move {
                                run_job(&st, &done, job).await;
                                fl.done(endpoint);
                                drop(permit);
                                fin.notify_one();
                            });
                        }
                    }
                    Err(e) => warn!(error = %e, "claiming System Jobs failed"),
                }
            }
            if claimed > 0 {
                // Possibly more ready (or other endpoints behind a capped one).
                continue;
            }
            tokio::select! {
                _ = state.jobs_wake.notified() => {}
                _ = finished.notified() => {}
                _ = tokio::time::sleep(state.config.jobs.poll_interval) => {}
                _ = stopped.changed() => {}
            }
        }
    });
    WorkerHandle {
        node_id: node,
        stop,
        task,
        listener,
    }
}
