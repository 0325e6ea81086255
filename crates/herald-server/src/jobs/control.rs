//! What a client may do to a System Job (SPEC §3): cancel (Ready, Suspended
//! or Locked → Completed/Canceled), pause (Ready or Locked → Suspended),
//! resume (Suspended → Ready), herald's retry of a failed or canceled job
//! (→ Ready), and postponing (`postponeuntil`). Nothing else of a job can be
//! written; jobs are created only by the server.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use herald_core::{Table, Value};
use herald_store::Record;
use uuid::Uuid;

use super::run::{CANCELED, READY};
use crate::error::{codes, ApiError, ApiResult};
use crate::state::AppState;

/// The change a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum JobChange {
    Cancel,
    Pause,
    Resume,
    Retry,
    Postpone(Option<DateTime<Utc>>),
}

/// Interpret a PATCH body of `asyncoperations(<id>)`.
pub fn change_from_values(
    values: &[(String, Value)],
    current: &Record,
) -> ApiResult<Vec<JobChange>> {
    let mut state = None;
    let mut status = None;
    let mut changes = Vec::new();
    for (k, v) in values {
        match k.as_str() {
            "statecode" => state = v.as_int(),
            "statuscode" => status = v.as_int(),
            "postponeuntil" => changes.push(JobChange::Postpone(match v {
                Value::DateTime(t) => Some(*t),
                _ => None,
            })),
            other => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    codes::FORBIDDEN,
                    format!("'{other}' of a System Job cannot be changed: only statecode, statuscode and postponeuntil can"),
                ))
            }
        }
    }
    let now_state = current.int("statecode").unwrap_or(0);
    let now_status = current.int("statuscode").unwrap_or(0);
    match (state, status) {
        (None, None) => {}
        (Some(3), Some(32)) | (None, Some(32)) => changes.push(JobChange::Cancel),
        (Some(1), _) => changes.push(JobChange::Pause),
        (Some(0), _) | (None, Some(0)) if now_state == 1 => changes.push(JobChange::Resume),
        (Some(0), _) | (None, Some(0)) if now_state == 3 && (now_status == 31 || now_status == 32) => changes.push(JobChange::Retry),
        (s, st) => {
            return Err(ApiError::invalid(format!(
                "A System Job in statecode {now_state}/statuscode {now_status} cannot move to statecode {}/statuscode {}: allowed are cancel (3/32 from Ready, Suspended or Locked), pause (1 from Ready or Locked), resume (0 from Suspended) and retry (0 from Failed or Canceled)",
                s.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                st.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
            )))
        }
    }
    Ok(changes)
}

fn table(state: &AppState) -> ApiResult<&Table> {
    state
        .schema
        .table("asyncoperation")
        .ok_or_else(|| ApiError::internal("no asyncoperation table"))
}

/// Apply changes to a job in one transaction.
pub async fn apply(
    state: &AppState,
    id: Uuid,
    changes: &[JobChange],
    caller: Uuid,
) -> ApiResult<Record> {
    let t = table(state)?;
    let mut tx = state.store.begin().await?;
    let current = tx
        .get(t, id)
        .await?
        .ok_or_else(|| ApiError::record_not_found("asyncoperation", id))?;
    let now = state.clock.now();
    let now_state = current.int("statecode").unwrap_or(0);
    let mut values: Vec<(String, Value)> = Vec::new();
    let mut requeue_at: Option<i64> = None;
    let mut dequeue = false;
    for c in changes {
        match c {
            JobChange::Cancel => {
                if now_state == 3 {
                    return Err(ApiError::invalid("The System Job is already completed; only a failed or canceled job can be retried"));
                }
                values.push(("statecode".into(), Value::Int(CANCELED.0)));
                values.push(("statuscode".into(), Value::Int(CANCELED.1)));
                values.push(("completedon".into(), Value::DateTime(now)));
                dequeue = true;
            }
            JobChange::Pause => {
                if now_state != 0 && now_state != 2 {
                    return Err(ApiError::invalid(
                        "Only a Ready or Locked System Job can be paused",
                    ));
                }
                values.push(("statecode".into(), Value::Int(1)));
                values.push(("statuscode".into(), Value::Int(10)));
                dequeue = true;
            }
            JobChange::Resume | JobChange::Retry => {
                values.push(("statecode".into(), Value::Int(READY.0)));
                values.push(("statuscode".into(), Value::Int(READY.1)));
                if *c == JobChange::Retry {
                    values.push(("completedon".into(), Value::Null));
                    values.push(("message".into(), Value::Null));
                    values.push(("friendlymessage".into(), Value::Null));
                    values.push(("errorcode".into(), Value::Null));
                }
                let postponed = current.get("postponeuntil").and_then(|v| match v {
                    Value::DateTime(t) => Some(t.timestamp_millis()),
                    _ => None,
                });
                requeue_at = Some(
                    postponed
                        .unwrap_or(now.timestamp_millis())
                        .max(now.timestamp_millis()),
                );
            }
            JobChange::Postpone(when) => {
                values.push((
                    "postponeuntil".into(),
                    when.map(Value::DateTime).unwrap_or(Value::Null),
                ));
                if now_state == 0 {
                    requeue_at = Some(
                        when.map(|t| t.timestamp_millis())
                            .unwrap_or(now.timestamp_millis()),
                    );
                }
            }
        }
    }
    values.push(("modifiedon".into(), Value::DateTime(now)));
    values.push(("modifiedby".into(), Value::Guid(caller)));
    values.push((
        "versionnumber".into(),
        Value::Int(current.int("versionnumber").unwrap_or(1) + 1),
    ));
    if dequeue {
        tx.stop_job(id, now.timestamp_millis()).await?;
    }
    if let Some(at) = requeue_at {
        let (endpoint, autodelete) = step_target(&mut tx, state, &current).await?;
        tx.requeue_job(id, endpoint, at, autodelete, now.timestamp_millis())
            .await?;
    }
    tx.update(t, id, &values).await?;
    tx.commit().await?;
    if requeue_at.is_some() {
        state.jobs_wake.notify_one();
    }
    let mut after = current;
    for (k, v) in values {
        after.set(&k, v);
    }
    Ok(after)
}

/// The webhook and autodelete flag of the job's step.
async fn step_target(
    tx: &mut herald_store::Tx,
    state: &AppState,
    job: &Record,
) -> ApiResult<(Uuid, bool)> {
    let step_id = job
        .guid("owningextensionid")
        .ok_or_else(|| ApiError::invalid("The System Job has no step"))?;
    let steps = state
        .schema
        .table("sdkmessageprocessingstep")
        .ok_or_else(|| ApiError::internal("no step table"))?;
    let step = tx.get(steps, step_id).await?.ok_or_else(|| {
        ApiError::invalid(format!(
            "The step {step_id} of this System Job was deleted; the job cannot run again"
        ))
    })?;
    let endpoint = step
        .guid("eventhandler")
        .ok_or_else(|| ApiError::invalid("The job's step has no webhook"))?;
    Ok((
        endpoint,
        step.get("asyncautodelete")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    ))
}
