//! The queue itself: putting a job in (with its write, or again after a
//! retry or resume), taking it out (canceled, paused, gone), the leases of
//! the node running it, marking a slow delivery In Progress, and how deep
//! the queue is.

use herald_core::job::{JobPhase, JobState};
use sqlx::Row;
use uuid::Uuid;

use super::{push_in, CHUNK, STOPPED};
use crate::error::StoreError;
use crate::read::rows;
use crate::sql::{Param, Sql};
use crate::{Dialect, Store, Tx};

/// A lease on a queued job: who holds it, and until when (ms, store clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until_ms: i64,
}

/// A job to enqueue with its asyncoperation row.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub asyncoperation_id: Uuid,
    pub endpoint_id: Uuid,
    pub ready_at_ms: i64,
    pub autodelete: bool,
    /// Leased from the start: the writing node hands the job to its own
    /// workers without a claim. None: Ready for any node.
    pub lease: Option<Lease>,
}

impl NewJob {
    /// A job for `endpoint_id`, due at `ready_at_ms`, Ready for any node.
    pub fn ready(
        asyncoperation_id: Uuid,
        endpoint_id: Uuid,
        ready_at_ms: i64,
        autodelete: bool,
    ) -> NewJob {
        NewJob {
            asyncoperation_id,
            endpoint_id,
            ready_at_ms,
            autodelete,
            lease: None,
        }
    }

    /// The same job leased from the start (when `lease` is some).
    pub fn leased(mut self, lease: Option<Lease>) -> NewJob {
        self.lease = lease;
        self
    }
}

impl Tx {
    pub async fn enqueue_job(&mut self, job: &NewJob) -> Result<(), StoreError> {
        let insert = |sql: &mut Sql| {
            sql.push("INSERT INTO herald_job (asyncoperationid, endpointid, ready_at, lease_owner, lease_until, autodelete, attempts) VALUES (")
                .bind(Param::text(job.asyncoperation_id))
                .push(", ")
                .bind(Param::text(job.endpoint_id))
                .push(", ")
                .bind(Param::int(job.ready_at_ms))
                .push(", ");
            match &job.lease {
                Some(lease) => sql
                    .bind(Param::text(&lease.owner))
                    .push(", ")
                    .bind(Param::int(lease.until_ms))
                    .push(", "),
                None => sql.push("NULL, NULL, "),
            };
            sql.bind(Param::Bool(Some(job.autodelete)))
                .push(if job.lease.is_some() { ", 1)" } else { ", 0)" });
        };
        // Sent with the job's asyncoperation row (see `Tx`).
        self.batch(insert).await?;
        if self.dialect() == Dialect::Postgres && job.lease.is_none() {
            // Delivered to every listening node at commit, dropped on
            // rollback. A leased job is already this node's: no other node
            // needs waking.
            self.notify_jobs();
        }
        Ok(())
    }

