//! Running one claimed System Job: deliver → Succeeded (30) or Failed (31),
//! with startedon, completedon, executiontimespan, message,
//! friendlymessage, errorcode and retrycount, and every attempt logged.
//! The outcome is written only while this node still holds the lease.
//!
//! In Progress (statecode 2 / statuscode 20) is written only for a
//! delivery still running after [`IN_PROGRESS_AFTER`]: most endpoints
//! answer in milliseconds, and every write of the asyncoperation row
//! rewrites its serialized context, so a job that succeeds at once goes
//! from Waiting straight to Succeeded with its startedon filled in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use herald_core::context::{headers_from_parts, trim_serialized};
use herald_core::query::{ColumnRef, Condition};
use herald_core::value::parse_guid;
use herald_core::Value;
use herald_delivery::{Delivery, Failure, FailureKind, Outcome, WebhookRequest};
use herald_store::{AttemptRow, ClaimedJob, JobOutcome, JobRow, OutcomeRow};
use tracing::warn;
use uuid::Uuid;

use super::complete::Completer;
use crate::pipeline::steps::{self, Endpoint};
use crate::state::AppState;

/// Dataverse's error code for an unavailable endpoint, as a signed int.
pub const ERRORCODE_ENDPOINT_UNAVAILABLE: i64 = 0x8005_0203_u32 as i32 as i64;

/// Statecode/statuscode pairs.
pub const READY: (i64, i64) = (0, 0);
pub const IN_PROGRESS: (i64, i64) = (2, 20);
pub const SUCCEEDED: (i64, i64) = (3, 30);
pub const FAILED: (i64, i64) = (3, 31);
pub const CANCELED: (i64, i64) = (3, 32);

/// How long a delivery runs before its job is marked In Progress.
pub const IN_PROGRESS_AFTER: Duration = Duration::from_millis(500);

/// The webhook a job calls, as looked up for its claim batch: the endpoint,
/// or why there is none.
pub type EndpointLookup = Result<Arc<Endpoint>, String>;

/// Run one job to completion. Errors from the store are logged; the lease
/// then expires and the job is taken over.
pub async fn run_job(
    state: &AppState,
    completer: &Completer,
    job: ClaimedJob,
    endpoint: EndpointLookup,
) {
    if let Err(e) = try_run(state, completer, &job, endpoint).await {
        warn!(job = %job.asyncoperation_id, error = %e, "System Job could not be completed; it will be retried when its lease expires");
    }
}

