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
//! - A write whose statements are all batched hands them over whole
//!   ([`Writer::submit`]): the first write to take the connection runs
//!   every write handed over so far as one *round* — their statements one
//!   after another, then the COMMIT — in ONE hand-off to the connection's
//!   thread (as cached prepared statements on its handle, `prepared`), and
//!   tells each its outcome. So under load a round of many
//!   writes costs one hand-off, not one per write plus one per COMMIT,
//!   and writes arriving meanwhile form the next round. If any statement
//!   of a round fails, the round is undone (ROLLBACK, or back to a
//!   savepoint around it when it joined an open group) and its writes run
//!   again one by one, each in its savepoint, so the one that failed fails
//!   alone, as above. The first run has no savepoint per write: SQLite
//!   copies every page a write touches after a savepoint into the
//!   statement journal, which per write cost more than the write itself.
//! - A write takes the connection only when it first needs it
//!   ([`Pending`]): a write whose statements are all batched (a create
//!   with its System Jobs) builds them — the record, the 5 KB execution
//!   context — while the writes before it run, and holds the connection
//!   for one hand-off only. A write that must read (an update reads its
//!   row) takes it at that read and keeps it to its end, as before.
//! - The settings a write reads (the versions of the security roles,
//!   `settings`) are read once, not per write: the group keeps the copy
//!   its writes left, and after each COMMIT it is *published*, with its
//!   generation, for the writes that have not taken the connection yet.
//!   Every write that changes a setting (or may have) advances the
//!   generation; a write that decided on a published copy of an older
//!   generation is refused when it takes the connection, before it ran
//!   anything ([`StoreError::SettingsChanged`]), and runs again alone. So
//!   no write commits on settings other than those it would have read.
//!   This assumes what the single writer connection already does: one
//!   herald process writes the file (the registration cache's version
//!   counter on SQLite makes the same assumption).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Executor, Sqlite, SqliteConnection};
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use crate::error::StoreError;
use crate::sql::Sql;

/// Every write's savepoint has this one name: one is open at a time (a
/// write releases or rolls back its own before the next begins), and the
/// same name keeps a write's text the same, so sqlx's cache of prepared
/// statements answers it instead of SQLite parsing it anew (a name per
/// write cost a parse of every statement, a third of the write's time).
const SAVEPOINT: &str = "herald_w";

/// The savepoint around a whole round of handed-over writes.
const ROUND: &str = "herald_round";

/// Text of one round at most: SQLite copies the rest of a multi-statement
/// text for every statement it prepares (see `SQLITE_BATCH_TEXT` in
/// lib.rs); a round of the same shape and size is a cached statement.
const ROUND_TEXT: usize = 64 * 1024;

/// Writes one transaction holds at most.
const MAX_MEMBERS: usize = 256;
/// How long a group stays open for more writes at most.
const MAX_OPEN: Duration = Duration::from_millis(25);

/// The single writer connection, shared by groups of writes.
#[derive(Clone)]
pub(crate) struct Writer {
    slot: Arc<Mutex<Slot>>,
    /// The settings as of the last COMMIT, and their generation (see
    /// above).
    published: Arc<std::sync::Mutex<Option<(u64, Settings)>>>,
    /// Writes waiting for the connection.
    queued: Arc<AtomicUsize>,
    /// Writes handed over whole, for the next round.
    submitted: Arc<std::sync::Mutex<Vec<Submitted>>>,
    tickets: Arc<std::sync::atomic::AtomicU64>,
    /// How long a write waits for the connection at most.
    timeout: Duration,
}

pub(crate) struct Slot {
    /// The rounds' cached prepared statements on `conn`'s handle; declared
    /// before it, so they are finalized before it closes (`prepared`).
    prepared: crate::prepared::Prepared,
    pub(crate) conn: SqliteConnection,
    /// A group transaction is open (BEGIN sent), since when.
    open: Option<Instant>,
    /// Writes of the open transaction waiting for its COMMIT.
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
    /// Statements to run before anything else (a dropped write's
    /// rollback to its savepoint, when it could not run them itself).
    prefix: String,
    /// `herald_setting` as the writes so far left it (see above), kept
    /// across groups.
    settings: Option<Settings>,
    /// Advanced by every write that changed (or may have changed) a
    /// setting, and by every failed COMMIT.
    generation: u64,
    /// The writer's published copy (the same as [`Writer::published`]).
    published: Arc<std::sync::Mutex<Option<(u64, Settings)>>>,
    /// Set by the checkpointer when the log has grown long (see
    /// [`crate::checkpoint`]).
    log_restart: crate::checkpoint::LogRestart,
}

