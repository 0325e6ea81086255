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

use herald_core::job::{JobPhase, JobState, JobStatus};
use sqlx::Row;
use uuid::Uuid;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::{Backend, Store, Tx};

/// The PostgreSQL LISTEN/NOTIFY channel that announces committed jobs.
pub const JOBS_CHANNEL: &str = "herald_jobs";

/// The queue of jobs still to run and the log of every HTTP attempt.
pub(crate) const DDL: &[&str] = &[
    // The queue of System Jobs still to run (asyncoperation holds the
    // history); a row leaves the queue when its job completes.
    "CREATE TABLE IF NOT EXISTS herald_job (
        asyncoperationid TEXT PRIMARY KEY,
        endpointid TEXT NOT NULL,
        ready_at BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT,
        autodelete BOOLEAN NOT NULL,
        attempts BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS ix_herald_job_ready ON herald_job (ready_at)",
    // Every HTTP attempt of every job.
    "CREATE TABLE IF NOT EXISTS herald_attempt (
        attemptid TEXT PRIMARY KEY,
        asyncoperationid TEXT NOT NULL,
        attempt BIGINT NOT NULL,
        startedon BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL,
        status BIGINT,
        error TEXT,
        response TEXT
    )",
    "CREATE INDEX IF NOT EXISTS ix_herald_attempt_job ON herald_attempt (asyncoperationid, attempt)",
];

/// The lease owner of a stopped job's queue entry (see [`Tx::stop_job`]).
pub const STOPPED: &str = "herald:stopped";

/// How many jobs one claim may take, and how a node shares what it holds
/// among endpoints (fairness).
///
/// `limit` is how many more jobs the node takes now. `in_flight` is what
/// each endpoint holds on this node (running, and claimed but waiting).
/// Each endpoint has a cap ([`EndpointCap`]: `per_endpoint` unless `caps`
/// says otherwise): an endpoint holding more than its `refill_at` is left
/// out of the claim, any other may be filled up to its cap. So one slow or
/// hanging endpoint holds at most its share, the jobs of every other
/// endpoint are still claimed, and an endpoint whose deliveries flow can
/// be given a deeper cap and refilled in batches. Within those caps jobs
/// are claimed oldest `ready_at` first.
#[derive(Debug, Clone)]
pub struct ClaimLimits {
    pub limit: i64,
    /// The cap of an endpoint not in `caps` (refilled as soon as it is
    /// below).
    pub per_endpoint: i64,
    pub caps: HashMap<Uuid, EndpointCap>,
    pub in_flight: HashMap<Uuid, i64>,
    /// Claim only jobs of these endpoints (the claimer knows no others
    /// have ready jobs); None: any endpoint.
    pub only: Option<Vec<Uuid>>,
}

/// How many jobs one endpoint may hold on a node, and at what level it is
/// refilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointCap {
    pub cap: i64,
    pub refill_at: i64,
}

impl ClaimLimits {
    /// At most `limit` jobs, no endpoint above `per_endpoint`.
    pub fn new(limit: i64, per_endpoint: i64, in_flight: HashMap<Uuid, i64>) -> ClaimLimits {
        ClaimLimits {
            limit,
            per_endpoint,
            caps: HashMap::new(),
            in_flight,
            only: None,
        }
    }

    /// No per-endpoint cap (every slot may go to one endpoint).
    pub fn unlimited(limit: i64) -> ClaimLimits {
        ClaimLimits::new(limit, i64::MAX, HashMap::new())
    }

    fn cap_of(&self, endpoint: &Uuid) -> EndpointCap {
        self.caps.get(endpoint).copied().unwrap_or(EndpointCap {
            cap: self.per_endpoint,
            refill_at: self.per_endpoint.saturating_sub(1),
        })
    }

    fn held(&self, endpoint: &Uuid) -> i64 {
        self.in_flight.get(endpoint).copied().unwrap_or(0)
    }

    /// Endpoints left out of this claim: they hold more than `refill_at`.
    pub fn saturated(&self) -> Vec<Uuid> {
        let mut v: Vec<Uuid> = self
            .in_flight
            .keys()
            .filter(|e| self.held(e) > self.cap_of(e).refill_at)
            .copied()
            .collect();
        v.sort();
        v
    }

