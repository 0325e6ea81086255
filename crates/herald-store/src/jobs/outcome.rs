//! Writing what a run of a job did: its asyncoperation row (completed, or
//! deleted for an autodelete step that succeeded) and its HTTP attempts,
//! for a whole batch of finished jobs in a few statements, and only where
//! the writing node still holds the lease. Also the purge of old succeeded
//! jobs.

use std::collections::HashSet;

use herald_core::job::{JobPhase, JobStatus};
use sqlx::Row;
use uuid::Uuid;

use super::rows::AttemptRow;
use super::{push_in, CHUNK};
use crate::conn::{conn_rows, Conn};
use crate::error::StoreError;
use crate::read::uuid;
use crate::sql::{Param, Sql};
use crate::{Dialect, Store, Tx};

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

impl Store {
    /// Write the outcomes of finished jobs that `owner` still holds, in
    /// one transaction of a few statements for the whole batch: append the
    /// attempts after any earlier ones, update or delete the asyncoperation
    /// rows, and leave the queue — only where the queue entry is still
    /// leased to `owner`; an outcome whose lease was lost is left to the
    /// new owner.
    ///
    /// On SQLite the statements are one batch, each checking the lease
    /// itself (`EXISTS` on the queue entry, which the last statement then
    /// deletes), handed to the writer whole and committed with the writes
    /// around it (`group`): one hand-off to the connection's thread for
    /// the batch. With a hand-off per statement (reading back which
    /// leases were held, then writing) the writer connection spent most
    /// of a drain waiting for this task to be polled again between
    /// statements, with every other write queued behind it. On PostgreSQL
    /// the queue entries are deleted first (`RETURNING` the held ones),
    /// then the rest is written for those. (The SQLite batch as one
    /// PostgreSQL statement of data-modifying `WITH`s saved the round trips
    /// but drained no faster and cost PostgreSQL ~10 % more CPU, which
    /// several nodes share: measured at stop 25 and dropped.)
    pub async fn complete_jobs(
        &self,
        owner: &str,
        outcomes: &[JobOutcome],
    ) -> Result<(), StoreError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        match self.dialect() {
            Dialect::Sqlite => {
                let mut tx = self.begin_grouped().await?;
                for chunk in outcomes.chunks(CHUNK) {
                    tx.batch_sqlite_outcomes(owner, chunk).await?;
                }
                tx.commit().await
            }
            Dialect::Postgres => {
                let mut tx = self.begin().await?;
                tx.prefer_custom_plans(super::Sorts::Allowed).await?;
                for chunk in outcomes.chunks(CHUNK) {
                    tx.complete_pg_chunk(owner, chunk).await?;
                }
                tx.commit().await
            }
        }
    }
}

/// The statement's rows go only where `owner` still holds the queue entry
/// of the job whose id is `id_column` (SQLite's batched outcomes).
fn push_held(sql: &mut Sql, id_column: &str, owner: &str) {
    sql.push(" AND EXISTS (SELECT 1 FROM herald_job j WHERE j.asyncoperationid = ")
        .push(id_column)
        .push(" AND j.lease_owner = ")
        .bind(Param::text(owner))
        .push(")");
}

impl Tx {
    async fn batch_sqlite_outcomes(
        &mut self,
        owner: &str,
        outcomes: &[JobOutcome],
    ) -> Result<(), StoreError> {
        let dialect = Dialect::Sqlite;
        let (deleted, updated): (Vec<&JobOutcome>, Vec<&JobOutcome>) = outcomes
            .iter()
            .partition(|o| matches!(o.row, OutcomeRow::Delete));
        if let Some(attempts) = attempts_sql(dialect, &updated) {
            self.batch(|sql| {
                *sql = attempts;
                push_held(sql, "v.column2", owner);
            })
            .await?;
        }
        if let Some(update) = update_sql(dialect, &updated) {
            self.batch(|sql| {
                *sql = update;
                push_held(sql, "v.column1", owner);
            })
            .await?;
        }
        if !deleted.is_empty() {
            for table in JOB_TABLES {
                self.batch(|sql| {
                    *sql = delete_sql(table, dialect, &deleted);
                    push_held(sql, &format!("{table}.asyncoperationid"), owner);
                })
                .await?;
            }
        }
        // Last: the statements above check the lease on these entries.
        self.batch(|sql| *sql = dequeue_sql(owner, dialect, outcomes))
            .await
    }

