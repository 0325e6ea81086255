//! The worker loop of one node: claim ready jobs in batches into a local
//! prefetch buffer (the endpoints' [`Lanes`]), from which the node's
//! delivery slots — `jobs.concurrency` long-lived tasks — each take the
//! next job the moment they finish one; and sleep until something may have
//! changed:
//!
//! - a write on this node enqueued jobs (in-process `Notify`),
//! - a write on any node committed jobs (PostgreSQL `NOTIFY herald_jobs`,
//!   see [`super::wake`]),
//! - one of this node's deliveries finished (an endpoint may be refilled),
//! - the poll interval passed (the safety net that also picks up expired
//!   leases of dead nodes, postponed jobs that became due, and anything a
//!   lost notification missed).
//!
//! Batches: claiming is a store transaction, so the loop claims many jobs
//! at once (up to [`PREFETCH`] × `jobs.concurrency`) and keeps them leased
//! in memory until a slot is free, instead of one claim per finished
//! delivery. A claimed job that waited in the buffer so long that its
//! lease might end before its delivery could has its lease renewed before
//! it starts, so that no other node takes it over while it runs. A stopping node gives its
//! waiting jobs back.
//!
//! Fairness: the slots are shared among endpoints. An endpoint may run at
//! most `jobs.per_endpoint()` deliveries at once (`jobs.endpoint_share`
//! percent of `jobs.concurrency`) and hold at most [`PREFETCH`] times that
//! (running and waiting); an endpoint is refilled only once it is down to
//! half of that. A webhook that hangs until the timeout therefore ties up
//! at most its share of the slots and of the buffer, and the jobs of every
//! other webhook keep flowing. Within the caps the order is `ready_at`
//! (oldest first). The caps are per node: with N nodes a single endpoint
//! can have up to N × its share in flight.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use herald_store::{ClaimLimits, ClaimedJob, EndpointCap};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::warn;
use uuid::Uuid;

use super::complete::Completer;
use super::handoff::HandedOver;
use super::lanes::Lanes;
use super::run::{lease_for, run_job};
use crate::state::SharedState;
use crate::webhook::{self, EndpointLookup, EndpointMemo};

/// How many jobs a node holds (running and waiting), as a multiple of its
/// delivery slots; the same multiple caps each endpoint.
pub const PREFETCH: usize = 32;

pub struct WorkerHandle {
    pub node_id: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    listener: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Stop claiming new jobs and give back the claimed ones that have not
    /// started; running deliveries finish on their own tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if let Some(l) = self.listener {
            l.abort();
        }
    }
}

/// A claimed job waiting for a slot.
struct Waiting {
    job: ClaimedJob,
    endpoint: EndpointLookup,
    claimed: Instant,
}

/// What a claim (run on its own task) brings back to the loop.
struct ClaimDone {
    /// The endpoints it asked for (None: any), and those it left out.
    only: Option<Vec<Uuid>>,
    left_out: Vec<Uuid>,
    /// [`Worker::wakes`] when it started.
    wakes: u64,
    /// No more jobs were ready beyond these.
    exhausted: bool,
    jobs: Vec<Waiting>,
}

/// Leased jobs (with when they were leased, and their webhook's row when
/// known) as buffer entries; the other webhooks are read in one query.
async fn resolve(
    state: &SharedState,
    jobs: Vec<HandedOver>,
    memo: &mut EndpointMemo,
) -> Vec<Waiting> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let unknown: Vec<Uuid> = jobs
        .iter()
        .filter(|h| h.endpoint.is_none())
        .map(|h| h.job.endpoint_id)
        .collect();
    let endpoints = if unknown.is_empty() {
        HashMap::new()
    } else {
        let now = state.clock.now();
        webhook::lookup(&state.store, &state.schema(), unknown, now).await
    };
    let now = state.clock.now();
    jobs.into_iter()
        .map(
            |HandedOver {
                 job,
                 leased_at: claimed,
                 endpoint,
             }| {
                let id = job.endpoint_id;
                let endpoint = match endpoint {
                    Some(row) => Ok(memo.endpoint(id, &row, now)),
                    None => endpoints
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| Err(format!("The webhook {id} could not be read"))),
                };
                Waiting {
                    job,
                    endpoint,
                    claimed,
                }
            },
        )
        .collect()
}