    /// From candidates in `ready_at` order, the ones to claim: at most
    /// `limit`, and per endpoint at most what its cap has left.
    pub fn pick(&self, candidates: &[(Uuid, Uuid)]) -> Vec<Uuid> {
        let mut taken: HashMap<Uuid, i64> = HashMap::new();
        let mut out = Vec::new();
        for (job, endpoint) in candidates {
            if out.len() as i64 >= self.limit {
                break;
            }
            let held = self.held(endpoint);
            let cap = self.cap_of(endpoint);
            if held > cap.refill_at {
                continue;
            }
            let t = taken.entry(*endpoint).or_insert(0);
            if held + *t < cap.cap {
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
    /// Leased from the start (owner, until in ms): the writing node hands
    /// the job to its own workers without a claim. None: Ready for any node.
    pub lease: Option<(String, i64)>,
}

/// A job a worker now holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub asyncoperation_id: Uuid,
    pub endpoint_id: Uuid,
    pub autodelete: bool,
    /// Claims so far, this one included (1 on the first run).
    pub claims: i64,
    /// What the delivery needs of its asyncoperation row, read by the claim
    /// (None: the row was deleted while the job waited).
    pub row: Option<JobRow>,
}

/// What one claim took.
#[derive(Debug, Default)]
pub struct Claim {
    /// The jobs now leased to the claimer, oldest `ready_at` first.
    pub jobs: Vec<ClaimedJob>,
    /// No more jobs were ready beyond these (within the endpoints the
    /// claim did not leave out).
    pub exhausted: bool,
}

/// The parts of a claimed job's asyncoperation row that its delivery needs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// `statecode` (Ready when missing or unknown, as a row still to run).
    pub state: JobState,
    /// The serialized RemoteExecutionContext.
    pub data: String,
    pub primaryentitytype: String,
    /// `messagename` (None on rows written before the column existed).
    pub messagename: Option<String>,
    pub correlationid: Option<Uuid>,
    pub depth: i64,
}

/// The outcome of one run of a job, written by [`Tx::complete_jobs`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    pub asyncoperation_id: Uuid,
    /// The HTTP attempts of this run, numbered from 1 (renumbered after
    /// the attempts of earlier runs when written).
    pub attempts: Vec<AttemptRow>,
    pub row: OutcomeRow,
}

