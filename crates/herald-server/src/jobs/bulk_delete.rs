//! `BulkDelete` as Dataverse runs it: a System Job (`asyncoperation` of
//! operation type 13, "Bulk Delete") beside a `bulkdeleteoperation` row
//! that carries its progress (`successcount`, `failurecount`) and outcome.
//! [`submit`] checks the request (every QueryExpression must bind, see
//! `herald_core::query_expression`), writes both rows in one transaction
//! and starts the job; [`run`] deletes the matching records one by one
//! through the normal write pipeline — so Delete steps fire for each
//! record, exactly as for a single DELETE — walking each query by primary
//! id so a record whose delete fails is counted once and passed over.
//!
//! The job's `data` keeps the request's QuerySet, so a job interrupted by
//! a stop is picked up again at the next start ([`resume`]); records
//! already deleted are simply no longer matched. Exactly one node runs a
//! job: the job holds a lease in the queue table (see
//! `herald_store::jobs::held`), taken by the submitting node in the
//! submit's transaction and renewed while it runs; a node resumes a job
//! only by claiming that lease — at start, or later when the lease of a
//! node that died expires — so nodes sharing a PostgreSQL database never
//! run one bulk delete twice. Cancel (from the console
//! or the Web API) is seen between batches. A recurring bulk delete
//! (`RecurrencePattern`) is refused; e-mail notification is accepted and
//! not sent (herald sends no e-mail).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::job::{JobPhase, JobState};
use herald_core::query::{ColumnRef, CompareOp, Condition, Order};
use herald_core::query_expression;
use herald_core::value::parse_datetime;
use herald_core::{Query, Value};
use herald_store::{Lease, StoreError};
use serde_json::{json, Value as Json};
use uuid::Uuid;

use crate::pipeline::{self, Message, Operation, PipelineError};
use crate::state::{AppState, SharedState};

/// `asyncoperation.operationtype` of a bulk delete.
pub const OPERATION_TYPE_BULK_DELETE: i64 = 13;

/// Records read (and deleted) per batch; progress is written after each.
const BATCH: u64 = 100;

/// Failures whose messages the job keeps.
const KEPT_FAILURES: usize = 5;

/// Why a BulkDelete request was refused, or a job could not run.
#[derive(Debug, thiserror::Error)]
pub enum BulkDeleteError {
    /// The request is not one herald can run (a 400).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
    /// Another node took the job's lease over (this node was too slow to
    /// renew it): that node runs it now, this one stops without a word.
    #[error("the lease of the bulk delete was lost")]
    LeaseLost,
}

