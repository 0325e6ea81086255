//! SQLite's read connections: a small pool of read-only connections, each
//! handed to one reader at a time and given back without a round trip.
//!
//! sqlx's own pool pings every connection it takes back (sqlx 0.8's
//! `return_to_pool`, not configurable): on SQLite that ping is one more
//! hand-off to the connection's thread and back, as much as the read
//! itself, and every API request reads its key. Here a connection goes
//! back as it is when its reader finished ([`Reader::finished`]); one whose
//! reader was dropped mid-read (an error returned early, a cancelled
//! request) is pinged first — its thread works through what it was sent,
//! so no half-read statement keeps a snapshot of the log open — by a task
//! of its own (or, outside a runtime, by its next reader).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::StoreError;

/// A connection waiting for its next reader.
struct Idle {
    conn: SqliteConnection,
    /// Its last reader did not finish: ping before use.
    unsettled: bool,
}

/// The read connections of one SQLite file. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ReadPool {
    inner: Arc<Inner>,
}

struct Inner {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<Idle>>,
    /// One permit per connection that may exist.
    permits: Arc<Semaphore>,
    max: u32,
    /// How long a reader waits for a connection at most.
    timeout: Duration,
}

impl ReadPool {
    /// Up to `max` connections opened with `options` (as they are needed).
    pub(crate) fn new(options: SqliteConnectOptions, max: u32, timeout: Duration) -> ReadPool {
        let max = max.max(1);
        ReadPool {
            inner: Arc::new(Inner {
                options,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(max as usize)),
                max,
                timeout,
            }),
        }
    }

    /// A connection for one reader: an idle one, or a new one while fewer
    /// than the maximum exist; else wait for one, up to the timeout.
    pub(crate) async fn acquire(&self) -> Result<Reader, StoreError> {
        let permit = tokio::time::timeout(
            self.inner.timeout,
            self.inner.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?
        .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let idle = self.lock_idle().pop();
        let conn = match idle {
            Some(Idle {
                mut conn,
                unsettled: true,
            }) => match conn.ping().await {
                Ok(()) => conn,
                // Broken: leave it, open another.
                Err(_) => self.inner.options.connect().await?,
            },
            Some(Idle { conn, .. }) => conn,
            None => self.inner.options.connect().await?,
        };
        Ok(Reader {
            conn: Some(conn),
            finished: false,
            pool: self.clone(),
            permit: Some(permit),
        })
    }

    /// Every row of `sql` on a connection of the pool.
    pub(crate) async fn rows(
        &self,
        sql: &crate::sql::Sql,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, StoreError> {
        let mut reader = self.acquire().await?;
        let rows = crate::conn::bound_query(sql)
            .fetch_all(&mut *reader)
            .await?;
        reader.finished();
        Ok(rows)
    }

    /// Connections open (idle or in use) and idle, for metrics. Read
    /// separately; they may be momentarily inconsistent.
    pub(crate) fn size(&self) -> u32 {
        let in_use = self.inner.max as usize - self.inner.permits.available_permits();
        (in_use + self.lock_idle().len()) as u32
    }

    pub(crate) fn num_idle(&self) -> usize {
        self.lock_idle().len()
    }

    fn put_back(&self, conn: SqliteConnection, unsettled: bool) {
        self.lock_idle().push(Idle { conn, unsettled });
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.inner.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One reader's connection; back to the pool when dropped.
pub(crate) struct Reader {
    conn: Option<SqliteConnection>,
    finished: bool,
    pool: ReadPool,
    /// Released after the connection is back among the idle ones.
    permit: Option<OwnedSemaphorePermit>,
}

impl Reader {
    /// The reader is done with the connection, nothing of its left in
    /// flight: it goes back without a ping.
    pub(crate) fn finished(mut self) {
        self.finished = true;
    }
}

impl Deref for Reader {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.conn.as_ref().expect("a reader holds its connection")
    }
}

impl DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("a reader holds its connection")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.finished {
            self.pool.put_back(conn, false);
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                // The permit goes with it: the connection is not free
                // until it is settled.
                let (pool, permit) = (self.pool.clone(), self.permit.take());
                runtime.spawn(async move {
                    if conn.ping().await.is_ok() {
                        pool.put_back(conn, false);
                    }
                    drop(permit);
                });
            }
            Err(_) => self.pool.put_back(conn, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    async fn pool(max: u32, timeout: Duration) -> (tempfile::TempDir, ReadPool) {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("r.db"))
            .create_if_missing(true);
        (dir, ReadPool::new(options, max, timeout))
    }

    async fn one(r: &mut Reader) -> i64 {
        sqlx::query("SELECT 1")
            .fetch_one(&mut **r)
            .await
            .unwrap()
            .get(0)
    }

    #[tokio::test]
    async fn connections_are_reused_and_capped() {
        let (_dir, pool) = pool(2, Duration::from_millis(200)).await;
        let mut a = pool.acquire().await.unwrap();
        let mut b = pool.acquire().await.unwrap();
        assert_eq!((one(&mut a).await, one(&mut b).await), (1, 1));
        assert_eq!((pool.size(), pool.num_idle()), (2, 0));
        // A third reader waits, and times out while both are held.
        assert!(matches!(
            pool.acquire().await,
            Err(StoreError::Database(sqlx::Error::PoolTimedOut))
        ));
        a.finished();
        assert_eq!((pool.size(), pool.num_idle()), (2, 1));
        // The freed connection is the one handed out again: no new one.
        let mut c = pool.acquire().await.unwrap();
        assert_eq!(one(&mut c).await, 1);
        assert_eq!((pool.size(), pool.num_idle()), (2, 0));
        b.finished();
        c.finished();
        assert_eq!((pool.size(), pool.num_idle()), (2, 2));
    }

    #[tokio::test]
    async fn a_reader_dropped_unfinished_leaves_a_usable_connection() {
        let (_dir, pool) = pool(1, Duration::from_secs(5)).await;
        let mut r = pool.acquire().await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut *r)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1), (2), (3)")
            .execute(&mut *r)
            .await
            .unwrap();
        r.finished();
        // A read dropped after its first row (its statement still open on
        // the connection's thread).
        let mut r = pool.acquire().await.unwrap();
        {
            use futures_util::StreamExt;
            let mut rows = sqlx::query("SELECT x FROM t ORDER BY x").fetch(&mut *r);
            let first: i64 = rows.next().await.unwrap().unwrap().get(0);
            assert_eq!(first, 1);
        }
        drop(r);
        // Settled by its own task: back among the idle ones, pinged.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pool.num_idle() == 0 {
            assert!(std::time::Instant::now() < deadline, "never settled");
            tokio::task::yield_now().await;
        }
        assert!(!pool.lock_idle()[0].unsettled);
        let mut r = pool.acquire().await.unwrap();
        let n: i64 = sqlx::query("SELECT count(*) FROM t")
            .fetch_one(&mut *r)
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 3);
    }
}
