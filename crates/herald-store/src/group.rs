//! Group commit on SQLite: concurrent write transactions share one
//! `BEGIN … COMMIT` on the single writer connection, each inside its own
//! `SAVEPOINT`.
//!
//! SQLite writes one transaction at a time, and sqlx runs every statement
//! on the connection's own thread: each hand-off there and back costs two
//! thread wake-ups, more than a small insert. A write transaction of its
//! own pays at least three (BEGIN, its statements, COMMIT). Here a write
//! ([`Member`]) takes the writer connection, runs its statements after a
//! `SAVEPOINT` (sent with its first statements, in the same hand-off) and
//! ends with `RELEASE` (with its last ones). If another write is already
//! waiting for the connection, it leaves the `COMMIT` to the writes after
//! it and waits; the last write of the group (none waiting behind it)
//! commits for all and tells them. So under load a write is one hand-off,
//! plus a share of one COMMIT.
//!
//! - A write that fails (a duplicate key, a refused value, a sync step
//!   that fails) rolls back to its savepoint: it fails alone, the writes
//!   before it in the group still commit.
//! - A write commits only with its group: its [`Member::commit`] returns
//!   once the `COMMIT` that holds it has returned, so "committed" means
//!   what it meant before. If that COMMIT fails, every write of the group
//!   gets the error; none of them was acknowledged.
//! - A write that holds the transaction open across an HTTP call (a sync
//!   step) begins *alone* ([`Writer::join`]): the group before it commits
//!   first, so the writes already done do not wait for that call.
//! - A group commits after at most [`MAX_MEMBERS`] writes or [`MAX_OPEN`],
//!   whichever comes first, so a steady stream of writes does not keep
//!   the first ones waiting.
//! - The settings a write reads (the versions of the security roles and
//!   registrations, `settings`) are read once per group: a write that
//!   succeeded leaves its copy to the next write of the group, so a write
//!   that reads nothing else is one hand-off in all. The copy lives only
//!   while the group's transaction is open (no other process can write
//!   the file meanwhile).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Executor, Sqlite, SqliteConnection};
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use crate::error::StoreError;

/// Writes one transaction holds at most.
const MAX_MEMBERS: usize = 256;
/// How long a group stays open for more writes at most.
const MAX_OPEN: Duration = Duration::from_millis(25);

/// The single writer connection, shared by groups of writes.
#[derive(Clone)]
pub(crate) struct Writer {
    slot: Arc<Mutex<Slot>>,
    /// Writes waiting for the connection.
    queued: Arc<AtomicUsize>,
    /// How long a write waits for the connection at most.
    timeout: Duration,
}

pub(crate) struct Slot {
    pub(crate) conn: SqliteConnection,
    /// A group transaction is open (BEGIN sent), since when.
    open: Option<Instant>,
    /// Savepoints named so far.
    next: u64,
    /// Writes of the open transaction waiting for its COMMIT.
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
    /// Statements to run before anything else (a dropped write's
    /// rollback to its savepoint, when it could not run them itself).
    prefix: String,
    /// `herald_setting` as the open group's writes left it (see above).
    settings: Option<Settings>,
}

/// `herald_setting` as a transaction sees it.
pub(crate) type Settings = HashMap<String, String>;

/// One write transaction inside a group.
pub(crate) struct Member {
    guard: Option<OwnedMutexGuard<Slot>>,
    writer: Writer,
    savepoint: String,
    /// Its SAVEPOINT was sent.
    started: bool,
}

impl Writer {
    pub(crate) fn new(conn: SqliteConnection, timeout: Duration) -> Writer {
        Writer {
            slot: Arc::new(Mutex::new(Slot {
                conn,
                open: None,
                next: 0,
                waiting: Vec::new(),
                prefix: String::new(),
                settings: None,
            })),
            queued: Arc::new(AtomicUsize::new(0)),
            timeout,
        }
    }

    /// Whether a write holds the connection now.
    pub(crate) fn busy(&self) -> bool {
        self.slot.try_lock().is_err()
    }

    async fn lock(&self) -> OwnedMutexGuard<Slot> {
        lock_counted(&self.slot, &self.queued).await
    }

    /// Begin a write: it joins the open group, or (`alone`) commits the
    /// open group first and runs in a new one.
    pub(crate) async fn join(&self, alone: bool) -> Result<Member, StoreError> {
        let mut slot = tokio::time::timeout(self.timeout, self.lock())
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?;
        if alone {
            slot.commit_group().await?;
        }
        slot.next += 1;
        let savepoint = format!("herald_w{}", slot.next);
        Ok(Member {
            guard: Some(slot),
            writer: self.clone(),
            savepoint,
            started: false,
        })
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

/// Lock a group's slot, counted in `queued` while waiting (also when the
/// wait is given up: a dropped request). Shared with `pg_group`.
pub(crate) async fn lock_counted<T>(
    slot: &Arc<Mutex<T>>,
    queued: &AtomicUsize,
) -> OwnedMutexGuard<T> {
    struct Queued<'a>(&'a AtomicUsize);
    impl Drop for Queued<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    queued.fetch_add(1, Ordering::SeqCst);
    let _queued = Queued(queued);
    slot.clone().lock_owned().await
}

/// A waiting write's answer: the COMMIT of its group returned (or failed,
/// or the group ended without one). Shared with `pg_group`.
pub(crate) async fn committed(
    told: oneshot::Receiver<Result<(), String>>,
) -> Result<(), StoreError> {
    match told.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StoreError::Commit(e)),
        Err(_) => Err(StoreError::Commit(
            "the shared transaction ended without a commit".into(),
        )),
    }
}