fn invalid<T>(message: impl Into<String>) -> Result<T, BulkDeleteError> {
    Err(BulkDeleteError::Invalid(message.into()))
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct BulkDeleteRequest {
    /// The QueryExpressions as sent (kept in the job's `data`).
    pub query_set: Vec<Json>,
    /// Each bound to a query of primary ids.
    pub queries: Vec<Query>,
    pub job_name: String,
    pub start: Option<DateTime<Utc>>,
}

fn field<'a>(obj: &'a serde_json::Map<String, Json>, name: &str) -> Option<&'a Json> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// Check a BulkDelete body against the schema.
pub fn parse_request(state: &AppState, body: &Json) -> Result<BulkDeleteRequest, BulkDeleteError> {
    let Some(obj) = body.as_object() else {
        return invalid("The BulkDelete body must be a JSON object with QuerySet and JobName");
    };
    let query_set = match field(obj, "QuerySet") {
        Some(Json::Array(q)) if !q.is_empty() => q.clone(),
        Some(Json::Array(_)) | None => {
            return invalid("QuerySet needs at least one QueryExpression")
        }
        Some(_) => return invalid("QuerySet must be an array of QueryExpressions"),
    };
    let queries = query_set
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let query = query_expression::parse(&state.schema(), q)
                .map_err(|e| BulkDeleteError::Invalid(format!("QuerySet[{i}]: {e}")))?;
            match state.schema().table(&query.table) {
                Some(t) if t.is_event_source() => Ok(query),
                _ => invalid(format!(
                    "QuerySet[{i}]: '{}' is not a business table; BulkDelete deletes business records only",
                    query.table
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let job_name = match field(obj, "JobName") {
        Some(Json::String(s)) if !s.trim().is_empty() => s.chars().take(500).collect(),
        None => "Bulk Delete".to_string(),
        Some(Json::String(_)) => return invalid("JobName cannot be empty"),
        Some(_) => return invalid("JobName must be a string"),
    };
    if let Some(p) = field(obj, "RecurrencePattern") {
        if p.as_str().is_none_or(|p| !p.trim().is_empty()) {
            return invalid(
                "RecurrencePattern: recurring bulk deletes are not supported by herald; send an empty RecurrencePattern and submit the BulkDelete again when it should run",
            );
        }
    }
    for list in ["ToRecipients", "CCRecipients"] {
        if field(obj, list).is_some_and(|v| !v.is_array()) {
            return invalid(format!("{list} must be an array"));
        }
    }
    if field(obj, "SendEmailNotification").is_some_and(|v| !v.is_boolean()) {
        return invalid("SendEmailNotification must be true or false");
    }
    let start = match field(obj, "StartDateTime") {
        None => None,
        Some(Json::String(s)) => Some(parse_datetime(s).ok_or_else(|| {
            BulkDeleteError::Invalid(format!("StartDateTime '{s}' is not a date and time"))
        })?),
        Some(_) => return invalid("StartDateTime must be a date and time (text)"),
    };
    Ok(BulkDeleteRequest {
        query_set,
        queries,
        job_name,
        start,
    })
}

/// Both are built in: the base schema has them.
fn tables(state: &AppState) -> Result<(&herald_core::Table, &herald_core::Table), BulkDeleteError> {
    match (
        state.base_schema.table("asyncoperation"),
        state.base_schema.table("bulkdeleteoperation"),
    ) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(BulkDeleteError::Internal(
            "no asyncoperation or bulkdeleteoperation table".into(),
        )),
    }
}

fn phase_values(phase: JobPhase) -> [(String, Value); 2] {
    [
        ("statecode".into(), Value::Int(phase.state.code())),
        ("statuscode".into(), Value::Int(phase.status.code())),
    ]
}

/// Write the job and its bulkdeleteoperation, start it, and return the
/// job's id (`JobId`).
pub async fn submit(
    state: &SharedState,
    request: BulkDeleteRequest,
    caller: Uuid,
) -> Result<Uuid, BulkDeleteError> {
    let (jobs, operations) = tables(state)?;
    let now = state.clock.now();
    let job_id = Uuid::new_v4();
    let at = Value::DateTime(now);
    let postponed = request.start.filter(|s| *s > now);
    let data = json!({ "QuerySet": request.query_set }).to_string();
    let mut job: Vec<(String, Value)> = vec![
        ("asyncoperationid".into(), Value::Guid(job_id)),
        ("name".into(), Value::String(request.job_name.clone())),
        (
            "operationtype".into(),
            Value::Int(OPERATION_TYPE_BULK_DELETE),
        ),
        (
            "primaryentitytype".into(),
            Value::String(request.queries[0].table.clone()),
        ),
        ("messagename".into(), Value::String("BulkDelete".into())),
        ("correlationid".into(), Value::Guid(Uuid::new_v4())),
        (
            "requestid".into(),
            crate::request_id::current().map_or(Value::Null, Value::Guid),
        ),
        ("depth".into(), Value::Int(1)),
        ("retrycount".into(), Value::Int(0)),
        ("data".into(), Value::String(data.clone())),
        (
            "postponeuntil".into(),
            postponed.map_or(Value::Null, Value::DateTime),
        ),
        ("createdon".into(), at.clone()),
        ("modifiedon".into(), at.clone()),
        ("createdby".into(), Value::Guid(caller)),
        ("modifiedby".into(), Value::Guid(caller)),
        ("versionnumber".into(), Value::Int(1)),
    ];
    job.extend(phase_values(JobPhase::READY));
    let mut operation: Vec<(String, Value)> = vec![
        ("bulkdeleteoperationid".into(), Value::Guid(job_id)),
        ("name".into(), Value::String(request.job_name)),
        ("asyncoperationid".into(), Value::Guid(job_id)),
        ("successcount".into(), Value::Int(0)),
        ("failurecount".into(), Value::Int(0)),
        ("isrecurring".into(), Value::Bool(false)),
        ("orderedquerysetxml".into(), Value::String(data)),
        (
            "nextrun".into(),
            postponed.map_or(Value::Null, Value::DateTime),
        ),
        ("createdon".into(), at.clone()),
        ("modifiedon".into(), at),
        ("createdby".into(), Value::Guid(caller)),
        ("modifiedby".into(), Value::Guid(caller)),
        ("versionnumber".into(), Value::Int(1)),
    ];
    operation.extend(phase_values(JobPhase::READY));
    let owner = crate::node::node_name(Some("bulkdelete"));
    let mut tx = state.store.begin().await?;
    tx.insert(jobs, &job).await?;
    tx.insert(operations, &operation).await?;
    tx.hold_job(
        job_id,
        &Lease {
            owner: owner.clone(),
            until_ms: lease_until(state),
        },
    )
    .await?;
    tx.commit().await?;
    spawn(state.clone(), job_id, owner);
    Ok(job_id)
}

/// How long a node's lease on a bulk delete lasts: as long as a webhook
/// job's (see `jobs::run::lease_for`), renewed every third of it.
fn lease_len(state: &AppState) -> Duration {
    crate::jobs::run::lease_for(&state.config)
}

fn lease_until(state: &AppState) -> i64 {
    state.clock.now().timestamp_millis() + lease_len(state).as_millis() as i64
}

/// Renew `owner`'s lease on the job every third of its length until the
/// job ends (the task is aborted then); sets `lost` if another node took
/// it over, or the job was canceled (its lease then belongs to nobody).
fn keep_lease(
    state: SharedState,
    job_id: Uuid,
    owner: String,
    lost: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = lease_len(&state) / 3;
        loop {
            tokio::time::sleep(every).await;
            let renewed = async {
                let mut tx = state.store.begin().await?;
                let ok = tx.renew_lease(job_id, &owner, lease_until(&state)).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(ok)
            }
            .await;
            match renewed {
                Ok(true) => {}
                Ok(false) => {
                    lost.store(true, Ordering::Release);
                    return;
                }
                Err(e) => {
                    tracing::warn!(job = %job_id, error = %e, "could not renew the lease of a bulk delete")
                }
            }
        }
    })
}