/// `herald_setting` as a transaction sees it.
pub(crate) type Settings = HashMap<String, String>;

/// A write handed over whole ([`Writer::submit`]).
struct Submitted {
    /// Which write it is.
    ticket: u64,
    /// Its statements, each with anonymous placeholders.
    stmts: Vec<Sql>,
    /// Their text's length.
    text_len: usize,
    /// The generation of the published settings it decided on.
    decided_on: Option<u64>,
    /// The settings it read (unchanged: a write that changes them holds
    /// the connection, it is never handed over).
    settings: Option<Settings>,
    tell: oneshot::Sender<Result<(), StoreError>>,
}

/// What a write leaves of the settings to the writes after it.
pub(crate) enum SettingsLeft {
    /// It never read them.
    Untouched,
    /// It read them (or decided on a copy still current): unchanged.
    Read(Settings),
    /// It changed them; this is the copy with its changes.
    Written(Settings),
    /// It wrote them past its copy: the next write reads them again.
    Unknown,
}

/// A write that has not taken the connection yet: it builds its statements
/// while other writes hold it ([`Pending::join`] takes it).
pub(crate) struct Pending {
    writer: Writer,
}

impl Pending {
    /// Take the connection and join the open group; `decided_on`: the
    /// generation of the published settings the write used so far.
    pub(crate) async fn join(&self, decided_on: Option<u64>) -> Result<Member, StoreError> {
        self.writer.join_checked(false, decided_on).await
    }

    /// The settings as of the last COMMIT and their generation, if known.
    pub(crate) fn published(&self) -> Option<(u64, Settings)> {
        self.writer.published()
    }

    /// Commit the write whole (see [`Writer::submit`]).
    pub(crate) async fn submit(
        &self,
        stmts: Vec<Sql>,
        settings: Option<Settings>,
        decided_on: Option<u64>,
    ) -> Result<(), StoreError> {
        self.writer.submit(stmts, settings, decided_on).await
    }
}

/// One write transaction inside a group.
pub(crate) struct Member {
    guard: Option<OwnedMutexGuard<Slot>>,
    writer: Writer,
    /// Its SAVEPOINT was sent.
    started: bool,
}

