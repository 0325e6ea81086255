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

use std::sync::Arc;
use std::time::Duration;

use herald_core::job::JobPhase;
use herald_delivery::{Delivery, Failure, FailureKind, Outcome, WebhookRequest};
use herald_store::{AttemptRow, ClaimedJob, JobOutcome, JobRow, OutcomeRow};
use tracing::warn;
use uuid::Uuid;

use super::complete::Completer;
use crate::state::AppState;
use crate::webhook::{self, CallKind, Endpoint, EndpointLookup, Payload, WebhookCall};

/// Dataverse's error code for an unavailable endpoint, as a signed int.
pub const ERRORCODE_ENDPOINT_UNAVAILABLE: i64 = 0x8005_0203_u32 as i32 as i64;

/// How long a delivery runs before its job is marked In Progress.
pub const IN_PROGRESS_AFTER: Duration = Duration::from_millis(500);

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
    if !row.state.is_runnable() {
        // Completed, canceled or suspended meanwhile (a resume or retry
        // queues it again).
        let mut tx = store.begin().await?;
        tx.dequeue_job(job.asyncoperation_id).await?;
        return tx.commit().await;
    }
    let started = state.clock.now();
    let delivery_started = std::time::Instant::now();
    let prepared = match endpoint {
        Ok(e) => prepare(state, job.asyncoperation_id, row, &e).map_err(|m| (m, e.name.clone())),
        Err(m) => Err((m, job.endpoint_id.to_string())),
    };
    let delivery = match prepared {
        Ok((endpoint, req)) => {
            let deliver = webhook::send(state, CallKind::Async, &endpoint.name, &req);
            tokio::pin!(deliver);
            tokio::select! {
                d = &mut deliver => d,
                _ = tokio::time::sleep(IN_PROGRESS_AFTER) => {
                    mark_in_progress(state, completer.owner(), job.asyncoperation_id, started).await;
                    deliver.await
                }
            }
        }
        // Metrics name the endpoint as sync and notify calls do (by its
        // id when it cannot be read).
        Err((message, label)) => {
            let failed = Delivery {
                attempts: Vec::new(),
                outcome: Outcome::Failed(Failure::new(FailureKind::InvalidUrl, message)),
            };
            webhook::record(state, CallKind::Async, &label, &failed, delivery_started);
            failed
        }
    };
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
            Outcome::Succeeded { .. } => (JobPhase::SUCCEEDED, None, None, None),
            Outcome::Failed(f) => (
                JobPhase::FAILED,
                Some(technical_message(&delivery, &f.message)),
                Some(format!("The webhook call failed: {}", f.message)),
                Some(ERRORCODE_ENDPOINT_UNAVAILABLE),
            ),
        };
        OutcomeRow::Update {
            phase: state_status,
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
    endpoint: &Arc<Endpoint>,
) -> Result<(Arc<Endpoint>, WebhookRequest), String> {
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
    let call = WebhookCall {
        endpoint,
        payload: Payload::serialized(
            &row.data,
            &row.primaryentitytype,
            &message,
            row.correlationid.unwrap_or_default(),
        ),
        request_id: Uuid::new_v4(),
        message_id: job_id,
    };
    let request = call
        .request(&state.config.server.organization, state.clock.now())
        .map_err(|e| format!("the webhook '{}' {e}", endpoint.name))?;
    if let Some(c) = row.correlationid {
        state.depths.record(c, row.depth);
    }
    Ok((endpoint.clone(), request))
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
