//! SQLite WAL checkpoints off the writer connection.
//!
//! By default SQLite checkpoints inside a COMMIT: the connection whose
//! transaction takes the write-ahead log past 1 000 pages copies the log
//! into the database file and `fsync`s both, before its COMMIT returns.
//! Here that connection is the single writer every write, claim and
//! outcome of the node waits for, so each checkpoint stalled all of them
//! (a drain profile had the writer thread blocked in disk waits, `fsync`
//! and write-back throttling, for a sixth of its time).
//!
//! So the writer runs with `wal_autocheckpoint = 0` and a [`Checkpointer`]
//! task, on a connection of its own, runs `PRAGMA wal_checkpoint(PASSIVE)`
//! every [`EVERY`]. A passive checkpoint takes no lock that writers or
//! readers wait for: it copies what no reader still needs and leaves the
//! rest to the next round. Durability does not change: a COMMIT is in the
//! log before it returns, with or without checkpoints.
//!
//! The log starts over (new frames overwrite it from its first byte) only
//! when a write transaction begins while all of it is copied. Under a
//! steady load that never happens by itself: the writer appends while each
//! round copies, so every round ends behind. A drain of 100 000 System
//! Jobs left a 2.7 GB log beside a 590 MB database, and every frame went to
//! a new block of the file (the kernel zeroing and allocating it: a quarter
//! of the writer thread's time). So when a round finds the log past
//! [`RESTART_AFTER`] frames it asks the writer ([`LogRestart`]), and the
//! writer, between two transactions, runs a passive checkpoint itself: it
//! copies only what the last round left, and the next BEGIN starts the log
//! over. The log file then stays near that size plus what is written
//! between two rounds (~60 MB in a drain), reused in place.
//!
//! The task ends when the last clone of the store is dropped (it holds a
//! [`Weak`] of the store's [`Alive`] token); closing the last connection
//! then checkpoints what is left, as SQLite always does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};

use crate::error::StoreError;

/// How often the log is checkpointed.
pub(crate) const EVERY: Duration = Duration::from_millis(100);

/// Frames of log (4 KB pages; ~32 MB) past which the checkpointer asks the
/// writer to let the log start over. Tests use a smaller log, to write a
/// few times it in a test's time.
pub(crate) const RESTART_AFTER: i64 = if cfg!(test) { 1024 } else { 8192 };

/// The checkpointer's request to the writer to let the log start over
/// (see the module doc); shared by both.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogRestart(Arc<AtomicBool>);

impl LogRestart {
    fn ask(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether it was asked for (and clear the request).
    pub(crate) fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

/// Held by every clone of a SQLite store; the checkpointer stops once no
/// clone holds it.
pub(crate) type Alive = Arc<()>;

/// What one `PRAGMA wal_checkpoint` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Round {
    /// Frames in the log.
    pub log: i64,
    /// Frames of it now in the database file.
    pub copied: i64,
}

pub(crate) struct Checkpointer {
    conn: SqliteConnection,
}

impl Checkpointer {
    /// A checkpointing connection to the database of `options` (which
    /// must allow writing: a read-only connection cannot checkpoint).
    pub(crate) async fn connect(options: &SqliteConnectOptions) -> Result<Self, StoreError> {
        Ok(Checkpointer {
            conn: options.connect().await?,
        })
    }

    /// One passive checkpoint.
    pub(crate) async fn round(&mut self) -> Result<Round, StoreError> {
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut self.conn)
            .await?;
        Ok(Round {
            log: row.try_get(1)?,
            copied: row.try_get(2)?,
        })
    }