impl Writer {
    pub(crate) fn new(
        conn: SqliteConnection,
        timeout: Duration,
        log_restart: crate::checkpoint::LogRestart,
    ) -> Writer {
        let published = Arc::new(std::sync::Mutex::new(None));
        Writer {
            slot: Arc::new(Mutex::new(Slot {
                prepared: crate::prepared::Prepared::default(),
                conn,
                log_restart,
                open: None,
                waiting: Vec::new(),
                prefix: String::new(),
                settings: None,
                generation: 0,
                published: published.clone(),
            })),
            published,
            queued: Arc::new(AtomicUsize::new(0)),
            submitted: Arc::new(std::sync::Mutex::new(Vec::new())),
            tickets: Arc::new(std::sync::atomic::AtomicU64::new(0)),
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

    /// The settings as of the last COMMIT and their generation, if known.
    pub(crate) fn published(&self) -> Option<(u64, Settings)> {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Begin a write that takes the connection when it first needs it.
    pub(crate) fn pending(&self) -> Pending {
        Pending {
            writer: self.clone(),
        }
    }

    /// Commit a write that never took the connection: `stmts`, all its
    /// statements (each numbered from `$1`), run in the next round (see
    /// above). Returns once committed, or with the write's own error (it
    /// alone rolled back), [`StoreError::SettingsChanged`], or the round's
    /// COMMIT failure.
    pub(crate) async fn submit(
        &self,
        stmts: Vec<Sql>,
        settings: Option<Settings>,
        decided_on: Option<u64>,
    ) -> Result<(), StoreError> {
        let anonymous: Option<Vec<String>> = stmts
            .iter()
            .map(|s| match s.sqlite_text() {
                std::borrow::Cow::Owned(text) => Some(text),
                std::borrow::Cow::Borrowed(_) => None,
            })
            .collect();
        let Some(texts) = anonymous else {
            // Numbered placeholders cannot share a text with others.
            let member = self.join_checked(false, decided_on).await?;
            let left = settings.map_or(SettingsLeft::Untouched, SettingsLeft::Read);
            return member
                .commit(&crate::batch::joined(stmts, false, ""), left)
                .await;
        };
        let stmts: Vec<Sql> = stmts
            .into_iter()
            .zip(texts)
            .map(|(s, text)| Sql {
                text,
                params: s.params,
            })
            .collect();
        let (tell, mut told) = oneshot::channel();
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        self.submitted_list().push(Submitted {
            ticket,
            text_len: stmts.iter().map(|s| s.text.len()).sum(),
            stmts,
            decided_on,
            settings,
            tell,
        });
        // A caller that gives up (dropped) before a round took its write
        // withdraws it: nothing of it runs later behind its back.
        let withdraw = Withdraw {
            writer: self,
            ticket,
        };
        let slot = match tokio::time::timeout(self.timeout, self.lock()).await {
            Ok(slot) => slot,
            Err(_) => {
                // Not run yet: withdrawn. Otherwise a round has it.
                if withdraw.now() {
                    return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
                }
                return committed_round(told).await;
            }
        };
        // From here the write is run by the round below (or was by an
        // earlier one): withdrawing it on drop finds nothing, unless the
        // caller is dropped before that round took it.
        let _withdraw = withdraw;
        // Under the lock, this write was either run by an earlier round
        // (told) or is still handed over: then it leads a round now. The
        // round runs in a task of its own, so that it finishes (and tells
        // every write of it) even if this caller is dropped meanwhile.
        let early = told.try_recv();
        if early.is_err() {
            let writer = self.clone();
            let round = tokio::spawn(async move {
                let mut slot = slot;
                let entries = writer.take_round();
                slot.run_round(entries).await;
                writer.settle_locked(&mut slot).await;
            });
            if round.await.is_err() {
                return Err(StoreError::Commit("the round of writes failed".into()));
            }
            return committed_round(told).await;
        }
        let mut slot = slot;
        self.settle_locked(&mut slot).await;
        drop(slot);
        early.unwrap_or_else(|_| Err(StoreError::Commit("unreachable: told above".into())))
    }

    /// Withdraw a handed-over write no round has taken yet; whether it was.
    fn withdraw(&self, ticket: u64) -> bool {
        let mut list = self.submitted_list();
        let before = list.len();
        list.retain(|s| s.ticket != ticket);
        list.len() < before
    }

    fn submitted_list(&self) -> std::sync::MutexGuard<'_, Vec<Submitted>> {
        self.submitted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The handed-over writes of the next round, oldest first, up to
    /// [`MAX_MEMBERS`] and [`ROUND_TEXT`].
    fn take_round(&self) -> Vec<Submitted> {
        let mut list = self.submitted_list();
        let mut text = 0;
        let mut n = 0;
        for s in list.iter() {
            if n > 0 && (n >= MAX_MEMBERS || text + s.text_len > ROUND_TEXT) {
                break;
            }
            text += s.text_len;
            n += 1;
        }
        list.drain(..n).collect()
    }

    /// Holding the connection: commit the open group if no write waits
    /// to do it (the writes of the group may have left it to this one).
    async fn settle_locked(&self, slot: &mut Slot) {
        if slot.open.is_some() && self.queued.load(Ordering::SeqCst) == 0 {
            if let Err(e) = slot.commit_group().await {
                tracing::warn!(error = %e, "a group commit failed");
            }
        }
    }

    /// Begin a write: it joins the open group, or (`alone`) commits the
    /// open group first and runs in a new one.
    pub(crate) async fn join(&self, alone: bool) -> Result<Member, StoreError> {
        self.join_checked(alone, None).await
    }

    /// [`Writer::join`] for a write that decided on settings of generation
    /// `decided_on`: refused if they changed since.
    async fn join_checked(
        &self,
        alone: bool,
        decided_on: Option<u64>,
    ) -> Result<Member, StoreError> {
        let mut slot = tokio::time::timeout(self.timeout, self.lock())
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?;
        if decided_on.is_some_and(|g| g != slot.generation) {
            // Nothing of this write ran; the group it leaves still needs
            // its COMMIT if no write comes after.
            if self.queued.load(Ordering::SeqCst) == 0 {
                slot.commit_group().await?;
            }
            return Err(StoreError::SettingsChanged);
        }
        if alone {
            slot.commit_group().await?;
        }
        Ok(Member {
            guard: Some(slot),
            writer: self.clone(),
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

/// Withdraws a handed-over write when its caller gives up waiting for the
/// connection ([`Writer::submit`]).
struct Withdraw<'w> {
    writer: &'w Writer,
    ticket: u64,
}

impl Withdraw<'_> {
    /// Withdraw it now; whether it was still waiting for a round.
    fn now(self) -> bool {
        let withdrawn = self.writer.withdraw(self.ticket);
        std::mem::forget(self);
        withdrawn
    }
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.writer.withdraw(self.ticket);
    }
}

/// A handed-over write's answer (see [`Writer::submit`]).
async fn committed_round(
    told: oneshot::Receiver<Result<(), StoreError>>,
) -> Result<(), StoreError> {
    match told.await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Commit(
            "the round of writes ended without a commit".into(),
        )),
    }
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
        if self.open.take().is_none() {
            return Ok(());
        }
        let waiting = std::mem::take(&mut self.waiting);
        let text = format!("{}COMMIT", std::mem::take(&mut self.prefix));
        let result = self.run(&text).await;
        if result.is_err() {
            // Leave no transaction behind, whatever the state.
            let _ = self.run("ROLLBACK").await;
            self.forget_settings();
        }
        // Published before any write of the group hears of its commit: a
        // client that saw its write acknowledged finds its settings in
        // the next write.
        self.publish();
        let told = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
        for w in waiting {
            let _ = w.send(told.clone());
        }
        self.let_the_log_start_over().await;
        result
    }

    /// Between transactions, when the checkpointer has asked for it: a
    /// passive checkpoint on this connection, so the next BEGIN can start
    /// the log over (see [`crate::checkpoint`]). It copies only what the
    /// checkpointer's last round left, and never waits for a lock; a
    /// failure costs only the restart, which the checkpointer asks for
    /// again.
    async fn let_the_log_start_over(&mut self) {
        if self.open.is_some() || !self.log_restart.take() {
            return;
        }
        if let Err(e) = self.run("PRAGMA wal_checkpoint(PASSIVE)").await {
            tracing::debug!(error = %e, "the writer's checkpoint failed; the log grows until the next one");
        }
    }

    /// The transaction is lost (an error rolled it back, or left it in an
    /// unknown state): roll back, tell the waiting writes.
    async fn abandon(&mut self, why: &str) {
        self.open = None;
        self.forget_settings();
        self.publish();
        self.prefix.clear();
        for w in self.waiting.drain(..) {
            let _ = w.send(Err(format!("the shared transaction failed: {why}")));
        }
        let _ = self.run("ROLLBACK").await;
    }
}

impl Slot {
    /// Run a round of handed-over writes and the COMMIT in one hand-off
    /// (see above), and tell each its outcome.
    async fn run_round(&mut self, entries: Vec<Submitted>) {
        let mut round = Vec::with_capacity(entries.len());
        for e in entries {
            if e.decided_on.is_some_and(|g| g != self.generation) {
                let _ = e.tell.send(Err(StoreError::SettingsChanged));
            } else {
                round.push(e);
            }
        }
        if round.is_empty() {
            return;
        }
        // No savepoint per write on this first run: if any statement fails
        // the whole round is undone and its writes run again one by one,
        // each in its own savepoint (below). A savepoint makes SQLite copy
        // every page a write then touches into the statement journal, so
        // one per write copied the same index pages once per write. A
        // round that begins the transaction needs none at all (ROLLBACK
        // undoes it); one that joins an open group keeps the group's
        // earlier writes with a savepoint around the round. The round's
        // statements run one by one as cached prepared statements
        // (`prepared`), in one hand-off.
        let began = self.open.is_none();
        if began {
            self.open = Some(Instant::now());
        }
        let opening = Sql::from(if began {
            "BEGIN".to_string()
        } else {
            format!("SAVEPOINT {ROUND}")
        });
        let release = Sql::from(format!("RELEASE {ROUND}"));
        let commit = Sql::from("COMMIT".to_string());
        let mut stmts: Vec<&Sql> = vec![&opening];
        for e in &round {
            stmts.extend(e.stmts.iter());
        }
        if !began {
            stmts.push(&release);
        }
        stmts.push(&commit);
        // The writes that left their COMMIT to the writes after them are
        // committed by this one too.
        let waiting = std::mem::take(&mut self.waiting);
        // A dropped write's rollback to its savepoint, if one is owed.
        let prefix = std::mem::take(&mut self.prefix);
        let ran = if prefix.is_empty() {
            Ok(())
        } else {
            self.run(&prefix)
                .await
                .map_err(|e| crate::prepared::Failed(e.to_string()))
        };
        let ran = match ran {
            Ok(()) => self.prepared.run(&mut self.conn, &stmts).await,
            Err(e) => Err(e),
        };
        drop(stmts);
        let failed = match ran {
            Ok(()) => {
                self.open = None;
                if self.settings.is_none() {
                    self.settings = round.iter().find_map(|e| e.settings.clone());
                }
                self.publish();
                for w in waiting {
                    let _ = w.send(Ok(()));
                }
                for e in round {
                    let _ = e.tell.send(Ok(()));
                }
                self.let_the_log_start_over().await;
                return;
            }
            Err(e) => e,
        };
        // A write's statement failed (the transaction, or the round's
        // savepoint, is still there), or the COMMIT did. Undo the round;
        // if even that fails, the transaction is in an unknown state.
        let undone = if began {
            // After a failed COMMIT there may be no transaction left to
            // roll back: only a BEGIN that fails means the connection is
            // unusable.
            let _ = self.run("ROLLBACK").await;
            self.run("BEGIN").await
        } else {
            self.run(&format!("ROLLBACK TO {ROUND};\nRELEASE {ROUND};\n"))
                .await
        };
        if let Err(gone) = undone {
            tracing::warn!(error = %failed, then = %gone, "a round's COMMIT failed");
            let _ = self.run("ROLLBACK").await;
            self.open = None;
            self.forget_settings();
            self.publish();
            let why = failed.to_string();
            for w in waiting {
                let _ = w.send(Err(why.clone()));
            }
            for e in round {
                let _ = e.tell.send(Err(StoreError::Commit(why.clone())));
            }
            return;
        }
        // One by one: the write that failed fails alone.
        self.waiting = waiting;
        let mut done = Vec::with_capacity(round.len());
        for e in round {
            let mut one = Sql::from(format!("SAVEPOINT {SAVEPOINT};\n"));
            for stmt in e.stmts {
                one.text.push_str(&stmt.text);
                one.text.push_str(";\n");
                one.params.extend(stmt.params);
            }
            one.text.push_str(&format!("RELEASE {SAVEPOINT};\n"));
            let q = crate::conn::bound_query_text::<Sqlite>(&one.text, &one);
            match q.execute(&mut self.conn).await {
                Ok(_) => {
                    if self.settings.is_none() {
                        self.settings = e.settings;
                    }
                    done.push(e.tell);
                }
                Err(err) => {
                    let undo = format!("ROLLBACK TO {SAVEPOINT};\nRELEASE {SAVEPOINT};\n");
                    if let Err(lost) = self.run(&undo).await {
                        self.abandon(&lost.to_string()).await;
                    }
                    let _ = e.tell.send(Err(StoreError::Database(err)));
                }
            }
        }
        let told = self.commit_group().await.map_err(|e| e.to_string());
        for tell in done {
            let _ = tell.send(told.clone().map_err(StoreError::Commit));
        }
    }