async fn try_run(
    state: &AppState,
    completer: &Completer,
    job: &ClaimedJob,
    endpoint: EndpointLookup,
) -> Result<(), herald_store::StoreError> {
    let store = &state.store;
    let Some(row) = &job.row else {
        // The row is gone (deleted by a user): drop the queue entry.
        let mut tx = store.begin().await?;
        tx.dequeue_job(job.asyncoperation_id).await?;
        return tx.commit().await;
    };
    if row.statecode == 3 || row.statecode == 1 {
        // Completed, canceled or suspended meanwhile (a resume or retry
        // queues it again).
        let mut tx = store.begin().await?;
        tx.dequeue_job(job.asyncoperation_id).await?;
        return tx.commit().await;
    }
    let started = state.clock.now();
    let delivery_started = std::time::Instant::now();
    // Metrics name the endpoint as sync and notify deliveries do.
    let endpoint_label = match &endpoint {
        Ok(e) => e.name.clone(),
        Err(_) => job.endpoint_id.to_string(),
    };
    let delivery = match endpoint.and_then(|e| prepare(state, job.asyncoperation_id, row, &e)) {
        Ok(req) => {
            let deliver = state.sender.deliver(&req);
            tokio::pin!(deliver);
            tokio::select! {
                d = &mut deliver => d,
                _ = tokio::time::sleep(IN_PROGRESS_AFTER) => {
                    mark_in_progress(state, completer.owner(), job.asyncoperation_id, started).await;
                    deliver.await
                }
            }
        }
        Err(message) => Delivery {
            attempts: Vec::new(),
            outcome: Outcome::Failed(Failure::new(FailureKind::InvalidUrl, message)),
        },
    };
    state.metrics.record_delivery(
        "async",
        &endpoint_label,
        delivery.is_success(),
        delivery_started.elapsed(),
    );
    let completed = state.clock.now();
    let attempts: Vec<AttemptRow> = delivery
        .attempts
        .iter()
        .enumerate()
        .map(|(i, a)| AttemptRow {
            asyncoperation_id: job.asyncoperation_id,
            attempt: i as i64 + 1,
            started_ms: a.started_at.timestamp_millis(),
            duration_ms: a.duration.as_millis() as i64,
            status: a.status.map(i64::from),
            error: a.error.clone(),
            response: Some(a.response_excerpt.clone()).filter(|s| !s.is_empty()),
        })
        .collect();
    let outcome_row = if delivery.is_success() && job.autodelete {
        OutcomeRow::Delete
    } else {
        let (state_status, message, friendlymessage, errorcode) = match &delivery.outcome {
            Outcome::Succeeded { .. } => (SUCCEEDED, None, None, None),
            Outcome::Failed(f) => (
                FAILED,
                Some(technical_message(&delivery, &f.message)),
                Some(format!("The webhook call failed: {}", f.message)),
                Some(ERRORCODE_ENDPOINT_UNAVAILABLE),
            ),
        };
        OutcomeRow::Update {
            statecode: state_status.0,
            statuscode: state_status.1,
            started_ms: started.timestamp_millis(),
            completed_ms: completed.timestamp_millis(),
            executiontimespan: (completed - started).num_milliseconds().max(0),
            retries: delivery.attempts.len().saturating_sub(1) as i64,
            message,
            friendlymessage,
            errorcode,
        }
    };
    completer
        .submit(JobOutcome {
            asyncoperation_id: job.asyncoperation_id,
            attempts,
            row: outcome_row,
        })
        .await;
    Ok(())
}