    async fn complete_pg_chunk(
        &mut self,
        owner: &str,
        outcomes: &[JobOutcome],
    ) -> Result<(), StoreError> {
        let dialect = self.dialect();
        let mut sql = dequeue_sql(owner, dialect, outcomes);
        sql.push(" RETURNING asyncoperationid");
        let held: HashSet<Uuid> = self
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
        if mine.len() < outcomes.len() {
            tracing::debug!(
                lost = outcomes.len() - mine.len(),
                "leases lost before completion; leaving those outcomes to their new owners"
            );
        }
        let (deleted, updated): (Vec<&JobOutcome>, Vec<&JobOutcome>) = mine
            .iter()
            .partition(|o| matches!(o.row, OutcomeRow::Delete));

        if !deleted.is_empty() {
            for table in JOB_TABLES {
                let sql = delete_sql(table, dialect, &deleted);
                self.conn().await?.execute(&sql).await?;
            }
        }
        if let Some(sql) = attempts_sql(dialect, &updated) {
            self.conn().await?.execute(&sql).await?;
        }
        if let Some(sql) = update_sql(dialect, &updated) {
            self.conn().await?.execute(&sql).await?;
        }
        Ok(())
    }
}

/// The tables that hold a job besides its queue entry, emptied of an
/// autodelete job that succeeded.
const JOB_TABLES: [&str; 3] = ["\"asyncoperation\"", "herald_job_payload", "herald_attempt"];

/// The DELETE of `jobs` from `table` (one of [`JOB_TABLES`]).
fn delete_sql(table: &str, dialect: Dialect, jobs: &[&JobOutcome]) -> Sql {
    let mut sql = Sql::default();
    sql.push("DELETE FROM ").push(table).push(" WHERE ");
    push_in(
        &mut sql,
        dialect,
        "asyncoperationid",
        false,
        jobs.iter().map(|o| o.asyncoperation_id),
    );
    sql
}

/// The DELETE of the queue entries of `outcomes` that `owner` holds.
fn dequeue_sql(owner: &str, dialect: Dialect, outcomes: &[JobOutcome]) -> Sql {
    let mut sql = Sql::default();
    sql.push("DELETE FROM herald_job WHERE lease_owner = ")
        .bind(Param::text(owner))
        .push(" AND ");
    push_in(
        &mut sql,
        dialect,
        "asyncoperationid",
        false,
        outcomes.iter().map(|o| o.asyncoperation_id),
    );
    sql
}

/// The INSERT of the attempts of `updated` (None: they have none).
///
/// Numbered after the job's earlier attempts (a job run again after its
/// lease ran out, retried or resumed) by a subquery per row that reads
/// the last of them from the end of the (asyncoperationid, attempt)
/// index: a COUNT over all the batch's ids, planned without statistics on
/// herald_attempt (PostgreSQL with autovacuum off, or not yet run), was a
/// scan of the whole table for every batch. Both stores compute the
/// subquery before inserting the rows. Ends in a `WHERE` a caller may
/// extend with `AND …`.
fn attempts_sql(dialect: Dialect, updated: &[&JobOutcome]) -> Option<Sql> {
    let rows: Vec<Vec<Param>> = updated
        .iter()
        .flat_map(|o| o.attempts.iter().map(attempt_row))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut sql = Sql::default();
    sql.push("INSERT INTO herald_attempt (attemptid, asyncoperationid, attempt, startedon, duration_ms, status, error, response) SELECT v.column1, v.column2, v.column3 + COALESCE((SELECT MAX(h.attempt) FROM herald_attempt h WHERE h.asyncoperationid = v.column2), 0), v.column4, v.column5, v.column6, v.column7, v.column8 FROM ");
    push_rows(&mut sql, dialect, &ATTEMPT_TYPES, rows);
    sql.push(" WHERE TRUE");
    Some(sql)
}