    /// Remove a job from the queue (completed or canceled).
    pub async fn dequeue_job(&mut self, id: Uuid) -> Result<u64, StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_job WHERE asyncoperationid = ")
            .bind(Param::text(id));
        self.conn().await?.execute(&sql).await
    }

    /// Put a job (back) in the queue, ready at `ready_at_ms` — but never
    /// before a lease on its old queue entry ends: a delivery of it may
    /// still be running (canceled or paused meanwhile), and one job never
    /// runs twice at once.
    pub async fn requeue_job(
        &mut self,
        id: Uuid,
        endpoint: Uuid,
        ready_at_ms: i64,
        autodelete: bool,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT lease_until FROM herald_job WHERE asyncoperationid = ")
            .bind(Param::text(id))
            .push(" AND lease_until >= ")
            .bind(Param::int(now_ms));
        let leased_until = self.conn().await?.fetch_i64(&sql).await?;
        self.dequeue_job(id).await?;
        let ready_at_ms = leased_until.map_or(ready_at_ms, |l| ready_at_ms.max(l + 1));
        self.enqueue_job(&NewJob::ready(id, endpoint, ready_at_ms, autodelete))
            .await
    }

    /// Take a job out of the queue (canceled or paused). If a node holds
    /// its lease (a delivery may be running), the entry stays, owned by
    /// nobody ([`STOPPED`]) until that lease ends: the running delivery can
    /// no longer write its outcome, and a retry or resume meanwhile waits
    /// for the lease (see [`Tx::requeue_job`]). An expired entry is
    /// claimed once more and dropped, its row being no longer Ready.
    pub async fn stop_job(&mut self, id: Uuid, now_ms: i64) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_job WHERE asyncoperationid = ")
            .bind(Param::text(id))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::int(now_ms))
            .push(")");
        if self.conn().await?.execute(&sql).await? == 0 {
            let mut sql = Sql::default();
            sql.push("UPDATE herald_job SET lease_owner = ")
                .bind(Param::text(STOPPED))
                .push(" WHERE asyncoperationid = ")
                .bind(Param::text(id));
            self.conn().await?.execute(&sql).await?;
        }
        Ok(())
    }

    /// Extend `owner`'s lease of a job to `until_ms`; false when the lease
    /// was lost (another node took the job over).
    pub async fn renew_lease(
        &mut self,
        id: Uuid,
        owner: &str,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::default();
        sql.push("UPDATE herald_job SET lease_until = ")
            .bind(Param::int(until_ms))
            .push(" WHERE asyncoperationid = ")
            .bind(Param::text(id))
            .push(" AND lease_owner = ")
            .bind(Param::text(owner));
        Ok(self.conn().await?.execute(&sql).await? > 0)
    }

    /// Mark a job In Progress ([`JobPhase::IN_PROGRESS`]) from
    /// `started_ms`, if it is still Waiting and `owner` holds its lease.
    /// Used for deliveries that have not finished after a moment (see
    /// `claim_jobs`); false if nothing was marked.
    pub async fn mark_in_progress(
        &mut self,
        id: Uuid,
        owner: &str,
        started_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::default();
        sql.push("UPDATE \"asyncoperation\" SET \"statecode\" = ")
            .bind(JobPhase::IN_PROGRESS.state.into())
            .push(", \"statuscode\" = ")
            .bind(JobPhase::IN_PROGRESS.status.into())
            .push(", \"startedon\" = ")
            .bind(Param::int(started_ms))
            .push(" WHERE \"statecode\" = ")
            .bind(JobState::Ready.into())
            .push(" AND \"asyncoperationid\" = ")
            .bind(Param::text(id))
            .push(" AND EXISTS (SELECT 1 FROM herald_job j WHERE j.asyncoperationid = ")
            .bind(Param::text(id))
            .push(" AND j.lease_owner = ")
            .bind(Param::text(owner))
            .push(")");
        Ok(self.conn().await?.execute(&sql).await? > 0)
    }

    /// Give back claimed jobs that did not run (a stopping node's
    /// prefetched jobs): ready again at once for any node, the claim not
    /// counted.
    pub async fn release_jobs(&mut self, owner: &str, ids: &[Uuid]) -> Result<u64, StoreError> {
        self.prefer_custom_plans(super::Sorts::Allowed).await?;
        let mut released = 0;
        for chunk in ids.chunks(CHUNK) {
            let mut sql = Sql::default();
            sql.push("UPDATE herald_job SET lease_owner = NULL, lease_until = NULL, attempts = attempts - 1 WHERE lease_owner = ")
                .bind(Param::text(owner))
                .push(" AND ");
            push_in(
                &mut sql,
                self.dialect(),
                "asyncoperationid",
                false,
                chunk.iter().copied(),
            );
            released += self.conn().await?.execute(&sql).await?;
        }
        Ok(released)
    }

    /// Drop every lease (SQLite at start-up: one process owns a SQLite
    /// file, so leases left in it belong to a process that died). Their
    /// jobs run again at once instead of after the lease expires.
    pub async fn release_all_leases(&mut self) -> Result<u64, StoreError> {
        self.conn().await?
            .execute_raw("UPDATE herald_job SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")
            .await
    }
}

impl Store {
    /// How many jobs wait and since when (ms of the oldest ready_at).
    pub async fn queue_depth(&self, now_ms: i64) -> Result<(i64, Option<i64>), StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*), MIN(ready_at) FROM herald_job WHERE ready_at <= ")
            .bind(Param::int(now_ms));
        // An aggregate without GROUP BY: always one row.
        rows!(self, &sql, |r| (r.try_get(0)?, r.try_get(1)?))
            .into_iter()
            .next()
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }
}
