//! The System Jobs queue (`herald_job`) and the attempt log
//! (`herald_attempt`). Jobs are enqueued in the write's transaction (the
//! outbox) and claimed with a lease: `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the single writer connection on SQLite.

use sqlx::Row;
use uuid::Uuid;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::{Backend, Store, Tx};

/// A job to enqueue with its asyncoperation row.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub asyncoperation_id: Uuid,
    pub endpoint_id: Uuid,
    pub ready_at_ms: i64,
    pub autodelete: bool,
}

/// A job a worker now holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub asyncoperation_id: Uuid,
    pub endpoint_id: Uuid,
    pub autodelete: bool,
    /// Claims so far, this one included (1 on the first run).
    pub claims: i64,
}

/// One recorded HTTP attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub asyncoperation_id: Uuid,
    pub attempt: i64,
    pub started_ms: i64,
    pub duration_ms: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub response: Option<String>,
}

fn text(s: impl ToString) -> Param {
    Param::Text(Some(s.to_string()))
}

impl Tx {
    pub async fn enqueue_job(&mut self, job: &NewJob) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_job (asyncoperationid, endpointid, ready_at, lease_owner, lease_until, autodelete, attempts) VALUES (")
            .bind(text(job.asyncoperation_id))
            .push(", ")
            .bind(text(job.endpoint_id))
            .push(", ")
            .bind(Param::Int(Some(job.ready_at_ms)))
            .push(", NULL, NULL, ")
            .bind(Param::Bool(Some(job.autodelete)))
            .push(", 0)");
        self.conn().execute(&sql).await.map(|_| ())
    }

    /// Remove a job from the queue (completed or canceled).
    pub async fn dequeue_job(&mut self, id: Uuid) -> Result<u64, StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_job WHERE asyncoperationid = ").bind(text(id));
        self.conn().execute(&sql).await
    }

    /// Put a job back in the queue, ready at `ready_at_ms` (retry, resume).
    pub async fn requeue_job(&mut self, id: Uuid, endpoint: Uuid, ready_at_ms: i64, autodelete: bool) -> Result<(), StoreError> {
        self.dequeue_job(id).await?;
        self.enqueue_job(&NewJob { asyncoperation_id: id, endpoint_id: endpoint, ready_at_ms, autodelete }).await
    }

    /// Whether `owner` still holds the lease of a queued job.
    pub async fn job_held_by(&mut self, id: Uuid, owner: &str) -> Result<bool, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*) FROM herald_job WHERE asyncoperationid = ")
            .bind(text(id))
            .push(" AND lease_owner = ")
            .bind(text(owner));
        Ok(self.conn().fetch_i64(&sql).await?.unwrap_or(0) > 0)
    }

    pub async fn delete_attempts(&mut self, id: Uuid) -> Result<u64, StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_attempt WHERE asyncoperationid = ").bind(text(id));
        self.conn().execute(&sql).await
    }

    pub async fn record_attempt(&mut self, a: &AttemptRow) -> Result<(), StoreError> {
        self.conn().record_attempt(a).await
    }
}

impl Conn<'_> {
    pub async fn record_attempt(&mut self, a: &AttemptRow) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_attempt (attemptid, asyncoperationid, attempt, startedon, duration_ms, status, error, response) VALUES (")
            .bind(text(Uuid::new_v4()))
            .push(", ")
            .bind(text(a.asyncoperation_id))
            .push(", ")
            .bind(Param::Int(Some(a.attempt)))
            .push(", ")
            .bind(Param::Int(Some(a.started_ms)))
            .push(", ")
            .bind(Param::Int(Some(a.duration_ms)))
            .push(", ")
            .bind(Param::Int(a.status))
            .push(", ")
            .bind(Param::Text(a.error.clone()))
            .push(", ")
            .bind(Param::Text(a.response.clone()))
            .push(")");
        self.execute(&sql).await.map(|_| ())
    }
}