/// Take the job out of the queue table once it ended (or is gone).
async fn release(state: &AppState, job_id: Uuid) -> Result<(), StoreError> {
    let mut tx = state.store.begin().await?;
    tx.dequeue_job(job_id).await?;
    tx.commit().await
}

/// Run a job in the background, holding its lease as `owner`, in the
/// scope of the request that asked for it (so the Delete steps' jobs name
/// the same request).
fn spawn(state: SharedState, job_id: Uuid, owner: String) {
    let request = crate::request_id::current();
    tokio::spawn(async move {
        let lost = Arc::new(AtomicBool::new(false));
        let renew = keep_lease(state.clone(), job_id, owner, lost.clone());
        let work = run(state.clone(), job_id, lost);
        let result = match request {
            Some(r) => crate::request_id::scope(r, work).await,
            None => work.await,
        };
        renew.abort();
        match result {
            Err(BulkDeleteError::LeaseLost) => {
                tracing::warn!(job = %job_id, "another node took this bulk delete over");
                return;
            }
            Err(e) => {
                tracing::warn!(job = %job_id, error = %e, "bulk delete failed");
                let _ = finish(&state, job_id, Counts::default(), Err(e.to_string())).await;
            }
            Ok(()) => {}
        }
        if let Err(e) = release(&state, job_id).await {
            tracing::warn!(job = %job_id, error = %e, "could not release a finished bulk delete");
        }
    });
}

