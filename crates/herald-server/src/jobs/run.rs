//! Running one claimed System Job: In Progress → deliver → Succeeded (30) or
//! Failed (31), with startedon, completedon, executiontimespan, message,
//! friendlymessage, errorcode and retrycount, and every attempt logged.
//! The outcome is written only while this node still holds the lease.

use std::time::Duration;

use herald_core::context::{headers_from_parts, trim_serialized};
use herald_core::value::parse_guid;
use herald_core::Value;
use herald_delivery::{Delivery, Failure, FailureKind, Outcome, WebhookRequest};
use herald_store::{AttemptRow, ClaimedJob};
use tracing::warn;
use uuid::Uuid;

use super::complete::{Completer, Finished, RowWrite};
use crate::pipeline::steps;
use crate::state::AppState;

/// Dataverse's error code for an unavailable endpoint, as a signed int.
pub const ERRORCODE_ENDPOINT_UNAVAILABLE: i64 = 0x8005_0203_u32 as i32 as i64;

/// Statecode/statuscode pairs.
pub const READY: (i64, i64) = (0, 0);
pub const IN_PROGRESS: (i64, i64) = (2, 20);
pub const SUCCEEDED: (i64, i64) = (3, 30);
pub const FAILED: (i64, i64) = (3, 31);
pub const CANCELED: (i64, i64) = (3, 32);

/// Run one job to completion. Errors from the store are logged; the lease
/// then expires and the job is taken over.
pub async fn run_job(state: &AppState, completer: &Completer, job: ClaimedJob) {
    if let Err(e) = try_run(state, completer, &job).await {
        warn!(job = %job.asyncoperation_id, error = %e, "System Job could not be completed; it will be retried when its lease expires");
    }
}

async fn try_run(
    state: &AppState,
    completer: &Completer,
    job: &ClaimedJob,
) -> Result<(), herald_store::StoreError> {
    let store = &state.store;
    let table = state
        .schema
        .table("asyncoperation")
        .ok_or_else(|| herald_store::StoreError::Invalid("no asyncoperation table".into()))?;
    let Some(row) = store.get(table, job.asyncoperation_id).await? else {
        // The row is gone (deleted by a user): drop the queue entry.
        let mut tx = store.begin().await?;
        tx.dequeue_job(job.asyncoperation_id).await?;
        return tx.commit().await;
    };
    if row.int("statecode") == Some(3) || row.int("statecode") == Some(1) {
        // Completed, canceled or suspended meanwhile.
        let mut tx = store.begin().await?;
        if row.int("statecode") == Some(3) {
            tx.dequeue_job(job.asyncoperation_id).await?;
        }
        return tx.commit().await;
    }
    // The claim already marked it In Progress (statecode 2 / statuscode 20).
    let started = state.clock.now();

    let data = row.string("data").unwrap_or("{}").to_string();
    let delivery_started = std::time::Instant::now();
    let delivery = match prepare(state, &row, &data, job).await {
        Ok(req) => state.sender.deliver(&req).await,
        Err(message) => Delivery {
            attempts: Vec::new(),
            outcome: Outcome::Failed(Failure::new(FailureKind::InvalidUrl, message)),
        },
    };
    state.metrics.record_delivery(
        "async",
        &job.endpoint_id.to_string(),
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
    let span = (completed - started).num_milliseconds().max(0);
    let retries = delivery.attempts.len().saturating_sub(1) as i64;
    let mut values: Vec<(String, Value)> = vec![
        ("completedon".into(), Value::DateTime(completed)),
        ("executiontimespan".into(), Value::Int(span)),
        (
            "retrycount".into(),
            Value::Int(row.int("retrycount").unwrap_or(0) + retries),
        ),
        ("modifiedon".into(), Value::DateTime(completed)),
    ];
    match &delivery.outcome {
        Outcome::Succeeded { .. } => {
            values.push(("statecode".into(), Value::Int(SUCCEEDED.0)));
            values.push(("statuscode".into(), Value::Int(SUCCEEDED.1)));
            values.push(("message".into(), Value::Null));
            values.push(("friendlymessage".into(), Value::Null));
            values.push(("errorcode".into(), Value::Null));
        }
        Outcome::Failed(f) => {
            values.push(("statecode".into(), Value::Int(FAILED.0)));
            values.push(("statuscode".into(), Value::Int(FAILED.1)));
            values.push((
                "message".into(),
                Value::String(technical_message(&delivery, &f.message)),
            ));
            values.push((
                "friendlymessage".into(),
                Value::String(format!("The webhook call failed: {}", f.message)),
            ));
            values.push((
                "errorcode".into(),
                Value::Int(ERRORCODE_ENDPOINT_UNAVAILABLE),
            ));
        }
    }
    let row_write = if delivery.is_success() && job.autodelete {
        RowWrite::Delete
    } else {
        let version = row.int("versionnumber").unwrap_or(1) + 1;
        values.push(("versionnumber".into(), Value::Int(version)));
        RowWrite::Update(values)
    };
    completer
        .complete(Finished {
            job: job.clone(),
            attempts,
            row: row_write,
        })
        .await;
    Ok(())
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
async fn prepare(
    state: &AppState,
    row: &herald_store::Record,
    data: &str,
    job: &ClaimedJob,
) -> Result<WebhookRequest, String> {
    let table = state
        .schema
        .table("serviceendpoint")
        .ok_or("no serviceendpoint table")?;
    let endpoint_row = state
        .store
        .get(table, job.endpoint_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "The webhook {} of this job's step no longer exists",
                job.endpoint_id
            )
        })?;
    let endpoint = steps::endpoint_from_row(job.endpoint_id, &endpoint_row, state.clock.now());
    let auth = endpoint.auth.clone().map_err(|e| {
        format!(
            "the webhook '{}' has invalid authentication settings: {e}",
            endpoint.name
        )
    })?;
    let (body, exceeded) = trim_serialized(data);
    let message = serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|j| {
            j.get("MessageName")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let request_id = Uuid::new_v4();
    let mut headers = headers_from_parts(
        row.string("primaryentitytype").unwrap_or(""),
        &message,
        row.guid("correlationid").unwrap_or_default(),
        &state.config.server.organization,
        exceeded,
        request_id,
    );
    headers.extend(crate::pipeline::dispatch::signature_headers(
        state,
        &endpoint,
        request_id,
        body.as_bytes(),
    ));
    if let Some(c) = row.guid("correlationid") {
        state.depths.record(c, row.int("depth").unwrap_or(1));
    }
    Ok(WebhookRequest {
        url: endpoint.url,
        auth,
        headers,
        body: body.into(),
    })
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