/// What the worker loop and the delivery slots share: the lanes, and the
/// wake-ups between them.
struct Slots {
    state: SharedState,
    owner: String,
    completer: Completer,
    lanes: Mutex<Lanes<Waiting>>,
    /// A job was put in the lanes (wakes idle slots).
    ready: Notify,
    /// A delivery finished (wakes the loop: an endpoint may be refilled).
    finished: Notify,
    /// The node stops: idle slots end, busy ones after their delivery.
    stopping: watch::Receiver<bool>,
    lease_ms: i64,
    /// The longest one delivery can take: two attempts of up to the
    /// timeout, the pause between them, and a second for the store.
    longest_run_ms: i64,
}

impl Slots {
    fn lanes(&self) -> MutexGuard<'_, Lanes<Waiting>> {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Put jobs in their lanes and wake as many idle slots.
    fn put(&self, jobs: Vec<Waiting>) {
        if jobs.is_empty() {
            return;
        }
        let now = Instant::now();
        let n = jobs.len();
        {
            let mut lanes = self.lanes();
            for w in jobs {
                lanes.push(w.job.endpoint_id, w, now);
            }
        }
        if n == 1 {
            self.ready.notify_one();
        } else {
            self.ready.notify_waiters();
        }
    }

    /// Tell the handoff how many jobs this node holds (running and waiting).
    fn publish_held(&self) {
        let held = {
            let lanes = self.lanes();
            lanes.waiting() + lanes.running()
        };
        self.state.handoff.set_held(held);
    }

    /// One delivery slot: take the next job, run it, and again. Ends when
    /// the node stops (after the delivery under way, if any).
    async fn run_slot(self: Arc<Slots>) {
        let mut stopping = self.stopping.clone();
        while let Some((endpoint, w)) = self.next_job(&mut stopping).await {
            if self.still_ours(&w).await {
                run_job(&self.state, &self.completer, w.job, w.endpoint).await;
            }
            self.lanes().finish(endpoint, Instant::now());
            self.finished.notify_one();
        }
    }

    /// The next job for a slot, waiting while there is none; None when the
    /// node stops.
    async fn next_job(&self, stopping: &mut watch::Receiver<bool>) -> Option<(Uuid, Waiting)> {
        loop {
            // Registered before looking, so that a job put in meanwhile
            // wakes this slot; and dropped before the job runs, so that
            // a busy slot never swallows the wake-up meant for an idle one.
            let ready = self.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            if *stopping.borrow() {
                return None;
            }
            if let Some(next) = self.lanes().take() {
                return Some(next);
            }
            tokio::select! {
                _ = ready => {}
                _ = stopping.changed() => {}
            }
        }
    }

    /// A job whose lease might run out before its delivery ends (it waited
    /// in the buffer for more than the lease's slack over the longest
    /// delivery) gets its lease renewed first; false if it was lost
    /// meanwhile (then it is dropped here).
    async fn still_ours(&self, w: &Waiting) -> bool {
        let waited = w.claimed.elapsed().as_millis() as i64;
        if waited + self.longest_run_ms < self.lease_ms {
            return true;
        }
        let until = self.state.clock.now().timestamp_millis() + self.lease_ms;
        let renewed = async {
            let mut tx = self.state.store.begin().await?;
            let ok = tx
                .renew_lease(w.job.asyncoperation_id, &self.owner, until)
                .await?;
            tx.commit().await?;
            Ok::<bool, herald_store::StoreError>(ok)
        }
        .await;
        match renewed {
            Ok(ok) => ok,
            Err(e) => {
                warn!(job = %w.job.asyncoperation_id, error = %e, "renewing a System Job's lease failed; leaving it to its lease");
                false
            }
        }
    }
}

/// The worker loop's state.
struct Worker {
    slots: Arc<Slots>,
    /// Most deliveries one endpoint may run at once.
    per_endpoint: i64,
    /// Most jobs the node holds, and one endpoint holds.
    hold: usize,
    hold_per_endpoint: i64,
    /// What the claims since the last wake-up (or poll) found out: no
    /// endpoint outside this set has ready jobs. None: not known. Claims
    /// then ask only for these endpoints (and only when one of them may
    /// be refilled), instead of scanning the queue past the jobs of the
    /// endpoints left out.
    maybe_ready: Option<HashSet<Uuid>>,
    /// How often `maybe_ready` was forgotten: a claim that started before
    /// the last time does not narrow it.
    wakes: u64,
    /// The claim under way, if any (at most one at a time, so that the
    /// limits of the next one count its jobs).
    claiming: Option<JoinHandle<ClaimDone>>,
    /// The endpoints of the jobs handed over, built once per row.
    endpoints: EndpointMemo,
}