/// What happens to the asyncoperation row.
#[derive(Debug, Clone, PartialEq)]
pub enum OutcomeRow {
    /// A succeeded job of an asyncautodelete step: the row and its
    /// attempts go.
    Delete,
    /// Completed: the state and the fields Dataverse fills in.
    /// `versionnumber` goes up by one, `retrycount` by `retries`, and
    /// `modifiedon` becomes `completed_ms`.
    Update {
        /// The completed `statecode` / `statuscode`.
        phase: JobPhase,
        /// When this run started (`startedon`).
        started_ms: i64,
        completed_ms: i64,
        executiontimespan: i64,
        retries: i64,
        message: Option<String>,
        friendlymessage: Option<String>,
        errorcode: Option<i64>,
    },
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
        let insert = |sql: &mut Sql| {
            sql.push("INSERT INTO herald_job (asyncoperationid, endpointid, ready_at, lease_owner, lease_until, autodelete, attempts) VALUES (")
                .bind(text(job.asyncoperation_id))
                .push(", ")
                .bind(text(job.endpoint_id))
                .push(", ")
                .bind(Param::Int(Some(job.ready_at_ms)))
                .push(", ");
            match &job.lease {
                Some((owner, until)) => sql
                    .bind(text(owner))
                    .push(", ")
                    .bind(Param::Int(Some(*until)))
                    .push(", "),
                None => sql.push("NULL, NULL, "),
            };
            sql.bind(Param::Bool(Some(job.autodelete)))
                .push(if job.lease.is_some() { ", 1)" } else { ", 0)" });
        };
        if self.dialect() == crate::Dialect::Sqlite {
            // Sent with the job's asyncoperation row (see `Tx`).
            self.batch(insert);
            return Ok(());
        }
        let mut sql = Sql::default();
        insert(&mut sql);
        self.conn().await?.execute(&sql).await?;
        if job.lease.is_some() {
            // Already this node's: no other node needs waking.
            return Ok(());
        }
        // Delivered to every listening node at commit, dropped on rollback.
        self.conn()
            .await?
            .execute_raw(&format!("NOTIFY {JOBS_CHANNEL}"))
            .await?;
        Ok(())
    }

    /// Remove a job from the queue (completed or canceled).
    pub async fn dequeue_job(&mut self, id: Uuid) -> Result<u64, StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_job WHERE asyncoperationid = ")
            .bind(text(id));
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
            .bind(text(id))
            .push(" AND lease_until >= ")
            .bind(Param::Int(Some(now_ms)));
        let leased_until = self.conn().await?.fetch_i64(&sql).await?;
        self.dequeue_job(id).await?;
        self.enqueue_job(&NewJob {
            asyncoperation_id: id,
            endpoint_id: endpoint,
            ready_at_ms: leased_until.map_or(ready_at_ms, |l| ready_at_ms.max(l + 1)),
            autodelete,
            lease: None,
        })
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
            .bind(text(id))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::Int(Some(now_ms)))
            .push(")");
        if self.conn().await?.execute(&sql).await? == 0 {
            let mut sql = Sql::default();
            sql.push("UPDATE herald_job SET lease_owner = ")
                .bind(text(STOPPED))
                .push(" WHERE asyncoperationid = ")
                .bind(text(id));
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
            .bind(Param::Int(Some(until_ms)))
            .push(" WHERE asyncoperationid = ")
            .bind(text(id))
            .push(" AND lease_owner = ")
            .bind(text(owner));
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
            .bind(Param::Int(Some(started_ms)))
            .push(" WHERE \"statecode\" = ")
            .bind(JobState::Ready.into())
            .push(" AND \"asyncoperationid\" = ")
            .bind(text(id))
            .push(" AND EXISTS (SELECT 1 FROM herald_job j WHERE j.asyncoperationid = ")
            .bind(text(id))
            .push(" AND j.lease_owner = ")
            .bind(text(owner))
            .push(")");
        Ok(self.conn().await?.execute(&sql).await? > 0)
    }

    /// Give back claimed jobs that did not run (a stopping node's
    /// prefetched jobs): ready again at once for any node, the claim not
    /// counted.
    pub async fn release_jobs(&mut self, owner: &str, ids: &[Uuid]) -> Result<u64, StoreError> {
        let mut released = 0;
        for chunk in ids.chunks(COMPLETE_CHUNK) {
            let mut sql = Sql::default();
            sql.push("UPDATE herald_job SET lease_owner = NULL, lease_until = NULL, attempts = attempts - 1 WHERE lease_owner = ")
                .bind(text(owner))
                .push(" AND asyncoperationid IN (");
            push_ids(&mut sql, chunk.iter().copied());
            sql.push(")");
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

    /// Write the outcomes of finished jobs that `owner` still holds, a few
    /// statements for the whole batch: leave the queue (only where the
    /// lease is still ours), append the attempts after any earlier ones,
    /// update or delete the asyncoperation rows. Returns the jobs written;
    /// an outcome whose lease was lost is left to the new owner.
    pub async fn complete_jobs(
        &mut self,
        owner: &str,
        outcomes: &[JobOutcome],
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut held = Vec::new();
        for chunk in outcomes.chunks(COMPLETE_CHUNK) {
            held.extend(self.complete_chunk(owner, chunk).await?);
        }
        Ok(held)
    }

    async fn complete_chunk(
        &mut self,
        owner: &str,
        outcomes: &[JobOutcome],
    ) -> Result<Vec<Uuid>, StoreError> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_job WHERE lease_owner = ")
            .bind(text(owner))
            .push(" AND asyncoperationid IN (");
        push_ids(&mut sql, outcomes.iter().map(|o| o.asyncoperation_id));
        sql.push(") RETURNING asyncoperationid");
        let held: std::collections::HashSet<Uuid> = self
            .conn()
            .await?
            .fetch_ids(&sql)
            .await?
            .into_iter()
            .collect();
        let mine: Vec<&JobOutcome> = outcomes
            .iter()
            .filter(|o| held.contains(&o.asyncoperation_id))
            .collect();
        let (deleted, updated): (Vec<&JobOutcome>, Vec<&JobOutcome>) = mine
            .iter()
            .partition(|o| matches!(o.row, OutcomeRow::Delete));

        if !deleted.is_empty() {
            for table in ["\"asyncoperation\"", "herald_attempt"] {
                let mut sql = Sql::default();
                sql.push("DELETE FROM ")
                    .push(table)
                    .push(" WHERE asyncoperationid IN (");
                push_ids(&mut sql, deleted.iter().map(|o| o.asyncoperation_id));
                sql.push(")");
                self.conn().await?.execute(&sql).await?;
            }
        }

        let with_attempts: Vec<&&JobOutcome> =
            updated.iter().filter(|o| !o.attempts.is_empty()).collect();
        if !with_attempts.is_empty() {
            let mut sql = Sql::default();
            sql.push(
                "SELECT asyncoperationid, COUNT(*) FROM herald_attempt WHERE asyncoperationid IN (",
            );
            push_ids(&mut sql, with_attempts.iter().map(|o| o.asyncoperation_id));
            sql.push(") GROUP BY asyncoperationid");
            let earlier: HashMap<Uuid, i64> = self.conn().await?.id_counts(&sql).await?;
            let mut sql = Sql::default();
            sql.push("INSERT INTO herald_attempt (attemptid, asyncoperationid, attempt, startedon, duration_ms, status, error, response) VALUES ");
            let mut first = true;
            for o in &with_attempts {
                let offset = earlier.get(&o.asyncoperation_id).copied().unwrap_or(0);
                for a in &o.attempts {
                    if !first {
                        sql.push(", ");
                    }
                    first = false;
                    push_attempt(&mut sql, a, offset);
                }
            }
            self.conn().await?.execute(&sql).await?;
        }

        if !updated.is_empty() {
            // One UPDATE … FROM (VALUES …) for the batch; VALUES columns are
            // column1…column10 on both SQLite and PostgreSQL.
            let mut sql = Sql::default();
            sql.push("UPDATE \"asyncoperation\" SET \"statecode\" = v.column2, \"statuscode\" = v.column3, \"completedon\" = v.column4, \"modifiedon\" = v.column4, \"executiontimespan\" = v.column5, \"retrycount\" = COALESCE(\"retrycount\", 0) + v.column6, \"message\" = v.column7, \"friendlymessage\" = v.column8, \"errorcode\" = v.column9, \"startedon\" = v.column10, \"versionnumber\" = COALESCE(\"versionnumber\", 0) + 1 FROM (VALUES ");
            for (i, o) in updated.iter().enumerate() {
                let OutcomeRow::Update {
                    phase,
                    started_ms,
                    completed_ms,
                    executiontimespan,
                    retries,
                    message,
                    friendlymessage,
                    errorcode,
                } = &o.row
                else {
                    continue;
                };
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(text(o.asyncoperation_id))
                    .push(", ")
                    .bind(phase.state.into())
                    .push(", ")
                    .bind(phase.status.into())
                    .push(", ")
                    .bind(Param::Int(Some(*completed_ms)))
                    .push(", ")
                    .bind(Param::Int(Some(*executiontimespan)))
                    .push(", ")
                    .bind(Param::Int(Some(*retries)))
                    .push(", ")
                    .bind(Param::Text(message.clone()))
                    .push(", ")
                    .bind(Param::Text(friendlymessage.clone()))
                    .push(", ")
                    .bind(Param::Int(*errorcode))
                    .push(", ")
                    .bind(Param::Int(Some(*started_ms)))
                    .push(")");
            }
            sql.push(") AS v WHERE \"asyncoperation\".\"asyncoperationid\" = v.column1");
            self.conn().await?.execute(&sql).await?;
        }
        Ok(mine.iter().map(|o| o.asyncoperation_id).collect())
    }
}