/// Claim the lease of a bulk delete nobody holds; spawn it if this node got it.
async fn take_over(state: &SharedState, job_id: Uuid) -> Result<(), StoreError> {
    let owner = crate::node::node_name(Some("bulkdelete"));
    let now = state.clock.now().timestamp_millis();
    let mut tx = state.store.begin().await?;
    let claimed = tx
        .claim_held_job(job_id, &owner, now, lease_until(state))
        .await?;
    tx.commit().await?;
    if claimed {
        tracing::info!(job = %job_id, "resuming a bulk delete");
        spawn(state.clone(), job_id, owner);
    }
    Ok(())
}

/// Start again every bulk delete that had not completed when the server
/// stopped (at start), then keep taking over those whose node died (their
/// lease expired), every poll interval. Runs until aborted.
pub async fn resume(state: SharedState) {
    let Ok((jobs, _)) = tables(&state) else {
        return;
    };
    // At start: every unfinished one (including any written before herald
    // kept their leases; claiming one adds its entry).
    let query = Query {
        table: jobs.logical_name.clone(),
        select: vec!["asyncoperationid".into()],
        filter: Some(Condition::And(vec![
            Condition::Compare {
                column: ColumnRef::new("operationtype"),
                op: CompareOp::Eq,
                value: Value::Int(OPERATION_TYPE_BULK_DELETE),
            },
            Condition::Compare {
                column: ColumnRef::new("statecode"),
                op: CompareOp::Ne,
                value: Value::Int(JobState::Completed.code()),
            },
        ])),
        ..Query::default()
    };
    match state.store.fetch(&query, Some(1000), 0).await {
        Ok(rows) => {
            for id in rows.iter().filter_map(|r| r.guid("asyncoperationid")) {
                if let Err(e) = take_over(&state, id).await {
                    tracing::warn!(job = %id, error = %e, "could not claim a bulk delete");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not look for unfinished bulk deletes"),
    }
    loop {
        tokio::time::sleep(state.config.jobs.poll_interval).await;
        let now = state.clock.now().timestamp_millis();
        match state.store.unheld_jobs(now).await {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = take_over(&state, id).await {
                        tracing::warn!(job = %id, error = %e, "could not claim a bulk delete");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not look for bulk deletes to take over"),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Counts {
    /// Progress writes so far (the bulkdeleteoperation's version goes up
    /// with each).
    writes: i64,
    success: i64,
    failure: i64,
    failures: Vec<String>,
}

/// Whether the job was canceled (or is gone) since it started.
async fn stopped(state: &AppState, job_id: Uuid) -> Result<bool, BulkDeleteError> {
    let (jobs, _) = tables(state)?;
    Ok(match state.store.get(jobs, job_id).await? {
        Some(row) => crate::jobs::control::phase_of(&row).state == JobState::Completed,
        None => true,
    })
}

async fn progress(
    state: &AppState,
    job_id: Uuid,
    counts: &mut Counts,
    phase: Option<JobPhase>,
) -> Result<(), BulkDeleteError> {
    let (_, operations) = tables(state)?;
    let values = progress_values(state, counts, phase);
    let mut tx = state.store.begin().await?;
    tx.update(operations, job_id, &values).await?;
    tx.commit().await?;
    Ok(())
}

/// The bulkdeleteoperation columns one progress write sets (counts, and the
/// phase when it changes).
fn progress_values(
    state: &AppState,
    counts: &mut Counts,
    phase: Option<JobPhase>,
) -> Vec<(String, Value)> {
    let mut values = vec![
        ("successcount".to_string(), Value::Int(counts.success)),
        ("failurecount".to_string(), Value::Int(counts.failure)),
        ("modifiedon".to_string(), Value::DateTime(state.clock.now())),
        ("versionnumber".to_string(), Value::Int(2 + counts.writes)),
    ];
    counts.writes += 1;
    if let Some(p) = phase {
        values.extend(phase_values(p));
    }
    values
}

/// Run one bulk delete to its end.
pub async fn run(
    state: SharedState,
    job_id: Uuid,
    lost: Arc<AtomicBool>,
) -> Result<(), BulkDeleteError> {
    let (jobs, _) = tables(&state)?;
    let Some(job) = state.store.get(jobs, job_id).await? else {
        return Ok(());
    };
    if crate::jobs::control::phase_of(&job).state == JobState::Completed {
        return Ok(());
    }
    let caller = job.guid("createdby").unwrap_or_default();
    let data: Json = job
        .string("data")
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or(Json::Null);
    let queries = data["QuerySet"]
        .as_array()
        .ok_or_else(|| BulkDeleteError::Internal("the job's data holds no QuerySet".into()))?
        .iter()
        .map(|q| {
            query_expression::parse(&state.schema(), q)
                .map_err(|e| BulkDeleteError::Internal(format!("the job's QuerySet: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(Value::DateTime(at)) = job.get("postponeuntil") {
        let wait = (*at - state.clock.now()).num_milliseconds();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            if stopped(&state, job_id).await? {
                // Canceled while it waited for its start.
                return Ok(());
            }
            if lost.load(Ordering::Acquire) {
                return Err(BulkDeleteError::LeaseLost);
            }
        }
    }
    let started = state.clock.now();
    let running = JobPhase::IN_PROGRESS;
    {
        let mut values = phase_values(running).to_vec();
        values.push(("startedon".into(), Value::DateTime(started)));
        let mut tx = state.store.begin().await?;
        tx.update(jobs, job_id, &values).await?;
        tx.commit().await?;
    }
    // A job resumed after a stop keeps what it deleted before; the records
    // it could not delete still match and are tried (and counted) again.
    let (_, operations) = tables(&state)?;
    let earlier = state.store.get(operations, job_id).await?;
    let mut counts = Counts {
        success: earlier
            .as_ref()
            .and_then(|r| r.int("successcount"))
            .unwrap_or(0),
        writes: earlier
            .as_ref()
            .and_then(|r| r.int("versionnumber"))
            .map_or(0, |v| (v - 1).max(0)),
        ..Counts::default()
    };
    progress(&state, job_id, &mut counts, Some(running)).await?;
    for query in &queries {
        if !delete_matching(&state, job_id, query, caller, &mut counts, &lost).await? {
            // Canceled: the cancel already completed the job's row.
            return progress(&state, job_id, &mut counts, Some(JobPhase::CANCELED)).await;
        }
    }
    finish(&state, job_id, counts, Ok(started)).await
}

/// Delete every record `query` matches, a batch at a time, in primary id
/// order. `false` when the job was canceled on the way.
async fn delete_matching(
    state: &SharedState,
    job_id: Uuid,
    query: &Query,
    caller: Uuid,
    counts: &mut Counts,
    lost: &AtomicBool,
) -> Result<bool, BulkDeleteError> {
    let schema = state.schema();
    let table = schema
        .table(&query.table)
        .ok_or_else(|| BulkDeleteError::Internal(format!("no table '{}'", query.table)))?;
    let key = ColumnRef::new(table.primary_id.clone());
    let mut after: Option<Uuid> = None;
    loop {
        let mut page = query.clone();
        page.select = vec![table.primary_id.clone()];
        page.order = vec![Order {
            column: key.clone(),
            descending: false,
        }];
        if let Some(last) = after {
            let past = Condition::Compare {
                column: key.clone(),
                op: CompareOp::Gt,
                value: Value::Guid(last),
            };
            page.filter = Some(match page.filter.take() {
                Some(f) => Condition::And(vec![f, past]),
                None => past,
            });
        }
        let ids: Vec<Uuid> = state
            .store
            .fetch(&page, Some(BATCH), 0)
            .await?
            .iter()
            .filter_map(|r| r.guid(&table.primary_id))
            .collect();
        let Some(last) = ids.last().copied() else {
            return Ok(true);
        };
        after = Some(last);
        for id in ids {
            let op = Operation::new(
                Message::Delete,
                &table.logical_name,
                Some(id),
                vec![],
                caller,
            );
            match pipeline::execute(state, op).await {
                Ok(_) => counts.success += 1,
                // Deleted meanwhile (or by an earlier run of this job).
                Err(PipelineError::NotFound { .. }) => {}
                Err(e) => {
                    counts.failure += 1;
                    if counts.failures.len() < KEPT_FAILURES {
                        counts
                            .failures
                            .push(format!("{}({id}): {e}", table.logical_name));
                    }
                }
            }
        }
        progress(state, job_id, counts, None).await?;
        if stopped(state, job_id).await? {
            return Ok(false);
        }
        if lost.load(Ordering::Acquire) {
            return Err(BulkDeleteError::LeaseLost);
        }
    }
}

/// Complete the job: Succeeded when it ran through (failures, if any, are
/// counted and described), Failed when it could not run.
async fn finish(
    state: &AppState,
    job_id: Uuid,
    mut counts: Counts,
    ran: Result<DateTime<Utc>, String>,
) -> Result<(), BulkDeleteError> {
    let (jobs, _) = tables(state)?;
    let now = state.clock.now();
    let (phase, message, friendly) = match &ran {
        Ok(_) if counts.failure == 0 => (JobPhase::SUCCEEDED, None, None),
        Ok(_) => (
            JobPhase::SUCCEEDED,
            Some(counts.failures.join("\n")),
            Some(format!(
                "Deleted {} record(s); {} could not be deleted (the first are listed in the details).",
                counts.success, counts.failure
            )),
        ),
        Err(e) => (
            JobPhase::FAILED,
            Some(e.clone()),
            Some(format!("The bulk delete could not run: {e}")),
        ),
    };
    let current = state.store.get(jobs, job_id).await?;
    if ran.is_ok()
        && current
            .as_ref()
            .is_some_and(|r| crate::jobs::control::phase_of(r).state == JobState::Completed)
    {
        // Canceled after the last batch: the cancel stands.
        return progress(state, job_id, &mut counts, Some(JobPhase::CANCELED)).await;
    }
    let version = current
        .as_ref()
        .and_then(|r| r.int("versionnumber"))
        .unwrap_or(1);
    let mut values = phase_values(phase).to_vec();
    values.extend([
        ("completedon".to_string(), Value::DateTime(now)),
        ("modifiedon".to_string(), Value::DateTime(now)),
        (
            "message".to_string(),
            message.map_or(Value::Null, Value::String),
        ),
        (
            "friendlymessage".to_string(),
            friendly.map_or(Value::Null, Value::String),
        ),
        ("versionnumber".to_string(), Value::Int(version + 1)),
    ]);
    if let Ok(started) = ran {
        values.push((
            "executiontimespan".into(),
            Value::Int((now - started).num_milliseconds().max(0)),
        ));
    }
    // The job and its bulkdeleteoperation reach their end in one
    // transaction: nobody reads a completed job whose counts still say
    // In Progress.
    let (_, operations) = tables(state)?;
    let progress = progress_values(state, &mut counts, Some(phase));
    let mut tx = state.store.begin().await?;
    tx.update(jobs, job_id, &values).await?;
    tx.update(operations, job_id, &progress).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether a job row is a bulk delete (for the job controls, which can
/// only cancel one).
pub fn is_bulk_delete(job: &herald_store::Record) -> bool {
    job.int("operationtype") == Some(OPERATION_TYPE_BULK_DELETE)
}
