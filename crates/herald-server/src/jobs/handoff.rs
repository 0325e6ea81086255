//! Handing a write's System Jobs straight to this node's workers.
//!
//! A job written by this node is usually best delivered by this node, at
//! once. Instead of committing it Ready and having a worker claim it back
//! (a second write transaction, queued behind the writes on the store),
//! the pipeline writes its queue entry already leased to this node — the
//! same lease a claim would take, in the write's own transaction — and,
//! once the write commits, puts it in the [`Handoff`] queue, from which
//! the worker loop takes it straight into its buffer. This happens only
//! while the node has a free delivery slot: a busy node writes its jobs
//! Ready, for whichever node is free to claim.
//!
//! Durability is unchanged: the job and its lease are committed with the
//! data; if this node dies, the lease runs out and any node (or this one
//! after a restart) claims the job as usual. A rolled-back write hands
//! nothing over. The worker publishes how many jobs it holds; past its
//! capacity (or while no worker runs), jobs are written Ready as before
//! and claimed within the usual per-endpoint shares.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use herald_store::{ClaimedJob, Lease, Record};

/// A job handed over to the worker (or claimed by it).
pub struct HandedOver {
    pub job: ClaimedJob,
    /// When its lease was taken.
    pub leased_at: Instant,
    /// Its webhook's row, when the write had it at hand (else the worker
    /// reads it).
    pub endpoint: Option<Arc<Record>>,
}

/// The handoff of one node ([`crate::state::AppState::handoff`]).
#[derive(Default)]
pub struct Handoff {
    inner: Mutex<Inner>,
    /// Wakes the worker when jobs were handed over (without the store
    /// claim that `jobs_wake` triggers).
    wake: tokio::sync::Notify,
}

#[derive(Default)]
struct Inner {
    /// The worker's lease owner and lease length; None: no worker runs.
    worker: Option<(Arc<str>, i64)>,
    /// Most jobs the worker takes this way (held + queued + reserved).
    capacity: usize,
    /// Jobs the worker holds (waiting and running), as it last said.
    held: usize,
    /// Reserved by writes not yet committed.
    reserved: usize,
    /// Committed, waiting for the worker to take them.
    queue: Vec<HandedOver>,
}

impl Handoff {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The worker starts taking jobs: its lease owner, lease length and how
    /// many jobs it may hold (running, waiting, handed over and reserved)
    /// for a job still to be handed over.
    pub fn open(&self, owner: &str, lease_ms: i64, capacity: usize) {
        let mut i = self.lock();
        i.worker = Some((owner.into(), lease_ms));
        i.capacity = capacity;
    }

    /// The worker stops: no more reservations; what was handed over and not
    /// taken is returned (to be released).
    pub fn close(&self) -> Vec<ClaimedJob> {
        let mut i = self.lock();
        i.worker = None;
        i.queue.drain(..).map(|h| h.job).collect()
    }

    /// How many jobs the worker holds now.
    pub fn set_held(&self, held: usize) {
        self.lock().held = held;
    }

    /// Until jobs are handed over (a permit is kept if none waits).
    pub async fn handed_over(&self) {
        self.wake.notified().await
    }

    /// Committed jobs for the worker, with when they were leased.
    pub fn take(&self) -> Vec<HandedOver> {
        std::mem::take(&mut self.lock().queue)
    }

    /// A write's reservations, released when dropped unless handed over.
    pub fn reservations(&self) -> Reservations<'_> {
        Reservations {
            handoff: self,
            jobs: Vec::new(),
            reserved: 0,
            unleased: 0,
        }
    }
}

/// The jobs one write leases to this node (see [`Handoff`]).
pub struct Reservations<'a> {
    handoff: &'a Handoff,
    jobs: Vec<HandedOver>,
    reserved: usize,
    /// Jobs written Ready (no room): the workers must claim them.
    unleased: usize,
}

impl Reservations<'_> {
    /// A lease for one more job, if the worker has room; `now_ms` is the
    /// store clock.
    pub fn reserve(&mut self, now_ms: i64) -> Option<Lease> {
        let mut i = self.handoff.lock();
        let room = i.held + i.queue.len() + i.reserved < i.capacity;
        let Some((owner, lease_ms)) = i.worker.clone().filter(|_| room) else {
            self.unleased += 1;
            return None;
        };
        i.reserved += 1;
        self.reserved += 1;
        Some(Lease {
            owner: owner.to_string(),
            until_ms: now_ms + lease_ms,
        })
    }

    /// The job written under the last reservation, with its webhook's row
    /// if at hand.
    pub fn add(&mut self, job: ClaimedJob, endpoint: Option<Arc<Record>>) {
        self.jobs.push(HandedOver {
            job,
            leased_at: Instant::now(),
            endpoint,
        });
    }

    /// The write committed: hand the leased jobs to the worker (and wake
    /// it); whether any jobs were written Ready, for the workers to claim.
    pub fn hand_over(mut self) -> bool {
        let any = !self.jobs.is_empty();
        {
            let mut i = self.handoff.lock();
            i.reserved -= self.reserved;
            self.reserved = 0;
            i.queue.append(&mut self.jobs);
        }
        if any {
            self.handoff.wake.notify_one();
        }
        self.unleased > 0
    }
}

impl Drop for Reservations<'_> {
    fn drop(&mut self) {
        if self.reserved > 0 {
            self.handoff.lock().reserved -= self.reserved;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn job() -> ClaimedJob {
        ClaimedJob {
            asyncoperation_id: Uuid::new_v4(),
            endpoint_id: Uuid::new_v4(),
            autodelete: false,
            claims: 1,
            row: None,
        }
    }

    #[test]
    fn nothing_is_reserved_without_a_worker() {
        let h = Handoff::default();
        assert_eq!(h.reservations().reserve(0), None);
    }

    #[test]
    fn committed_jobs_are_handed_over_and_rolled_back_ones_are_not() {
        let h = Handoff::default();
        h.open("node", 1_000, 2);
        let mut r = h.reservations();
        assert_eq!(
            r.reserve(5),
            Some(Lease {
                owner: "node".to_string(),
                until_ms: 1_005
            })
        );
        r.add(job(), None);
        drop(r);
        assert!(h.take().is_empty(), "a dropped write hands nothing over");
        let mut r = h.reservations();
        assert!(r.reserve(5).is_some());
        r.add(job(), None);
        assert!(!r.hand_over(), "nothing left for a claim");
        assert_eq!(h.take().len(), 1);
        assert!(h.take().is_empty());
    }

    #[test]
    fn capacity_counts_held_queued_and_reserved_jobs() {
        let h = Handoff::default();
        h.open("node", 1_000, 3);
        h.set_held(1);
        let mut a = h.reservations();
        assert!(a.reserve(0).is_some());
        a.add(job(), None);
        assert!(!a.hand_over());
        let mut b = h.reservations();
        assert!(b.reserve(0).is_some(), "1 held + 1 queued + this one");
        assert_eq!(b.reserve(0), None, "full");
        assert!(b.hand_over(), "the second job was written Ready");
        let mut c = h.reservations();
        assert!(
            c.reserve(0).is_some(),
            "the reservation without a job was released"
        );
        drop(c);
        assert!(h.reservations().reserve(0).is_some(), "released on drop");
        assert_eq!(h.close().len(), 1);
        assert_eq!(h.reservations().reserve(0), None, "closed");
    }
}