/// Outcomes per round of statements in [`Tx::complete_jobs`]: 10
/// parameters per row updated and 8 per attempt (two per job), well under
/// SQLite's 32 766 and PostgreSQL's 65 535 bound parameters. (On SQLite
/// they are bound as anonymous `?`, see [`Sql::for_sqlite`].)
const COMPLETE_CHUNK: usize = 250;

fn push_ids(sql: &mut Sql, ids: impl Iterator<Item = Uuid>) {
    for (i, id) in ids.enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(text(id));
    }
}

fn push_attempt(sql: &mut Sql, a: &AttemptRow, offset: i64) {
    sql.push("(")
        .bind(text(Uuid::new_v4()))
        .push(", ")
        .bind(text(a.asyncoperation_id))
        .push(", ")
        .bind(Param::Int(Some(a.attempt + offset)))
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
    ) -> Result<Claim, StoreError> {
        if limits.limit <= 0 {
            return Ok(Claim::default());
        }
        let pg = matches!(self.backend, Backend::Postgres(_));
        let mut sql = Sql::default();
        sql.push("SELECT asyncoperationid, endpointid FROM herald_job WHERE ready_at <= ")
            .bind(Param::Int(Some(now_ms)))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::Int(Some(now_ms)))
            .push(")");
        if let Some(only) = &limits.only {
            if only.is_empty() {
                return Ok(Claim {
                    jobs: Vec::new(),
                    exhausted: true,
                });
            }
            sql.push(" AND endpointid IN (");
            push_ids(&mut sql, only.iter().copied());
            sql.push(")");
        }
        let saturated = limits.saturated();
        if !saturated.is_empty() {
            sql.push(" AND endpointid NOT IN (");
            push_ids(&mut sql, saturated.iter().copied());
            sql.push(")");
        }
        sql.push(" ORDER BY ready_at, asyncoperationid LIMIT ")
            .bind(Param::Int(Some(limits.limit)));
        if pg {
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        let mut tx = self.begin().await?;
        let candidates = tx.conn().await?.candidate_rows(&sql).await?;
        let exhausted = (candidates.len() as i64) < limits.limit;
        let chosen = limits.pick(&candidates);
        if chosen.is_empty() {
            tx.commit().await?;
            return Ok(Claim {
                jobs: Vec::new(),
                exhausted,
            });
        }
        let mut sql = Sql::default();
        sql.push("UPDATE herald_job SET lease_owner = ")
            .bind(text(owner))
            .push(", lease_until = ")
            .bind(Param::Int(Some(now_ms + lease_ms)))
            .push(", attempts = attempts + 1 WHERE asyncoperationid IN (");
        push_ids(&mut sql, chosen.iter().copied());
        // Re-checked so that a row leased meanwhile is never taken twice.
        sql.push(") AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::Int(Some(now_ms)))
            .push(") RETURNING asyncoperationid, endpointid, autodelete, attempts");
        let mut rows = tx.conn().await?.claim_rows(&sql).await?;
        if !rows.is_empty() {
            // The claim does not rewrite the asyncoperation rows: a job is
            // marked In Progress only when its delivery takes a while
            // ([`Tx::mark_in_progress`]), and its outcome writes startedon
            // with the rest. A delivery that answers at once thus costs
            // one rewrite of the row (with its ~5 KB context), not two.
            // And what their deliveries need, in the same round trip for
            // the batch instead of one read per job.
            let ids: Vec<Uuid> = rows.iter().map(|r| r.asyncoperation_id).collect();
            let mut found = tx.conn().await?.job_rows(&ids).await?;
            for r in &mut rows {
                r.row = found.remove(&r.asyncoperation_id);
            }
        }
        tx.commit().await?;
        // RETURNING has no order: keep the ready_at order of the candidates.
        rows.sort_by_key(|r| chosen.iter().position(|c| *c == r.asyncoperation_id));
        Ok(Claim {
            jobs: rows,
            exhausted,
        })
    }

    /// Delete succeeded System Jobs completed before `before_ms`, and the
    /// attempts of jobs that no longer exist. Returns the jobs deleted.
    pub async fn purge_succeeded_jobs(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::default();
        sql.push("DELETE FROM \"asyncoperation\" WHERE \"statuscode\" = ")
            .bind(JobStatus::Succeeded.into())
            .push(" AND \"completedon\" < ")
            .bind(Param::Int(Some(before_ms)));
        let n = tx.conn().await?.execute(&sql).await?;
        if n > 0 {
            tx.conn().await?
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
            row: None,
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

macro_rules! job_row {
    ($r:expr) => {{
        let id: String = $r.try_get(0)?;
        let correlation: Option<String> = $r.try_get(5)?;
        (
            parse_uuid(&id)?,
            JobRow {
                state: $r
                    .try_get::<Option<i64>, _>(1)?
                    .and_then(JobState::from_code)
                    .unwrap_or(JobState::Ready),
                data: $r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                primaryentitytype: $r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                messagename: $r.try_get(4)?,
                correlationid: correlation.and_then(|c| Uuid::parse_str(&c).ok()),
                depth: $r.try_get::<Option<i64>, _>(6)?.unwrap_or(1),
            },
        )
    }};
}

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Invalid(e.to_string()))
}

impl Conn<'_> {
    /// The delivery fields of these asyncoperation rows.
    async fn job_rows(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, JobRow>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT \"asyncoperationid\", \"statecode\", \"data\", \"primaryentitytype\", \"messagename\", \"correlationid\", \"depth\" FROM \"asyncoperation\" WHERE \"asyncoperationid\" IN (");
        push_ids(&mut sql, ids.iter().copied());
        sql.push(")");
        let mut out = HashMap::new();
        match self {
            Conn::Sqlite(c) => {
                for r in crate::conn::bound_query_text(&sql.sqlite_text(), &sql)
                    .fetch_all(&mut **c)
                    .await?
                {
                    let (id, row) = job_row!(r);
                    out.insert(id, row);
                }
            }
            Conn::Pg(c) => {
                for r in crate::conn::bound_query(&sql).fetch_all(&mut **c).await? {
                    let (id, row) = job_row!(r);
                    out.insert(id, row);
                }
            }
        }
        Ok(out)
    }

    /// The ids a statement returns in its first column.
    async fn fetch_ids(&mut self, sql: &Sql) -> Result<Vec<Uuid>, StoreError> {
        Ok(self
            .id_counts_or_ids(sql, false)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// `(id, count)` pairs of a grouped count.
    async fn id_counts(&mut self, sql: &Sql) -> Result<HashMap<Uuid, i64>, StoreError> {
        Ok(self
            .id_counts_or_ids(sql, true)
            .await?
            .into_iter()
            .collect())
    }

    async fn id_counts_or_ids(
        &mut self,
        sql: &Sql,
        counted: bool,
    ) -> Result<Vec<(Uuid, i64)>, StoreError> {
        let mut out = Vec::new();
        match self {
            Conn::Sqlite(c) => {
                for r in crate::conn::bound_query_text(&sql.sqlite_text(), sql)
                    .fetch_all(&mut **c)
                    .await?
                {
                    let n = if counted { r.try_get::<i64, _>(1)? } else { 0 };
                    out.push((parse_uuid(&r.try_get::<String, _>(0)?)?, n));
                }
            }
            Conn::Pg(c) => {
                for r in crate::conn::bound_query(sql).fetch_all(&mut **c).await? {
                    let n = if counted { r.try_get::<i64, _>(1)? } else { 0 };
                    out.push((parse_uuid(&r.try_get::<String, _>(0)?)?, n));
                }
            }
        }
        Ok(out)
    }

    async fn candidate_rows(&mut self, sql: &Sql) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let parse = |s: String| parse_uuid(&s);
        let mut out = Vec::new();
        match self {
            Conn::Sqlite(c) => {
                for r in crate::conn::bound_query_text(&sql.sqlite_text(), sql)
                    .fetch_all(&mut **c)
                    .await?
                {
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
                for r in crate::conn::bound_query_text(&sql.sqlite_text(), sql)
                    .fetch_all(&mut **c)
                    .await?
                {
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
        let limits = ClaimLimits::new(10, 2, HashMap::from([(a, 1)]));
        assert_eq!(limits.pick(&jobs), vec![id(1), id(4), id(6), id(7)]);
        assert_eq!(limits.saturated(), Vec::<Uuid>::new());
        // The limit (free slots) cuts the list.
        let limits = ClaimLimits::new(2, 2, HashMap::new());
        assert_eq!(limits.pick(&jobs), vec![id(1), id(2)]);
        // A saturated endpoint is skipped altogether.
        let limits = ClaimLimits::new(10, 2, HashMap::from([(a, 2), (b, 1)]));
        assert_eq!(limits.saturated(), vec![a]);
        assert_eq!(limits.pick(&jobs), vec![id(4), id(6)]);
        assert_eq!(
            ClaimLimits::unlimited(3).pick(&jobs),
            vec![id(1), id(2), id(3)]
        );
        // Refill hysteresis: cap 4, refilled only at 1 or less. `a` holds
        // 2 (left out), `b` holds 1 (filled up to 4: both of its jobs), `c`
        // has the default cap 2.
        let deep = EndpointCap {
            cap: 4,
            refill_at: 1,
        };
        let mut limits = ClaimLimits::new(10, 2, HashMap::from([(a, 2), (b, 1)]));
        limits.caps = HashMap::from([(a, deep), (b, deep)]);
        assert_eq!(limits.saturated(), vec![a]);
        assert_eq!(limits.pick(&jobs), vec![id(4), id(6), id(7)]);
    }
}
