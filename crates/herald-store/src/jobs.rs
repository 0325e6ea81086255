//! The System Jobs queue (`herald_job`) and the attempt log
//! (`herald_attempt`). Jobs are enqueued in the write's transaction (the
//! outbox) and claimed with a lease: `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the single writer connection on SQLite.
//!
//! On PostgreSQL every enqueue also issues `NOTIFY herald_jobs` in the same
//! transaction; PostgreSQL delivers it only when (and if) the transaction
//! commits, and folds repeated notifications of one transaction into one.
//! Every node LISTENs on [`JOBS_CHANNEL`] and claims at once, so a job
//! written on one node is picked up by any idle node without waiting for the
//! poll interval (which stays the safety net).

use std::collections::HashMap;

use sqlx::Row;
use uuid::Uuid;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::{Backend, Store, Tx};

/// The PostgreSQL LISTEN/NOTIFY channel that announces committed jobs.
pub const JOBS_CHANNEL: &str = "herald_jobs";

/// How many jobs one claim may take, and how a node shares its delivery
/// slots among endpoints (fairness).
///
/// `limit` is the number of free slots. No endpoint may hold more than
/// `per_endpoint` of this node's slots at once (`in_flight` is what each
/// endpoint holds now), so one slow or hanging endpoint occupies at most
/// its share and every other endpoint's jobs still find free slots.
/// Within those caps jobs are claimed oldest `ready_at` first.
#[derive(Debug, Clone)]
pub struct ClaimLimits {
    pub limit: i64,
    pub per_endpoint: i64,
    pub in_flight: HashMap<Uuid, i64>,
}

impl ClaimLimits {
    /// No per-endpoint cap (every slot may go to one endpoint).
    pub fn unlimited(limit: i64) -> ClaimLimits {
        ClaimLimits {
            limit,
            per_endpoint: i64::MAX,
            in_flight: HashMap::new(),
        }
    }

    /// Endpoints that already hold their whole share.
    fn saturated(&self) -> Vec<Uuid> {
        let mut v: Vec<Uuid> = self
            .in_flight
            .iter()
            .filter(|(_, n)| **n >= self.per_endpoint)
            .map(|(e, _)| *e)
            .collect();
        v.sort();
        v
    }

