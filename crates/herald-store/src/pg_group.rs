//! Group commit on PostgreSQL: concurrent pipeline writes share one
//! transaction (and so one `COMMIT` and one WAL flush) on a few dedicated
//! connections, each write inside its own `SAVEPOINT` — the PostgreSQL
//! counterpart of SQLite's `group` (read that first: the rules are the
//! same, only what differs is written here).
//!
//! - **Who joins.** Only writes begun with [`crate::Store::begin_grouped`]
//!   (the pipeline's single writes that call no sync step). Everything
//!   else — writes that call out over HTTP (`begin_alone`), job claims and
//!   outcomes, admin and schema changes — takes an ordinary transaction of
//!   the pool, as before.
//! - **Several groups at once.** PostgreSQL runs transactions in parallel,
//!   so there are up to [`GROUPS`] writers (a quarter of the pool at most,
//!   so that the pool keeps connections for everything else while every
//!   group is open); a write takes a free one, or waits
//!   for the one with the fewest writes queued. Each commits when no write
//!   waits for it (or after [`MAX_MEMBERS`] writes or [`MAX_OPEN`]).
//! - **Round trips.** A write's `SAVEPOINT` goes with the previous write's
//!   `RELEASE` (and, for the first write, with `BEGIN`) in one
//!   simple-protocol message; then its statements (a create with async
//!   steps is one statement, `Tx::flush`); the group's `COMMIT` goes with
//!   the last write's `RELEASE`. A failed write is rolled back to its
//!   savepoint (sent with the next message) and fails alone.
//! - **At most [`MAX_MEMBERS`] writes per transaction**: each savepoint that
//!   writes is a subtransaction, and a backend caches 64 of them; beyond
//!   that every snapshot taken anywhere gets slower.
//! - **Row locks.** A write that waits for a row lock would stall every
//!   write of its group behind it, and a group holding many writes' locks
//!   meets others in deadlocks more often. So a group transaction runs with
//!   `lock_timeout` [`LOCK_TIMEOUT`]: a write that would wait longer (or is
//!   chosen as a deadlock victim) fails with a lock conflict
//!   ([`crate::StoreError::is_lock_conflict`]), is rolled back to its
//!   savepoint, and the pipeline runs it again once in a transaction of its
//!   own with ordinary lock waits. Nothing of the first try was committed
//!   and grouped writes call no webhook, so the second try is the write.
//!   The group's COMMIT runs without the timeout: a transaction that sent
//!   NOTIFY (a Ready job) queues at COMMIT for the notification lock that
//!   every notifying transaction takes, and must wait its turn.
//! - **Settings** (`herald_setting`: the versions of the security roles
//!   and of the registrations) are read once per group while its
//!   transaction is open, as on SQLite. A group is at most [`MAX_OPEN`] old,
//!   so a write may use versions up to that old: a registration or role
//!   committed by another node in that window applies from the next group
//!   on, as if the write had begun a few milliseconds earlier (a write that
//!   began before a registration committed never saw it either).
//! - **"Committed" means committed**: a write's [`Member::commit`] returns
//!   once the COMMIT holding it returned. If that COMMIT fails, every write
//!   of the group gets the error, and none was acknowledged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Executor, PgConnection, PgPool, Postgres};
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use crate::error::StoreError;
use crate::group::Settings;

/// Group transactions open at once (each on its own connection).
pub(crate) const GROUPS: usize = 4;
/// Writes one transaction holds at most (see the module docs).
const MAX_MEMBERS: usize = 48;
/// How long a group stays open for more writes at most.
const MAX_OPEN: Duration = Duration::from_millis(25);
/// How long a grouped write waits for a row lock before it is run again
/// alone.
pub(crate) const LOCK_TIMEOUT: &str = "100ms";