impl Store {
    /// Claim up to `limit` ready jobs for `owner` until `now + lease`. Jobs
    /// whose lease expired (their node died) are claimable again.
    pub async fn claim_jobs(&self, owner: &str, now_ms: i64, lease_ms: i64, limit: i64) -> Result<Vec<ClaimedJob>, StoreError> {
        let mut sql = Sql::default();
        sql.push("UPDATE herald_job SET lease_owner = ")
            .bind(text(owner))
            .push(", lease_until = ")
            .bind(Param::Int(Some(now_ms + lease_ms)))
            .push(", attempts = attempts + 1 WHERE asyncoperationid IN (SELECT asyncoperationid FROM herald_job WHERE ready_at <= ")
            .bind(Param::Int(Some(now_ms)))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::Int(Some(now_ms)))
            .push(") ORDER BY ready_at LIMIT ")
            .bind(Param::Int(Some(limit)));
        if matches!(self.backend, Backend::Postgres(_)) {
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        sql.push(") RETURNING asyncoperationid, endpointid, autodelete, attempts");
        let mut tx = self.begin().await?;
        let rows = tx.conn().claim_rows(&sql).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Delete succeeded System Jobs completed before `before_ms`, and the
    /// attempts of jobs that no longer exist. Returns the jobs deleted.
    pub async fn purge_succeeded_jobs(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::default();
        sql.push("DELETE FROM \"asyncoperation\" WHERE \"statuscode\" = 30 AND \"completedon\" < ").bind(Param::Int(Some(before_ms)));
        let n = tx.conn().execute(&sql).await?;
        if n > 0 {
            tx.conn()
                .execute_raw("DELETE FROM herald_attempt WHERE NOT EXISTS (SELECT 1 FROM \"asyncoperation\" a WHERE a.\"asyncoperationid\" = herald_attempt.asyncoperationid)")
                .await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// How many jobs wait and since when (ms of the oldest ready_at).
    pub async fn queue_depth(&self, now_ms: i64) -> Result<(i64, Option<i64>), StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*), MIN(ready_at) FROM herald_job WHERE ready_at <= ").bind(Param::Int(Some(now_ms)));
        self.read_pair(&sql).await
    }

    /// The attempts of one job, oldest first.
    pub async fn attempts(&self, job: Uuid) -> Result<Vec<AttemptRow>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT asyncoperationid, attempt, startedon, duration_ms, status, error, response FROM herald_attempt WHERE asyncoperationid = ")
            .bind(text(job))
            .push(" ORDER BY attempt, startedon");
        self.read_attempts(&sql).await
    }
}

macro_rules! claim_row {
    ($r:expr) => {{
        let id: String = $r.try_get(0)?;
        let ep: String = $r.try_get(1)?;
        ClaimedJob {
            asyncoperation_id: Uuid::parse_str(&id).map_err(|e| StoreError::Invalid(e.to_string()))?,
            endpoint_id: Uuid::parse_str(&ep).map_err(|e| StoreError::Invalid(e.to_string()))?,
            autodelete: $r.try_get(2)?,
            claims: $r.try_get::<i64, _>(3)?,
        }
    }};
}

macro_rules! attempt_row {
    ($r:expr) => {{
        let id: String = $r.try_get(0)?;
        AttemptRow {
            asyncoperation_id: Uuid::parse_str(&id).map_err(|e| StoreError::Invalid(e.to_string()))?,
            attempt: $r.try_get(1)?,
            started_ms: $r.try_get(2)?,
            duration_ms: $r.try_get(3)?,
            status: $r.try_get(4)?,
            error: $r.try_get(5)?,
            response: $r.try_get(6)?,
        }
    }};
}

impl Conn<'_> {
    async fn claim_rows(&mut self, sql: &Sql) -> Result<Vec<ClaimedJob>, StoreError> {
        let mut out = Vec::new();
        match self {
            Conn::Sqlite(c) => {
                for r in crate::conn::bound_query(sql).fetch_all(&mut **c).await? {
                    out.push(claim_row!(r));
                }
            }
            Conn::Pg(c) => {
                for r in crate::conn::bound_query(sql).fetch_all(&mut **c).await? {
                    out.push(claim_row!(r));
                }
            }
        }
        Ok(out)
    }
}

impl Store {
    async fn read_pair(&self, sql: &Sql) -> Result<(i64, Option<i64>), StoreError> {
        Ok(match &self.backend {
            Backend::Sqlite { reader, .. } => {
                let r = crate::conn::bound_query(sql).fetch_one(reader).await?;
                (r.try_get(0)?, r.try_get(1)?)
            }
            Backend::Postgres(p) => {
                let r = crate::conn::bound_query(sql).fetch_one(p).await?;
                (r.try_get(0)?, r.try_get(1)?)
            }
        })
    }

    async fn read_attempts(&self, sql: &Sql) -> Result<Vec<AttemptRow>, StoreError> {
        let mut out = Vec::new();
        match &self.backend {
            Backend::Sqlite { reader, .. } => {
                for r in crate::conn::bound_query(sql).fetch_all(reader).await? {
                    out.push(attempt_row!(r));
                }
            }
            Backend::Postgres(p) => {
                for r in crate::conn::bound_query(sql).fetch_all(p).await? {
                    out.push(attempt_row!(r));
                }
            }
        }
        Ok(out)
    }
}
