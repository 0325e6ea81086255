//! Running the matching steps of one stage: synchronous steps are delivered
//! now, inside the write's transaction (a failure rolls the write back);
//! asynchronous steps (stage 40 only) become System Jobs in the same
//! transaction (the outbox).

use herald_core::context::{serialize_for_delivery, webhook_headers, ExecutionContext};
use herald_core::matching::{steps_for_stage, StepDef};
use herald_core::Value;
use herald_delivery::{Outcome, WebhookRequest};
use herald_store::{ClaimedJob, JobRow, NewJob, Tx};
use uuid::Uuid;

use super::event::Event;
use super::registrations::StepSet;
use super::steps::{self, Endpoint};
use crate::error::{codes, ApiError, ApiResult};
use crate::jobs::handoff::Reservations;
use crate::state::AppState;

/// Run the steps of a stage before the write (10 or 20): synchronous
/// steps only (async steps run at stage 40 alone).
pub async fn run_stage(
    state: &AppState,
    tx: &mut Tx,
    event: &Event<'_>,
    steps: &[StepDef],
    stage: i64,
) -> ApiResult<()> {
    run(state, tx, event, steps, stage, None).await
}

/// Run the PostOperation (stage 40) steps: sync steps are delivered, async
/// steps become System Jobs, leased to this node's workers when
/// `direct` has room (see `jobs::handoff`).
pub async fn run_post_operation(
    state: &AppState,
    tx: &mut Tx,
    event: &Event<'_>,
    steps: &StepSet,
    direct: &mut Reservations<'_>,
) -> ApiResult<()> {
    run(state, tx, event, steps, 40, Some((direct, steps))).await
}

async fn run(
    state: &AppState,
    tx: &mut Tx,
    event: &Event<'_>,
    steps: &[StepDef],
    stage: i64,
    mut direct: Option<(&mut Reservations<'_>, &StepSet)>,
) -> ApiResult<()> {
    let changed = event.changed_columns();
    for step in steps_for_stage(
        steps,
        stage,
        event.message_name(),
        &event.table.logical_name,
        &changed,
    ) {
        if step.is_async() {
            if let (40, Some((direct, set))) = (stage, direct.as_mut()) {
                let endpoint = set.endpoints.get(&step.endpoint_id).cloned();
                enqueue(state, tx, event, step, direct, endpoint).await?;
            }
            continue;
        }
        let endpoint = steps::endpoint(tx, step.endpoint_id, state.clock.now()).await?;
        let request_id = Uuid::new_v4();
        let ctx = event.context(state, step, Uuid::new_v4(), Some(request_id));
        state.depths.record(event.correlation_id, event.depth);
        deliver_sync(state, &endpoint, &ctx, request_id).await?;
    }
    Ok(())
}

/// Build the HTTP request for a context: body (trimmed over 256 KB),
/// Dataverse's headers and the endpoint's auth.
pub fn webhook_request(
    state: &AppState,
    endpoint: &Endpoint,
    ctx: &ExecutionContext,
    request_id: Uuid,
) -> Result<WebhookRequest, String> {
    let auth = endpoint.auth.clone().map_err(|e| {
        format!(
            "the webhook '{}' has invalid authentication settings: {e}",
            endpoint.name
        )
    })?;
    let (body, exceeded) = serialize_for_delivery(ctx);
    let mut headers = webhook_headers(ctx, &state.config.server.organization, exceeded, request_id);
    headers.extend(signature_headers(
        state,
        endpoint,
        request_id,
        body.as_bytes(),
    ));
    Ok(WebhookRequest {
        url: endpoint.url.clone(),
        auth,
        headers,
        body: body.into(),
    })
}

/// Standard Webhooks headers when the endpoint has a signing secret; the
/// message id is `msg_<id>`: the request id of a synchronous delivery (the
/// same on its one retry), a System Job's id (the same on every run).
pub fn signature_headers(
    state: &AppState,
    endpoint: &Endpoint,
    message_id: Uuid,
    body: &[u8],
) -> Vec<(String, String)> {
    herald_delivery::signature_headers(
        &endpoint.signing,
        &format!("msg_{}", message_id.simple()),
        state.clock.now().timestamp(),
        body,
    )
}

async fn deliver_sync(
    state: &AppState,
    endpoint: &Endpoint,
    ctx: &ExecutionContext,
    request_id: Uuid,
) -> ApiResult<()> {
    let unavailable = |why: String| {
        ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            codes::ENDPOINT_UNAVAILABLE,
            format!(
                "Endpoint unavailable: the webhook '{}' ({}) {why}. The operation was rolled back.",
                endpoint.name, endpoint.url
            ),
        )
    };
    let request = webhook_request(state, endpoint, ctx, request_id).map_err(unavailable)?;
    let started = std::time::Instant::now();
    let delivery = state.sender.deliver(&request).await;
    state.metrics.record_delivery(
        "sync",
        &endpoint.name,
        delivery.is_success(),
        started.elapsed(),
    );
    match delivery.outcome {
        Outcome::Succeeded { .. } => Ok(()),
        Outcome::Failed(f) => Err(unavailable(format!(
            "failed after {} attempt(s): {}",
            delivery.attempts.len(),
            f.message
        ))),
    }
}