/// The group writers of one store.
#[derive(Clone)]
pub(crate) struct Groups {
    writers: Arc<Vec<Writer>>,
    next: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Writer {
    slot: Arc<Mutex<Slot>>,
    /// Writes waiting for this writer.
    queued: Arc<AtomicUsize>,
    pool: PgPool,
    timeout: Duration,
}

struct Slot {
    /// The connection, while a group transaction is open.
    conn: Option<PoolConnection<Postgres>>,
    /// BEGIN sent, since when, and how many writes joined.
    open: Option<Instant>,
    members: usize,
    next: u64,
    /// Writes of the open transaction waiting for its COMMIT.
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
    /// Statements to send before anything else: the last write's RELEASE,
    /// a dropped write's rollback to its savepoint.
    prefix: String,
    settings: Option<Settings>,
}

/// One write inside a group.
pub(crate) struct Member {
    guard: Option<OwnedMutexGuard<Slot>>,
    writer: Writer,
    savepoint: String,
    /// Its SAVEPOINT was sent.
    started: bool,
}

impl Groups {
    pub(crate) fn new(pool: PgPool, max_connections: u32, timeout: Duration) -> Groups {
        let count = (max_connections as usize / 4).clamp(1, GROUPS);
        let writers = (0..count)
            .map(|_| Writer {
                slot: Arc::new(Mutex::new(Slot {
                    conn: None,
                    open: None,
                    members: 0,
                    next: 0,
                    waiting: Vec::new(),
                    prefix: String::new(),
                    settings: None,
                })),
                queued: Arc::new(AtomicUsize::new(0)),
                pool: pool.clone(),
                timeout,
            })
            .collect();
        Groups {
            writers: Arc::new(writers),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Begin a grouped write: on a free writer if there is one (taken in
    /// turn), else queued behind the writer with the fewest waiting.
    pub(crate) async fn join(&self) -> Result<Member, StoreError> {
        let n = self.writers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let w = &self.writers[(start + i) % n];
            if let Ok(guard) = w.slot.clone().try_lock_owned() {
                return Ok(w.member(guard));
            }
        }
        let w = self
            .writers
            .iter()
            .min_by_key(|w| w.queued.load(Ordering::SeqCst))
            .expect("there is at least one writer");
        let guard = tokio::time::timeout(w.timeout, w.lock())
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?;
        Ok(w.member(guard))
    }
}

impl Writer {
    async fn lock(&self) -> OwnedMutexGuard<Slot> {
        crate::group::lock_counted(&self.slot, &self.queued).await
    }

    fn member(&self, mut guard: OwnedMutexGuard<Slot>) -> Member {
        guard.next += 1;
        let savepoint = format!("herald_g{}", guard.next);
        Member {
            guard: Some(guard),
            writer: self.clone(),
            savepoint,
            started: false,
        }
    }

    /// Commit what waits when no write comes to do it (after a write was
    /// dropped).
    async fn settle(self) {
        let mut slot = self.lock().await;
        if self.queued.load(Ordering::SeqCst) == 0 {
            if let Err(e) = slot.commit_group().await {
                tracing::warn!(error = %e, "a group commit failed");
            }
        }
    }
}

impl Slot {
    /// Run `text` (statements without parameters, the simple protocol).
    async fn run(&mut self, text: &str) -> Result<(), StoreError> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| StoreError::Commit("the group has no connection".into()))?;
        (&mut **conn).execute(text).await?;
        Ok(())
    }

    /// Commit the open group and tell its waiting writes (state settled
    /// before the COMMIT is awaited, as in `group`).
    async fn commit_group(&mut self) -> Result<(), StoreError> {
        self.settings = None;
        self.members = 0;
        if self.open.take().is_none() {
            self.prefix.clear();
            return Ok(());
        }
        let waiting = std::mem::take(&mut self.waiting);
        // No lock_timeout for the COMMIT itself: a transaction that sent
        // NOTIFY takes the notification queue's lock at COMMIT, and the
        // commits of all notifying transactions queue for it; giving up
        // there would fail the whole group.
        let text = format!(
            "{}SET LOCAL lock_timeout = 0; COMMIT",
            std::mem::take(&mut self.prefix)
        );
        let result = self.run(&text).await;
        if result.is_err() {
            let _ = self.run("ROLLBACK").await;
        }
        // Back to the pool between groups: an idle server holds nothing.
        self.conn = None;
        let told = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
        for w in waiting {
            let _ = w.send(told.clone());
        }
        result
    }