    /// The copy of the settings may no longer be what the file holds.
    fn forget_settings(&mut self) {
        self.settings = None;
        self.generation += 1;
    }

    fn publish(&mut self) {
        let copy = self.settings.clone().map(|s| (self.generation, s));
        *self.published.lock().unwrap_or_else(|p| p.into_inner()) = copy;
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
        let slot = self.slot();
        let mut text = std::mem::take(&mut slot.prefix);
        if slot.open.is_none() {
            text.push_str("BEGIN;\n");
            slot.open = Some(Instant::now());
        }
        text.push_str(&format!("SAVEPOINT {SAVEPOINT};\n"));
        Some(text)
    }

    /// Commit this write: `last` (its batched statements, which may be
    /// empty) and the release of its savepoint in one hand-off, then the
    /// group's COMMIT now or by a later write. Returns once committed. A
    /// failure of `last` rolls this write back (alone). `settings`: what
    /// this write knows of the settings, left to the group's next writes.
    pub(crate) async fn commit(
        mut self,
        last: &crate::sql::Sql,
        settings: SettingsLeft,
    ) -> Result<(), StoreError> {
        let mut own = Ok(());
        if !last.text.is_empty() || self.started {
            let mut text = self.preamble().unwrap_or_default();
            text.push_str(&last.sqlite_text());
            text.push_str(&format!("RELEASE {SAVEPOINT};\n"));
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
        match (&own, settings) {
            // Rolled back: what it wrote is gone, but the writes that
            // decided on the settings meanwhile are refused all the same.
            (Err(_), SettingsLeft::Written(_) | SettingsLeft::Unknown) => slot.generation += 1,
            (Err(_), _) | (Ok(()), SettingsLeft::Untouched) => {}
            (Ok(()), SettingsLeft::Read(copy)) => slot.settings = Some(copy),
            (Ok(()), SettingsLeft::Written(copy)) => {
                slot.settings = Some(copy);
                slot.generation += 1;
            }
            (Ok(()), SettingsLeft::Unknown) => slot.forget_settings(),
        }
        if let Err(e) = own {
            if now {
                slot.commit_group().await?;
            }
            return Err(e.into());
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
        let text = format!("ROLLBACK TO {SAVEPOINT};\nRELEASE {SAVEPOINT};\n");
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
                .push_str(&format!("ROLLBACK TO {SAVEPOINT};\nRELEASE {SAVEPOINT};\n"));
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