/// Show a delivery that is taking a while as In Progress. A failure here
/// only costs the display: the outcome is written either way.
async fn mark_in_progress(
    state: &AppState,
    owner: &str,
    id: Uuid,
    started: chrono::DateTime<chrono::Utc>,
) {
    let marked = async {
        let mut tx = state.store.begin().await?;
        tx.mark_in_progress(id, owner, started.timestamp_millis())
            .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = marked {
        warn!(job = %id, error = %e, "marking a System Job In Progress failed");
    }
}

fn technical_message(delivery: &Delivery, message: &str) -> String {
    let mut s = format!("Webhook delivery failed: {message}\n");
    for (i, a) in delivery.attempts.iter().enumerate() {
        s.push_str(&format!(
            "attempt {}: {} in {} ms{}\n",
            i + 1,
            a.status
                .map(|c| format!("HTTP {c}"))
                .unwrap_or_else(|| "no response".into()),
            a.duration.as_millis(),
            a.error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    s
}

/// Build the request from the stored context and the current endpoint.
/// The Standard Webhooks `webhook-id` is `msg_<job id>`: the same message
/// keeps its id across runs and retries, so receivers can deduplicate.
fn prepare(
    state: &AppState,
    job_id: Uuid,
    row: &JobRow,
    endpoint: &Endpoint,
) -> Result<WebhookRequest, String> {
    let auth = endpoint.auth.clone().map_err(|e| {
        format!(
            "the webhook '{}' has invalid authentication settings: {e}",
            endpoint.name
        )
    })?;
    let (body, exceeded) = trim_serialized(&row.data);
    let message = match &row.messagename {
        Some(m) => m.clone(),
        // Rows written before `messagename` existed: read it from the context.
        None => serde_json::from_str::<serde_json::Value>(&row.data)
            .ok()
            .and_then(|j| {
                j.get("MessageName")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default(),
    };
    let request_id = Uuid::new_v4();
    let mut headers = headers_from_parts(
        &row.primaryentitytype,
        &message,
        row.correlationid.unwrap_or_default(),
        &state.config.server.organization,
        exceeded,
        request_id,
    );
    headers.extend(crate::pipeline::dispatch::signature_headers(
        state,
        endpoint,
        job_id,
        body.as_bytes(),
    ));
    if let Some(c) = row.correlationid {
        state.depths.record(c, row.depth);
    }
    Ok(WebhookRequest {
        url: endpoint.url.clone(),
        auth,
        headers,
        body: body.into(),
    })
}

/// The webhooks of a claim batch, read in one query: each endpoint id
/// mapped to its endpoint, or to why the job cannot be delivered.
pub async fn endpoints_for(
    state: &AppState,
    ids: impl IntoIterator<Item = Uuid>,
) -> HashMap<Uuid, EndpointLookup> {
    let ids: Vec<Uuid> = {
        let mut v: Vec<Uuid> = ids.into_iter().collect();
        v.sort();
        v.dedup();
        v
    };
    let now = state.clock.now();
    let mut query = herald_core::Query::all("serviceendpoint");
    if let Some(table) = state.schema.table("serviceendpoint") {
        query.select = table.columns.iter().map(|c| c.name.clone()).collect();
    }
    query.filter = Some(Condition::In {
        column: ColumnRef::new("serviceendpointid"),
        values: ids.iter().map(|id| Value::Guid(*id)).collect(),
        negated: false,
    });
    let rows = state.store.fetch(&query, None, 0).await;
    ids.into_iter()
        .map(|id| {
            let found = match &rows {
                Ok(rows) => rows
                    .iter()
                    .find(|r| r.guid("serviceendpointid") == Some(id))
                    .map(|r| Arc::new(steps::endpoint_from_row(id, r, now)))
                    .ok_or_else(|| format!("The webhook {id} of this job's step no longer exists")),
                Err(e) => Err(e.to_string()),
            };
            (id, found)
        })
        .collect()
}

/// Parse a GUID from a job id string (CLI/API helpers).
pub fn job_id(s: &str) -> Option<Uuid> {
    parse_guid(s)
}

/// The lease a claim takes: `jobs.lease`, but never shorter than one
/// delivery can take — two attempts of up to `delivery.timeout` each (a
/// 502/503/504 gets one retry) plus a margin for the store writes around
/// them and clock skew between nodes. The margin is half the timeout,
/// between 1 s and 30 s: with the defaults (60 s timeout, 180 s lease) the
/// lease stays 180 s (and never below 150 s); a test with a 2 s timeout and
/// a 1 s lease gets 5 s, so a dead node's jobs are taken over quickly.
pub fn lease_for(config: &crate::config::Config) -> Duration {
    let timeout = config.delivery.timeout;
    let margin = (timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
    config.jobs.lease.max(timeout * 2 + margin)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn lease_covers_two_attempts() {
        let mut c = crate::config::Config::default();
        assert_eq!(super::lease_for(&c), Duration::from_secs(180));
        c.jobs.lease = Duration::from_secs(10);
        assert_eq!(
            super::lease_for(&c),
            Duration::from_secs(150),
            "2 × 60 s + 30 s"
        );
        c.delivery.timeout = Duration::from_secs(2);
        assert_eq!(super::lease_for(&c), Duration::from_secs(10));
        c.jobs.lease = Duration::from_secs(1);
        assert_eq!(
            super::lease_for(&c),
            Duration::from_secs(5),
            "2 × 2 s + 1 s"
        );
        c.delivery.timeout = Duration::from_millis(500);
        assert_eq!(
            super::lease_for(&c),
            Duration::from_secs(2),
            "2 × 0.5 s + 1 s"
        );
    }
}