impl Worker {
    fn state(&self) -> &SharedState {
        &self.slots.state
    }

    /// The claim's limits: what the node and each endpoint hold (running
    /// and waiting), and each endpoint's cap. An endpoint may hold what it
    /// can run (`per_endpoint`) plus about one window's worth of the
    /// deliveries it finished lately, up to [`PREFETCH`] × `per_endpoint`;
    /// one that is deeper than its share is refilled at half its cap. So a
    /// webhook that hangs holds no more jobs than it runs (other nodes can
    /// take the rest), and one that answers at once is fed in batches.
    fn limits(&self) -> ClaimLimits {
        let loads = self.slots.lanes().loads(Instant::now());
        let held: HashMap<Uuid, i64> = loads.iter().map(|l| (l.endpoint, l.held)).collect();
        let total: i64 = held.values().sum();
        let mut limits =
            ClaimLimits::new((self.hold as i64 - total).max(0), self.per_endpoint, held);
        for load in loads {
            let cap = (self.per_endpoint + load.finished).min(self.hold_per_endpoint);
            if cap > self.per_endpoint {
                limits.caps.insert(
                    load.endpoint,
                    EndpointCap {
                        cap,
                        refill_at: cap / 2,
                    },
                );
            }
        }
        limits
    }

    /// Start a claim on its own task, unless one is under way or there is
    /// nothing to claim now; its result comes back through
    /// [`Worker::claimed`]. The slots go on delivering from the lanes
    /// meanwhile: a claim is a store transaction (on SQLite queued behind
    /// the writer, on PostgreSQL a few round trips), and slots left idle
    /// while it ran were most of a drain's time.
    fn begin_claim(&mut self) {
        if self.claiming.is_some() {
            return;
        }
        let mut limits = self.limits();
        if limits.limit == 0 {
            return;
        }
        let left_out = limits.saturated();
        if let Some(maybe) = &self.maybe_ready {
            let refillable: Vec<Uuid> = maybe
                .iter()
                .filter(|e| !left_out.contains(e))
                .copied()
                .collect();
            if refillable.is_empty() {
                return;
            }
            limits.only = Some(refillable);
        }
        let state = self.state().clone();
        let (owner, lease_ms, wakes) = (self.slots.owner.clone(), self.slots.lease_ms, self.wakes);
        self.claiming = Some(tokio::spawn(async move {
            let now = state.clock.now().timestamp_millis();
            let claim = match state.store.claim_jobs(&owner, now, lease_ms, &limits).await {
                Ok(claim) => claim,
                Err(e) => {
                    warn!(error = %e, "claiming System Jobs failed");
                    return ClaimDone {
                        only: limits.only,
                        left_out,
                        wakes,
                        exhausted: false,
                        jobs: Vec::new(),
                    };
                }
            };
            let claimed = Instant::now();
            let jobs = claim
                .jobs
                .into_iter()
                .map(|job| HandedOver {
                    job,
                    leased_at: claimed,
                    endpoint: None,
                })
                .collect();
            ClaimDone {
                only: limits.only,
                left_out,
                wakes,
                exhausted: claim.exhausted,
                // Claimed jobs carry no row: nothing to keep.
                jobs: resolve(&state, jobs, &mut EndpointMemo::default()).await,
            }
        }));
    }

    /// Take a finished claim's jobs into the lanes, and what it found out
    /// about which endpoints have ready jobs (unless a wake-up came
    /// meanwhile: then jobs may have become ready after its read).
    fn claimed(&mut self, done: ClaimDone) {
        if done.exhausted && done.wakes == self.wakes {
            match (&done.only, &mut self.maybe_ready) {
                // Nothing ready outside the endpoints left out.
                (None, maybe) => *maybe = Some(done.left_out.into_iter().collect()),
                // Nothing more ready for the endpoints asked about.
                (Some(only), Some(maybe)) => {
                    for e in only {
                        maybe.remove(e);
                    }
                }
                (Some(_), None) => {}
            }
        }
        self.slots.put(done.jobs);
    }

