//! Running the matching steps of one stage: synchronous steps are delivered
//! now, inside the write's transaction (a failure rolls the write back);
//! asynchronous steps (stage 40 only) become System Jobs in the same
//! transaction (the outbox).

use herald_core::context::ExecutionContext;
use herald_core::matching::{steps_for_stage, StepDef};
use herald_core::new_job::NewSystemJob;
use herald_delivery::Outcome;
use herald_store::{ClaimedJob, JobRow, NewJob, Tx};
use uuid::Uuid;

use chrono::{DateTime, Utc};
use herald_core::Table;

use super::error::{PipelineError, PipelineResult};
use super::registrations::StepSet;
use crate::jobs::handoff::Reservations;
use crate::state::AppState;
use crate::webhook::{self, CallKind, Endpoint, Payload, WebhookCall};

/// What raised the steps: one record's write ([`super::event::Event`]) or a
/// bulk message run once for many records ([`super::bulk::BulkEvent`]).
pub trait Raised: Sync {
    /// The message steps are registered for.
    fn message_name(&self) -> &str;
    fn table(&self) -> &Table;
    /// Columns the caller changed (for filtering attributes).
    fn changed_columns(&self) -> Vec<String>;
    /// The record a System Job is regarding.
    fn regarding(&self) -> Uuid;
    fn correlation_id(&self) -> Uuid;
    fn depth(&self) -> i64;
    fn caller(&self) -> Uuid;
    fn now(&self) -> DateTime<Utc>;
    /// The context one step receives.
    fn context(
        &self,
        state: &AppState,
        step: &StepDef,
        operation_id: Uuid,
        request_id: Option<Uuid>,
    ) -> ExecutionContext;
}

/// Run the steps of a stage before the write (10 or 20): synchronous
/// steps only (async steps run at stage 40 alone).
pub async fn run_stage(
    state: &AppState,
    tx: &mut Tx,
    event: &dyn Raised,
    steps: &[StepDef],
    stage: i64,
) -> PipelineResult<()> {
    run(state, tx, event, steps, stage, None).await
}

/// Run the PostOperation (stage 40) steps: sync steps are delivered, async
/// steps become System Jobs, leased to this node's workers when
/// `direct` has room (see `jobs::handoff`).
pub async fn run_post_operation(
    state: &AppState,
    tx: &mut Tx,
    event: &dyn Raised,
    steps: &StepSet,
    direct: &mut Reservations<'_>,
) -> PipelineResult<()> {
    run(state, tx, event, steps, 40, Some((direct, steps))).await
}

async fn run(
    state: &AppState,
    tx: &mut Tx,
    event: &dyn Raised,
    steps: &[StepDef],
    stage: i64,
    mut direct: Option<(&mut Reservations<'_>, &StepSet)>,
) -> PipelineResult<()> {
    let changed = event.changed_columns();
    for step in steps_for_stage(
        steps,
        stage,
        event.message_name(),
        &event.table().logical_name,
        &changed,
    ) {
        if step.is_async() {
            if let (40, Some((direct, set))) = (stage, direct.as_mut()) {
                let endpoint = set.endpoints.get(&step.endpoint_id).cloned();
                enqueue(state, tx, event, step, direct, endpoint).await?;
            }
            continue;
        }
        let endpoint = webhook::load(tx, step.endpoint_id, state.clock.now())
            .await?
            .ok_or_else(|| {
                PipelineError::invalid(format!(
                    "The webhook {} of a registered step does not exist",
                    step.endpoint_id
                ))
            })?;
        let request_id = Uuid::new_v4();
        let ctx = event.context(state, step, Uuid::new_v4(), Some(request_id));
        state.depths.record(event.correlation_id(), event.depth());
        deliver_sync(state, &endpoint, &ctx, request_id).await?;
    }
    Ok(())
}

/// Deliver a synchronous step's context now; any failure is the write's.
async fn deliver_sync(
    state: &AppState,
    endpoint: &Endpoint,
    ctx: &ExecutionContext,
    request_id: Uuid,
) -> PipelineResult<()> {
    let unavailable = |why: String| PipelineError::EndpointUnavailable {
        name: endpoint.name.clone(),
        url: endpoint.url.clone(),
        why,
    };
    let call = WebhookCall {
        endpoint,
        payload: Payload::of_context(ctx),
        request_id,
        message_id: request_id,
    };
    let request = call
        .request(&state.config.server.organization, state.clock.now())
        .map_err(|e| unavailable(format!("the webhook '{}' {e}", endpoint.name)))?;
    let delivery = webhook::send(state, CallKind::Sync, &endpoint.name, &request).await;
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
    event: &dyn Raised,
    step: &StepDef,
    direct: &mut Reservations<'_>,
    endpoint: Option<std::sync::Arc<herald_store::Record>>,
) -> PipelineResult<()> {
    // Time-ordered (UUIDv7): the jobs a claim takes, oldest first, were
    // written together and sit together in every index on their id, so
    // claiming, completing and reading a batch touches a few pages of
    // each B-tree rather than one random page per job (with random ids a
    // SQLite drain spent most of its writer's time there: 3× slower).
    let job_id = Uuid::now_v7();
    let ctx = event.context(state, step, job_id, None);
    let data = ctx.to_json_string();
    let lease = direct.reserve(state.clock.now().timestamp_millis());
    // The context goes into the row, and (leased) to the worker too.
    let handed_data = lease.as_ref().map(|_| data.clone());
    let schema_now = state.schema();
    let table = schema_now
        .table("asyncoperation")
        .ok_or_else(|| PipelineError::internal("no asyncoperation table"))?;
    let job = NewSystemJob {
        id: job_id,
        name: &step.name,
        step_id: step.id,
        table: &event.table().logical_name,
        message: event.message_name(),
        regarding: event.regarding(),
        correlation_id: event.correlation_id(),
        request_id: crate::request_id::current(),
        depth: event.depth(),
        data,
        caller: event.caller(),
        at: event.now(),
    };
    tx.insert_system_job(table, job.into_row()).await?;
    tx.enqueue_job(
        &NewJob::ready(
            job_id,
            step.endpoint_id,
            event.now().timestamp_millis(),
            step.async_auto_delete,
        )
        .leased(lease),
    )
    .await?;
    if let Some(data) = handed_data {
        direct.add(
            ClaimedJob {
                asyncoperation_id: job_id,
                endpoint_id: step.endpoint_id,
                autodelete: step.async_auto_delete,
                claims: 1,
                row: Some(JobRow {
                    state: herald_core::job::JobState::Ready,
                    data,
                    primaryentitytype: event.table().logical_name.clone(),
                    messagename: Some(event.message_name().to_string()),
                    correlationid: Some(event.correlation_id()),
                    depth: event.depth(),
                }),
            },
            endpoint,
        );
    }
    Ok(())
}