/// Write the System Job of an async step (asyncoperation row + queue entry).
async fn enqueue(
    state: &AppState,
    tx: &mut Tx,
    event: &Event<'_>,
    step: &StepDef,
    direct: &mut Reservations<'_>,
    endpoint: Option<std::sync::Arc<herald_store::Record>>,
) -> ApiResult<()> {
    let job_id = Uuid::new_v4();
    let ctx = event.context(state, step, job_id, None);
    let data = ctx.to_json_string();
    let lease = direct.reserve(state.clock.now().timestamp_millis());
    // The context goes into the row, and (leased) to the worker too.
    let handed_data = lease.as_ref().map(|_| data.clone());
    let table = state
        .schema
        .table("asyncoperation")
        .ok_or_else(|| ApiError::internal("no asyncoperation table"))?;
    let now = Value::DateTime(event.now);
    let row = vec![
        ("asyncoperationid".to_string(), Value::Guid(job_id)),
        ("name".to_string(), Value::String(step.name.clone())),
        ("operationtype".to_string(), Value::Int(1)),
        ("statecode".to_string(), Value::Int(0)),
        ("statuscode".to_string(), Value::Int(0)),
        ("owningextensionid".to_string(), Value::Guid(step.id)),
        (
            "primaryentitytype".to_string(),
            Value::String(event.table.logical_name.clone()),
        ),
        (
            "messagename".to_string(),
            Value::String(event.message_name().to_string()),
        ),
        ("regardingobjectid".to_string(), Value::Guid(event.id)),
        (
            "correlationid".to_string(),
            Value::Guid(event.correlation_id),
        ),
        ("depth".to_string(), Value::Int(event.depth)),
        ("retrycount".to_string(), Value::Int(0)),
        ("errorcode".to_string(), Value::Null),
        ("data".to_string(), Value::String(data)),
        ("createdon".to_string(), now.clone()),
        ("modifiedon".to_string(), now),
        ("createdby".to_string(), Value::Guid(event.caller)),
        ("modifiedby".to_string(), Value::Guid(event.caller)),
        ("versionnumber".to_string(), Value::Int(1)),
    ];
    tx.insert(table, &row).await?;
    tx.enqueue_job(&NewJob {
        asyncoperation_id: job_id,
        endpoint_id: step.endpoint_id,
        ready_at_ms: event.now.timestamp_millis(),
        autodelete: step.async_auto_delete,
        lease,
    })
    .await?;
    if let Some(data) = handed_data {
        direct.add(
            ClaimedJob {
                asyncoperation_id: job_id,
                endpoint_id: step.endpoint_id,
                autodelete: step.async_auto_delete,
                claims: 1,
                row: Some(JobRow {
                    statecode: 0,
                    data,
                    primaryentitytype: event.table.logical_name.clone(),
                    messagename: Some(event.message_name().to_string()),
                    correlationid: Some(event.correlation_id),
                    depth: event.depth,
                }),
            },
            endpoint,
        );
    }
    Ok(())
}