    /// Wait for the claim under way, if any, and take its jobs.
    async fn finish_claim(&mut self) {
        if let Some(c) = self.claiming.take() {
            if let Ok(done) = c.await {
                self.claimed(done);
            }
        }
    }

    /// What may have become ready is not known any more (a wake-up, the
    /// poll interval).
    fn forget_ready(&mut self) {
        self.maybe_ready = None;
        self.wakes += 1;
    }

    /// Move the jobs this node's writes handed over (already leased to
    /// it, see [`super::handoff`]) into the lanes.
    async fn take_handed_over(&mut self) {
        let jobs = self.state().handoff.take();
        if jobs.is_empty() {
            return;
        }
        let state = self.state().clone();
        let jobs = resolve(&state, jobs, &mut self.endpoints).await;
        self.slots.put(jobs);
    }

    /// Give the waiting jobs back (the node stops), with those handed over
    /// and not taken yet.
    async fn release_waiting(&mut self) {
        let state = self.state().clone();
        let mut ids: Vec<Uuid> = self
            .slots
            .lanes()
            .drain_waiting()
            .into_iter()
            .map(|w| w.job.asyncoperation_id)
            .collect();
        ids.extend(
            state
                .handoff
                .close()
                .into_iter()
                .map(|j| j.asyncoperation_id),
        );
        if ids.is_empty() {
            return;
        }
        let released = async {
            let mut tx = state.store.begin().await?;
            tx.release_jobs(&self.slots.owner, &ids).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = released {
            warn!(error = %e, jobs = ids.len(), "giving back waiting System Jobs failed; they run again when their lease expires");
        }
    }
}

pub fn spawn_workers(state: SharedState) -> WorkerHandle {
    let node = crate::node::node_name(None);
    let (stop, mut stopped) = watch::channel(false);
    let owner = node.clone();
    let listener = super::wake::spawn_listener(state.clone(), stopped.clone());
    let completer = Completer::spawn(state.clone(), owner.clone());
    let task = tokio::spawn(async move {
        let concurrency = state.config.jobs.concurrency.max(1);
        let per_endpoint = state.config.jobs.per_endpoint() as i64;
        let lease_ms = lease_for(&state.config).as_millis() as i64;
        let slots = Arc::new(Slots {
            owner,
            completer,
            lanes: Mutex::new(Lanes::new(per_endpoint)),
            ready: Notify::new(),
            finished: Notify::new(),
            stopping: stopped.clone(),
            lease_ms,
            longest_run_ms: (state.config.delivery.timeout * 2
                + herald_delivery::RETRY_PAUSE
                + std::time::Duration::from_secs(1))
            .as_millis() as i64,
            state,
        });
        for _ in 0..concurrency {
            tokio::spawn(slots.clone().run_slot());
        }
        let mut w = Worker {
            slots: slots.clone(),
            per_endpoint,
            hold: concurrency * PREFETCH,
            hold_per_endpoint: per_endpoint * PREFETCH as i64,
            maybe_ready: None,
            wakes: 0,
            claiming: None,
            endpoints: EndpointMemo::default(),
        };
        // Jobs this node's writes hand over directly: only while a delivery
        // slot is free (held jobs below `concurrency`); a busy node leaves
        // them Ready for any node to claim within the per-endpoint shares.
        slots
            .state
            .handoff
            .open(&slots.owner, lease_ms, concurrency);
        loop {
            if *stopped.borrow() {
                w.finish_claim().await;
                w.release_waiting().await;
                break;
            }
            w.take_handed_over().await;
            slots.publish_held();
            w.begin_claim();
            let claiming = async {
                match w.claiming.as_mut() {
                    Some(c) => c.await.ok(),
                    None => std::future::pending().await,
                }
            };
            let state = &slots.state;
            tokio::select! {
                done = claiming => {
                    w.claiming = None;
                    if let Some(done) = done {
                        w.claimed(done);
                    }
                }
                _ = state.jobs_wake.notified() => w.forget_ready(),
                _ = state.handoff.handed_over() => {}
                _ = slots.finished.notified() => {}
                _ = tokio::time::sleep(state.config.jobs.poll_interval) => w.forget_ready(),
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