impl Slot {
    /// Run `text` on the connection (several statements).
    async fn run(&mut self, text: &str) -> Result<(), StoreError> {
        self.conn.execute(text).await?;
        Ok(())
    }

    /// Commit the open group and tell its waiting writes. The state is
    /// settled before the COMMIT is awaited: if the caller is dropped
    /// meanwhile, the COMMIT still runs (the connection's thread works
    /// through what it was sent, in order) and the next write begins a new
    /// group; the writes waiting then hear of a failure they may not have
    /// had, never of a commit that did not happen.
    async fn commit_group(&mut self) -> Result<(), StoreError> {
        self.settings = None;
        if self.open.take().is_none() {
            return Ok(());
        }
        let waiting = std::mem::take(&mut self.waiting);
        let text = format!("{}COMMIT", std::mem::take(&mut self.prefix));
        let result = self.run(&text).await;
        if result.is_err() {
            // Leave no transaction behind, whatever the state.
            let _ = self.run("ROLLBACK").await;
        }
        let told = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
        for w in waiting {
            let _ = w.send(told.clone());
        }
        result
    }

    /// The transaction is lost (an error rolled it back, or left it in an
    /// unknown state): roll back, tell the waiting writes.
    async fn abandon(&mut self, why: &str) {
        self.open = None;
        self.settings = None;
        self.prefix.clear();
        for w in self.waiting.drain(..) {
            let _ = w.send(Err(format!("the shared transaction failed: {why}")));
        }
        let _ = self.run("ROLLBACK").await;
    }
}

impl Member {
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.slot().conn
    }

    /// The settings as the group's writes so far left them, if read.
    pub(crate) fn settings(&mut self) -> Option<Settings> {
        self.slot().settings.clone()
    }

    fn slot(&mut self) -> &mut Slot {
        self.guard
            .as_mut()
            .expect("a member holds the slot until it ends")
    }

    /// The statements to send before this write's first ones: a pending
    /// rollback, `BEGIN` if no group is open, and its `SAVEPOINT`. None
    /// once sent.
    pub(crate) fn preamble(&mut self) -> Option<String> {
        if self.started {
            return None;
        }
        self.started = true;
        let sp = self.savepoint.clone();
        let slot = self.slot();
        let mut text = std::mem::take(&mut slot.prefix);
        if slot.open.is_none() {
            text.push_str("BEGIN;\n");
            slot.open = Some(Instant::now());
        }
        text.push_str(&format!("SAVEPOINT {sp};\n"));
        Some(text)
    }

    /// Commit this write: `last` (its batched statements, which may be
    /// empty) and the release of its savepoint in one hand-off, then the
    /// group's COMMIT now or by a later write. Returns once committed. A
    /// failure of `last` rolls this write back (alone). `settings`: this
    /// write's copy of the settings, left to the group's next writes.
    pub(crate) async fn commit(
        mut self,
        last: &crate::sql::Sql,
        settings: Option<Settings>,
    ) -> Result<(), StoreError> {
        let mut own = Ok(());
        if !last.text.is_empty() || self.started {
            let mut text = self.preamble().unwrap_or_default();
            text.push_str(&last.sqlite_text());
            text.push_str(&format!("RELEASE {};\n", self.savepoint));
            let q = crate::conn::bound_query_text::<Sqlite>(&text, last);
            own = q.execute(&mut *self.conn()).await.map(|_| ());
            if own.is_err() {
                self.roll_back().await;
            }
        }
        self.started = false;
        let writer = self.writer.clone();
        let mut slot = self
            .guard
            .take()
            .expect("a member holds the slot until it ends");
        let now = writer.queued.load(Ordering::SeqCst) == 0
            || slot.waiting.len() + 1 >= MAX_MEMBERS
            || slot.open.is_some_and(|t| t.elapsed() >= MAX_OPEN);
        if let Err(e) = own {
            if now {
                slot.commit_group().await?;
            }
            return Err(e.into());
        }
        if slot.open.is_some() {
            slot.settings = settings;
        }
        if now || slot.open.is_none() {
            return slot.commit_group().await;
        }
        let (tell, told) = oneshot::channel();
        slot.waiting.push(tell);
        drop(slot);
        committed(told).await
    }

    /// Roll this write back to its savepoint (everything before it in the
    /// group stays); if even that fails, the group is abandoned.
    async fn roll_back(&mut self) {
        if !std::mem::take(&mut self.started) {
            return;
        }
        let text = format!("ROLLBACK TO {0};\nRELEASE {0};\n", self.savepoint);
        let slot = self.slot();
        if let Err(e) = slot.run(&text).await {
            slot.abandon(&e.to_string()).await;
        }
    }

    /// Roll this write back, then commit what waits if no write comes
    /// after it.
    pub(crate) async fn rollback(mut self) -> Result<(), StoreError> {
        self.roll_back().await;
        let writer = self.writer.clone();
        let mut slot = self
            .guard
            .take()
            .expect("a member holds the slot until it ends");
        if writer.queued.load(Ordering::SeqCst) == 0 {
            slot.commit_group().await?;
        }
        Ok(())
    }
}

impl Drop for Member {
    /// Dropped without commit or rollback: its rollback runs before the
    /// next statements on the connection, and the group is committed for
    /// the writes waiting in it if no other write comes along.
    fn drop(&mut self) {
        let Some(mut slot) = self.guard.take() else {
            return;
        };
        if self.started {
            slot.prefix
                .push_str(&format!("ROLLBACK TO {0};\nRELEASE {0};\n", self.savepoint));
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
