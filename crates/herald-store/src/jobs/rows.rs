//! What is read back of a job's rows: the fields of its asyncoperation row
//! that a delivery needs ([`JobRow`], read by the claim) and its logged
//! HTTP attempts ([`AttemptRow`], written by the outcome, listed by the
//! console and the API).

use std::collections::HashMap;

use herald_core::job::JobState;
use sqlx::Row;
use uuid::Uuid;

use super::push_in;
use crate::conn::{conn_rows, Conn};
use crate::error::StoreError;
use crate::read::{rows, uuid};
use crate::sql::{Param, Sql};
use crate::Store;

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

impl Conn<'_> {
    /// The delivery fields of these asyncoperation rows.
    pub(super) async fn job_rows(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, JobRow>, StoreError> {
        let mut sql = Sql::default();
        // The context from its payload row (`payload`), or from the row
        // itself for jobs written before payloads had their own table.
        sql.push("SELECT a.\"asyncoperationid\", a.\"statecode\", COALESCE(p.data, a.\"data\"), a.\"primaryentitytype\", a.\"messagename\", a.\"correlationid\", a.\"depth\" FROM \"asyncoperation\" a LEFT JOIN herald_job_payload p ON p.asyncoperationid = a.\"asyncoperationid\" WHERE ");
        let dialect = match self {
            Conn::Pg(_) => crate::Dialect::Postgres,
            Conn::Sqlite(_) => crate::Dialect::Sqlite,
        };
        push_in(
            &mut sql,
            dialect,
            "a.\"asyncoperationid\"",
            false,
            ids.iter().copied(),
        );
        Ok(conn_rows!(self, &sql, |r| {
            let correlation: Option<String> = r.try_get(5)?;
            (
                uuid(r.try_get(0)?)?,
                JobRow {
                    state: r
                        .try_get::<Option<i64>, _>(1)?
                        .and_then(JobState::from_code)
                        .unwrap_or(JobState::Ready),
                    data: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                    primaryentitytype: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                    messagename: r.try_get(4)?,
                    correlationid: correlation.and_then(|c| Uuid::parse_str(&c).ok()),
                    depth: r.try_get::<Option<i64>, _>(6)?.unwrap_or(1),
                },
            )
        })
        .into_iter()
        .collect())
    }
}

impl Store {
    /// The attempts of one job, oldest first.
    pub async fn attempts(&self, job: Uuid) -> Result<Vec<AttemptRow>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT asyncoperationid, attempt, startedon, duration_ms, status, error, response FROM herald_attempt WHERE asyncoperationid = ")
            .bind(Param::text(job))
            .push(" ORDER BY attempt, startedon");
        Ok(rows!(self, &sql, |r| AttemptRow {
            asyncoperation_id: uuid(r.try_get(0)?)?,
            attempt: r.try_get(1)?,
            started_ms: r.try_get(2)?,
            duration_ms: r.try_get(3)?,
            status: r.try_get(4)?,
            error: r.try_get(5)?,
            response: r.try_get(6)?,
        }))
    }
}