    /// The transaction is lost: roll back, tell the waiting writes.
    async fn abandon(&mut self, why: &str) {
        self.open = None;
        self.members = 0;
        self.settings = None;
        self.prefix.clear();
        for w in self.waiting.drain(..) {
            let _ = w.send(Err(format!("the shared transaction failed: {why}")));
        }
        let _ = self.run("ROLLBACK").await;
        self.conn = None;
    }
}

/// The statements that undo a write: back to its savepoint, which is let go.
fn undo(savepoint: &str) -> String {
    format!("ROLLBACK TO {savepoint}; RELEASE {savepoint}; ")
}

impl Member {
    /// This write ends (commit or rollback): its savepoint, whether it was
    /// sent, its writer and the slot it held.
    fn end(&mut self) -> (String, bool, Writer, OwnedMutexGuard<Slot>) {
        let slot = self
            .guard
            .take()
            .expect("a member holds the slot until it ends");
        (
            self.savepoint.clone(),
            std::mem::take(&mut self.started),
            self.writer.clone(),
            slot,
        )
    }

    fn slot(&mut self) -> &mut Slot {
        self.guard
            .as_mut()
            .expect("a member holds the slot until it ends")
    }

    /// The settings as the group's writes so far left them, if read.
    pub(crate) fn settings(&mut self) -> Option<Settings> {
        self.slot().settings.clone()
    }

    /// Send what must precede this write's first statement (a pending
    /// RELEASE or rollback, `BEGIN` when no group is open, its
    /// `SAVEPOINT`), once.
    pub(crate) async fn start(&mut self) -> Result<(), StoreError> {
        if self.started {
            return Ok(());
        }
        let sp = self.savepoint.clone();
        let writer = self.writer.clone();
        let slot = self.slot();
        let mut text = std::mem::take(&mut slot.prefix);
        if slot.open.is_none() {
            if slot.conn.is_none() {
                slot.conn = Some(writer.pool.acquire().await?);
            }
            text.push_str(&format!(
                "BEGIN; SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; "
            ));
            slot.open = Some(Instant::now());
        }
        text.push_str(&format!("SAVEPOINT {sp}"));
        slot.members += 1;
        if let Err(e) = slot.run(&text).await {
            slot.abandon(&e.to_string()).await;
            return Err(e);
        }
        self.started = true;
        Ok(())
    }

    /// The group's connection; [`Member::start`] must have run.
    pub(crate) fn conn(&mut self) -> Result<&mut PgConnection, StoreError> {
        match self.slot().conn.as_mut() {
            Some(c) => Ok(&mut **c),
            None => Err(StoreError::Commit(
                "the shared transaction was abandoned".into(),
            )),
        }
    }

    /// Commit this write (its statements were all sent): its RELEASE goes
    /// with the next message on the connection, then the group's COMMIT
    /// now or by a later write. Returns once committed.
    pub(crate) async fn commit(mut self, settings: Option<Settings>) -> Result<(), StoreError> {
        let (sp, started, writer, mut slot) = self.end();
        if started {
            slot.prefix.push_str(&format!("RELEASE {sp}; "));
        }
        if slot.open.is_none() {
            // Abandoned meanwhile (its error was returned), or nothing sent.
            return if started {
                Err(StoreError::Commit(
                    "the shared transaction was abandoned".into(),
                ))
            } else {
                Ok(())
            };
        }
        slot.settings = settings;
        let now = writer.queued.load(Ordering::SeqCst) == 0
            || slot.members >= MAX_MEMBERS
            || slot.open.is_some_and(|t| t.elapsed() >= MAX_OPEN);
        if now {
            return slot.commit_group().await;
        }
        let (tell, told) = oneshot::channel();
        slot.waiting.push(tell);
        drop(slot);
        crate::group::committed(told).await
    }

    /// Roll this write back (alone), then commit what waits if no write
    /// comes after it.
    pub(crate) async fn rollback(mut self) -> Result<(), StoreError> {
        let (sp, started, writer, mut slot) = self.end();
        if started {
            slot.prefix.push_str(&undo(&sp));
        }
        if writer.queued.load(Ordering::SeqCst) == 0 {
            slot.commit_group().await?;
        }
        Ok(())
    }
}

impl Drop for Member {
    /// Dropped without commit or rollback (a failed statement, a client
    /// gone): its rollback goes before the next statements on the
    /// connection, and the group is committed for the writes waiting in it
    /// if no other write comes along.
    fn drop(&mut self) {
        let Some(mut slot) = self.guard.take() else {
            return;
        };
        if self.started {
            slot.prefix.push_str(&undo(&self.savepoint));
        }
        let open = slot.open.is_some();
        drop(slot);
        if open && self.writer.queued.load(Ordering::SeqCst) == 0 {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(self.writer.clone().settle());
            }
        }
    }
}