    /// Checkpoint every [`EVERY`] while the store is alive, then close.
    pub(crate) fn spawn(mut self, alive: Weak<()>, restart: LogRestart) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if alive.upgrade().is_none() {
                    break;
                }
                let round = self.round().await;
                if matches!(round, Ok(r) if r.log >= RESTART_AFTER) {
                    restart.ask();
                }
                match round {
                    Ok(r) if r.copied < r.log => {
                        tracing::debug!(log = r.log, copied = r.copied, "a reader still needs part of the SQLite log; the next round copies the rest");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "checkpointing the SQLite log failed; the next round tries again");
                    }
                }
            }
            let _ = self.conn.close().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use herald_core::Value;
    use uuid::Uuid;

    use crate::testing;

    /// The writer never checkpoints (`wal_autocheckpoint = 0`), so the
    /// rows reach the database file only through the checkpointer: the
    /// file grows by what was written while the store stays open.
    #[tokio::test]
    async fn the_log_reaches_the_database_file_while_the_store_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::sqlite_store(dir.path()).await;
        let file = dir.path().join("herald.db");
        let before = std::fs::metadata(&file).unwrap().len();
        let schema = store.schema();
        let contact = schema.table("contact").unwrap();
        // ~6 MB in 60 commits: well past SQLite's 1 000-page autocheckpoint.
        let text = "x".repeat(100_000);
        for _ in 0..60 {
            let mut tx = store.begin().await.unwrap();
            tx.insert(
                contact,
                &[
                    ("contactid".into(), Value::Guid(Uuid::now_v7())),
                    ("description".into(), Value::String(text.clone())),
                ],
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let now = std::fs::metadata(&file).unwrap().len();
            if now >= before + 5_000_000 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the database file stayed at {now} bytes (from {before}): nothing checkpointed the log"
            );
            tokio::time::sleep(super::EVERY).await;
        }
        // Reads see the rows whether they are in the log or the file.
        let mut tx = store.begin().await.unwrap();
        let n = tx
            .conn()
            .await
            .unwrap()
            .fetch_i64(&crate::sql::Sql {
                text: "SELECT COUNT(*) FROM \"contact\"".into(),
                params: vec![],
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(n, Some(60));
    }

    /// Writes that never pause — four writers, so a group transaction is
    /// nearly always open — leave the checkpointer no moment at which all
    /// of the log is copied and no transaction has begun since; only the
    /// writer's own checkpoint between two transactions lets the log start
    /// over. Every start-over advances the checkpoint sequence number in
    /// the log's header (bytes 12–15); without it that stays 0 and the log
    /// file grows by every byte written.
    ///
    /// How far the log grows between two start-overs depends on how busy
    /// the machine is (the checkpointer's round must see it past the
    /// threshold first): its file peaked at 75 MB of 400 MB written on a
    /// quiet machine (10 start-overs), 150 MB with the CI's other tests
    /// beside it. So the
    /// test counts start-overs and bounds the file loosely.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_over_while_writes_never_pause() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::sqlite_store(dir.path()).await;
        let log = dir.path().join("herald.db-wal");
        let row_bytes = 100_000usize;
        let total = 100 * super::RESTART_AFTER as usize * 4096;
        let per_writer = total / row_bytes / 4;
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let contact = store.schema().table("contact").unwrap().clone();
                    let text = "x".repeat(row_bytes);
                    for _ in 0..per_writer {
                        let mut tx = store.begin().await.unwrap();
                        tx.insert(
                            &contact,
                            &[
                                ("contactid".into(), Value::Guid(Uuid::now_v7())),
                                ("description".into(), Value::String(text.clone())),
                            ],
                        )
                        .await
                        .unwrap();
                        tx.commit().await.unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        let mut header = [0u8; 16];
        std::io::Read::read_exact(&mut std::fs::File::open(&log).unwrap(), &mut header).unwrap();
        let restarts = u32::from_be_bytes([header[12], header[13], header[14], header[15]]);
        let size = std::fs::metadata(&log).unwrap().len() as usize;
        assert!(
            restarts >= 1 && size < total / 2,
            "the log started over {restarts} times and its file is {size} bytes after {total} bytes written"
        );
    }
}