    /// From candidates in `ready_at` order, the ones to claim: at most
    /// `limit`, and per endpoint at most what its share has left.
    pub fn pick(&self, candidates: &[(Uuid, Uuid)]) -> Vec<Uuid> {
        let mut taken: HashMap<Uuid, i64> = HashMap::new();
        let mut out = Vec::new();
        for (job, endpoint) in candidates {
            if out.len() as i64 >= self.limit {
                break;
            }
            let held = self.in_flight.get(endpoint).copied().unwrap_or(0);
            let t = taken.entry(*endpoint).or_insert(0);
            if held + *t < self.per_endpoint {
                *t += 1;
                out.push(*job);
            }
        }
        out
    }
}

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
        self.conn().execute(&sql).await?;
        let pg = matches!(self.conn(), Conn::Pg(_));
        if pg {
            // Delivered to every listening node at commit, dropped on rollback.
            self.conn()
                .execute_raw(&format!("NOTIFY {JOBS_CHANNEL}"))
                .await?;
        }
        Ok(())
    }

    /// Remove a job from the queue (completed or canceled).
    pub async fn dequeue_job(&mut self, id: Uuid) -> Result<u64, StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_job WHERE asyncoperationid = ")
            .bind(text(id));
        self.conn().execute(&sql).await
    }

    /// Remove a job from the queue only if `owner` still holds its lease;
    /// whether it did. A node that lost the lease must not write an outcome.
    pub async fn release_job(&mut self, id: Uuid, owner: &str) -> Result<bool, StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_job WHERE asyncoperationid = ")
            .bind(text(id))
            .push(" AND lease_owner = ")
            .bind(text(owner));
        Ok(self.conn().execute(&sql).await? > 0)
    }

    /// Put a job back in the queue, ready at `ready_at_ms` (retry, resume).
    pub async fn requeue_job(
        &mut self,
        id: Uuid,
        endpoint: Uuid,
        ready_at_ms: i64,
        autodelete: bool,
    ) -> Result<(), StoreError> {
        self.dequeue_job(id).await?;
        self.enqueue_job(&NewJob {
            asyncoperation_id: id,
            endpoint_id: endpoint,
            ready_at_ms,
            autodelete,
        })
        .await
    }

    /// How many attempts a job has recorded so far.
    pub async fn attempt_count(&mut self, id: Uuid) -> Result<i64, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*) FROM herald_attempt WHERE asyncoperationid = ")
            .bind(text(id));
        Ok(self.conn().fetch_i64(&sql).await?.unwrap_or(0))
    }

    /// Drop every lease (SQLite at start-up: one process owns a SQLite
    /// file, so leases left in it belong to a process that died). Their
    /// jobs run again at once instead of after the lease expires.
    pub async fn release_all_leases(&mut self) -> Result<u64, StoreError> {
        self.conn()
            .execute_raw("UPDATE herald_job SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")
            .await
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
        sql.push("DELETE FROM herald_attempt WHERE asyncoperationid = ")
            .bind(text(id));
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
    /// Claim ready jobs for `owner` until `now + lease`, within `limits`
    /// (see [`ClaimLimits`]). Jobs whose lease expired (their node died) are
    /// claimable again.
    ///
    /// One transaction: read the oldest ready candidates (skipping
    /// endpoints that already hold their share, and on PostgreSQL locking
    /// them `FOR UPDATE SKIP LOCKED` so concurrent nodes never pick the same
    /// row), choose within the per-endpoint caps, and lease the chosen ones.
    /// Unchosen candidates are released at commit.
    pub async fn claim_jobs(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limits: &ClaimLimits,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        if limits.limit <= 0 {
            return Ok(Vec::new());
        }
        let pg = matches!(self.backend, Backend::Postgres(_));
        let mut sql = Sql::default();
        sql.push("SELECT asyncoperationid, endpointid FROM herald_job WHERE ready_at <= ")
            .bind(Param::Int(Some(now_ms)))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::Int(Some(now_ms)))
            .push(")");
        let saturated = limits.saturated();
        if !saturated.is_empty() {
            sql.push(" AND endpointid NOT IN (");
            for (i, e) in saturated.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(text(e));
            }
            sql.push(")");
        }
        sql.push(" ORDER BY ready_at, asyncoperationid LIMIT ")
            .bind(Param::Int(Some(limits.limit)));
        if pg {
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        let mut tx = self.begin().await?;
        let candidates = tx.conn().candidate_rows(&sql).await?;
        let chosen = limits.pick(&candidates);
        if chosen.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let mut sql = Sql::default();
        sql.push("UPDATE herald_job SET lease_owner = ")
            .bind(text(owner))
            .push(", lease_until = ")
            .bind(Param::Int(Some(now_ms + lease_ms)))
            .push(", attempts = attempts + 1 WHERE asyncoperationid IN (");
        for (i, id) in chosen.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(text(id));
        }
        // Re-checked so that a row leased meanwhile is never taken twice.
        sql.push(") AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::Int(Some(now_ms)))
            .push(") RETURNING asyncoperationid, endpointid, autodelete, attempts");
        let mut rows = tx.conn().claim_rows(&sql).await?;
        if !rows.is_empty() {
            // Ready jobs become In Progress (Locked / 20) in the same
            // transaction: one statement for the batch, not one per job.
            let mut mark = Sql::default();
            mark.push("UPDATE \"asyncoperation\" SET \"statecode\" = 2, \"statuscode\" = 20, \"startedon\" = ")
                .bind(Param::Int(Some(now_ms)))
                .push(" WHERE \"statecode\" = 0 AND \"asyncoperationid\" IN (");
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    mark.push(", ");
                }
                mark.bind(text(r.asyncoperation_id));
            }
            mark.push(")");
            tx.conn().execute(&mark).await?;
        }
        tx.commit().await?;
        // RETURNING has no order: keep the ready_at order of the candidates.
        rows.sort_by_key(|r| chosen.iter().position(|c| *c == r.asyncoperation_id));
        Ok(rows)
    }

    /// Delete succeeded System Jobs completed before `before_ms`, and the
    /// attempts of jobs that no longer exist. Returns the jobs deleted.
    pub async fn purge_succeeded_jobs(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::default();
        sql.push("DELETE FROM \"asyncoperation\" WHERE \"statuscode\" = 30 AND \"completedon\" < ")
            .bind(Param::Int(Some(before_ms)));
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
        sql.push("SELECT COUNT(*), MIN(ready_at) FROM herald_job WHERE ready_at <= ")
            .bind(Param::Int(Some(now_ms)));
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
            asyncoperation_id: Uuid::parse_str(&id)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
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
            asyncoperation_id: Uuid::parse_str(&id)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
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
    async fn candidate_rows(&mut self, sql: &Sql) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let parse = |s: String| Uuid::parse_str(&s).map_err(|e| StoreError::Invalid(e.to_string()));
        let mut out = Vec::new();
        match self {
            Conn::Sqlite(c) => {
                for r in crate::conn::bound_query(sql).fetch_all(&mut **c).await? {
                    out.push((parse(r.try_get(0)?)?, parse(r.try_get(1)?)?));
                }
            }
            Conn::Pg(c) => {
                for r in crate::conn::bound_query(sql).fetch_all(&mut **c).await? {
                    out.push((parse(r.try_get(0)?)?, parse(r.try_get(1)?)?));
                }
            }
        }
        Ok(out)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_keeps_ready_order_within_each_endpoints_share() {
        let (a, b, c) = (
            Uuid::from_u128(0xa),
            Uuid::from_u128(0xb),
            Uuid::from_u128(0xc),
        );
        let jobs: Vec<(Uuid, Uuid)> = [a, a, a, b, a, c, b]
            .iter()
            .enumerate()
            .map(|(i, e)| (Uuid::from_u128(i as u128 + 1), *e))
            .collect();
        let id = |i: u128| Uuid::from_u128(i);
        // Share 2, `a` already holds one slot: one more of `a`, then b, c, b.
        let limits = ClaimLimits {
            limit: 10,
            per_endpoint: 2,
            in_flight: HashMap::from([(a, 1)]),
        };
        assert_eq!(limits.pick(&jobs), vec![id(1), id(4), id(6), id(7)]);
        assert_eq!(limits.saturated(), Vec::<Uuid>::new());
        // The limit (free slots) cuts the list.
        let limits = ClaimLimits {
            limit: 2,
            per_endpoint: 2,
            in_flight: HashMap::new(),
        };
        assert_eq!(limits.pick(&jobs), vec![id(1), id(2)]);
        // A saturated endpoint is skipped altogether.
        let limits = ClaimLimits {
            limit: 10,
            per_endpoint: 2,
            in_flight: HashMap::from([(a, 2), (b, 1)]),
        };
        assert_eq!(limits.saturated(), vec![a]);
        assert_eq!(limits.pick(&jobs), vec![id(4), id(6)]);
        assert_eq!(
            ClaimLimits::unlimited(3).pick(&jobs),
            vec![id(1), id(2), id(3)]
        );
    }
}