/// The UPDATE of the asyncoperation rows of `updated`, one `UPDATE … FROM
/// <rows>` for the batch (`push_rows`); None when there are none. Ends in
/// a `WHERE` a caller may extend with `AND …`.
fn update_sql(dialect: Dialect, updated: &[&JobOutcome]) -> Option<Sql> {
    let rows: Vec<Vec<Param>> = updated
        .iter()
        .filter_map(|o| match &o.row {
            OutcomeRow::Update {
                phase,
                started_ms,
                completed_ms,
                executiontimespan,
                retries,
                message,
                friendlymessage,
                errorcode,
            } => Some(vec![
                Param::text(o.asyncoperation_id),
                phase.state.into(),
                phase.status.into(),
                Param::int(*completed_ms),
                Param::int(*executiontimespan),
                Param::int(*retries),
                Param::Text(message.clone()),
                Param::Text(friendlymessage.clone()),
                Param::Int(*errorcode),
                Param::int(*started_ms),
            ]),
            OutcomeRow::Delete => None,
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut sql = Sql::default();
    sql.push("UPDATE \"asyncoperation\" SET \"statecode\" = v.column2, \"statuscode\" = v.column3, \"completedon\" = v.column4, \"modifiedon\" = v.column4, \"executiontimespan\" = v.column5, \"retrycount\" = COALESCE(\"retrycount\", 0) + v.column6, \"message\" = v.column7, \"friendlymessage\" = v.column8, \"errorcode\" = v.column9, \"startedon\" = v.column10, \"versionnumber\" = COALESCE(\"versionnumber\", 0) + 1 FROM ");
    push_rows(&mut sql, dialect, &UPDATE_TYPES, rows);
    sql.push(" WHERE \"asyncoperation\".\"asyncoperationid\" = v.column1");
    Some(sql)
}

/// PostgreSQL types of the outcome rows' columns (column1…column10 of
/// `push_rows`): id, statecode, statuscode, completedon, executiontimespan,
/// retries, message, friendlymessage, errorcode, startedon.
const UPDATE_TYPES: [&str; 10] = [
    "text", "bigint", "bigint", "bigint", "bigint", "bigint", "text", "text", "bigint", "bigint",
];

/// The same for attempt rows: attemptid, asyncoperationid, attempt,
/// startedon, duration_ms, status, error, response.
const ATTEMPT_TYPES: [&str; 8] = [
    "text", "text", "bigint", "bigint", "bigint", "bigint", "text", "text",
];

/// `rows` as a row source `v` with columns `column1…columnN`.
///
/// On SQLite `(VALUES (…), …) AS v`. On PostgreSQL
/// `json_to_recordset($n::json) AS v(column1 text, …)`: every row in ONE
/// json parameter, so that the statement's text is the same whatever the
/// batch size and one prepared statement serves every batch (see
/// `jobs::push_in` for why that matters with sqlx's statement cache).
fn push_rows(sql: &mut Sql, dialect: Dialect, types: &[&str], rows: Vec<Vec<Param>>) {
    match dialect {
        Dialect::Sqlite => {
            sql.push("(VALUES ");
            for (i, row) in rows.into_iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(").bind_list(row).push(")");
            }
            sql.push(") AS v");
        }
        Dialect::Postgres => {
            let json: Vec<serde_json::Value> = rows
                .into_iter()
                .map(|row| {
                    let object: serde_json::Map<String, serde_json::Value> = row
                        .into_iter()
                        .enumerate()
                        .map(|(i, p)| (format!("column{}", i + 1), param_json(p)))
                        .collect();
                    serde_json::Value::Object(object)
                })
                .collect();
            let columns: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(i, t)| format!("column{} {t}", i + 1))
                .collect();
            sql.push("json_to_recordset(")
                .bind(Param::Text(Some(
                    serde_json::Value::Array(json).to_string(),
                )))
                .push("::json) AS v(")
                .push(&columns.join(", "))
                .push(")");
        }
    }
}

fn param_json(p: Param) -> serde_json::Value {
    use serde_json::Value as J;
    match p {
        Param::Text(v) => v.map_or(J::Null, J::String),
        Param::Int(v) => v.map_or(J::Null, J::from),
        Param::Real(v) => v.map_or(J::Null, J::from),
        Param::Bool(v) => v.map_or(J::Null, J::Bool),
    }
}

/// One attempt as a row, numbered within its run (the INSERT adds the
/// job's earlier attempts).
fn attempt_row(a: &AttemptRow) -> Vec<Param> {
    vec![
        // Time-ordered, so a batch's attempts are appended to the key's
        // index rather than spread over it.
        Param::text(Uuid::now_v7()),
        Param::text(a.asyncoperation_id),
        Param::int(a.attempt),
        Param::int(a.started_ms),
        Param::int(a.duration_ms),
        Param::Int(a.status),
        Param::Text(a.error.clone()),
        Param::Text(a.response.clone()),
    ]
}

impl Store {
    /// Delete succeeded System Jobs completed before `before_ms`, and the
    /// attempts and payloads of jobs that no longer exist. Returns the jobs deleted.
    pub async fn purge_succeeded_jobs(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::default();
        sql.push("DELETE FROM \"asyncoperation\" WHERE \"statuscode\" = ")
            .bind(JobStatus::Succeeded.into())
            .push(" AND \"completedon\" < ")
            .bind(Param::int(before_ms));
        let n = tx.conn().await?.execute(&sql).await?;
        if n > 0 {
            for table in ["herald_attempt", "herald_job_payload"] {
                tx.conn()
                    .await?
                    .execute_raw(&format!("DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM \"asyncoperation\" a WHERE a.\"asyncoperationid\" = {table}.asyncoperationid)"))
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(n)
    }
}

impl Conn<'_> {
    /// The ids a statement returns in its first column.
    async fn fetch_ids(&mut self, sql: &Sql) -> Result<Vec<Uuid>, StoreError> {
        Ok(conn_rows!(self, sql, |r| uuid(r.try_get(0)?)?))
    }
}
