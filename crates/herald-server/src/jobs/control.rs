//! What a client may do to a System Job: cancel (Ready, Suspended or
//! Locked → Completed/Canceled), pause (Ready or Locked → Suspended),
//! resume (Suspended → Ready), herald's retry of a failed or canceled job
//! (→ Ready), and postponing (`postponeuntil`). Nothing else of a job can be
//! written; jobs are created only by the server. Which transition may
//! follow which state is `herald_core::job::JobPhase`'s rule; this module
//! applies it to the row and the queue in one transaction.

use chrono::{DateTime, Utc};
use herald_core::job::{JobPhase, JobState, JobStatus, JobTransition, TransitionRefused};
use herald_core::{Table, Value};
use herald_store::{Record, StoreError};
use uuid::Uuid;

use crate::state::AppState;

/// Why a change of a System Job was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Only the state and `postponeuntil` of a job can be written.
    #[error(
        "'{0}' of a System Job cannot be changed: only statecode, statuscode and postponeuntil can"
    )]
    NotWritable(String),
    /// The codes asked for name no transition.
    #[error("A System Job in statecode {from}/statuscode {from_status} cannot move to statecode {to}/statuscode {to_status}: allowed are cancel (3/32 from Ready, Suspended or Locked), pause (1 from Ready or Locked), resume (0 from Suspended) and retry (0 from Failed or Canceled)")]
    NoSuchTransition {
        from: i64,
        from_status: i64,
        to: String,
        to_status: String,
    },
    /// The transition is impossible from the job's state.
    #[error(transparent)]
    Refused(#[from] TransitionRefused),
    #[error("asyncoperation With Id = {0} Does Not Exist")]
    NotFound(Uuid),
    /// The caller's security roles do not let it change System Jobs.
    #[error("{0}")]
    MissingPrivilege(herald_core::security::Missing),
    /// The job cannot run again (its step or webhook is gone).
    #[error("{0}")]
    CannotRun(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

pub type ControlResult<T> = Result<T, ControlError>;

/// The change a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum JobChange {
    Move(JobTransition),
    Postpone(Option<DateTime<Utc>>),
}

/// The phase of a job's row.
pub fn phase_of(job: &Record) -> JobPhase {
    JobPhase::from_row_codes(job.int("statecode"), job.int("statuscode"))
}

/// Interpret a PATCH body of `asyncoperations(<id>)`.
pub fn change_from_values(
    values: &[(String, Value)],
    current: &Record,
) -> ControlResult<Vec<JobChange>> {
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
            other => return Err(ControlError::NotWritable(other.to_string())),
        }
    }
    let now = phase_of(current);
    let asked = (
        state.and_then(JobState::from_code),
        status.and_then(JobStatus::from_code),
    );
    let transition = match asked {
        _ if state.is_none() && status.is_none() => None,
        (Some(JobState::Completed) | None, Some(JobStatus::Canceled)) => {
            Some(JobTransition::Cancel)
        }
        (Some(JobState::Suspended), _) => Some(JobTransition::Pause),
        (Some(JobState::Ready), _) | (None, Some(JobStatus::WaitingForResources))
            if now.state == JobState::Suspended =>
        {
            Some(JobTransition::Resume)
        }
        (Some(JobState::Ready), _) | (None, Some(JobStatus::WaitingForResources))
            if now.is_retryable() =>
        {
            Some(JobTransition::Retry)
        }
        _ => {
            let code = |c: Option<i64>| c.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
            return Err(ControlError::NoSuchTransition {
                from: now.state.code(),
                from_status: now.status.code(),
                to: code(state),
                to_status: code(status),
            });
        }
    };
    changes.extend(transition.map(JobChange::Move));
    Ok(changes)
}

/// `asyncoperation` is built in: the base schema has it.
fn table(state: &AppState) -> ControlResult<&Table> {
    state
        .base_schema
        .table("asyncoperation")
        .ok_or_else(|| ControlError::Internal("no asyncoperation table".into()))
}

fn phase_values(phase: JobPhase) -> [(String, Value); 2] {
    [
        ("statecode".into(), Value::Int(phase.state.code())),
        ("statuscode".into(), Value::Int(phase.status.code())),
    ]
}

/// Apply changes to a job in one transaction.
pub async fn apply(
    state: &AppState,
    id: Uuid,
    changes: &[JobChange],
    caller: Uuid,
) -> ControlResult<Record> {
    let t = table(state)?;
    let mut tx = state.store.begin().await?;
    // Controlling a job is writing it: prvWriteAsyncOperation (own jobs
    // only at the user depth).
    let grants = state.security.in_tx(&mut tx, caller).await?;
    let scope = grants
        .check(t, herald_core::security::Privilege::Write)
        .map_err(ControlError::MissingPrivilege)?;
    let current = tx
        .get(t, id)
        .await?
        .filter(|r| scope == herald_core::security::Scope::All || grants.owns(t, |c| r.guid(c)))
        .ok_or(ControlError::NotFound(id))?;
    if crate::jobs::bulk_delete::is_bulk_delete(&current)
        && changes
            .iter()
            .any(|c| *c != JobChange::Move(JobTransition::Cancel))
    {
        return Err(ControlError::CannotRun(
            "A Bulk Delete System Job can only be canceled: to run it again, submit a new BulkDelete".into(),
        ));
    }
    let now = state.clock.now();
    let mut values: Vec<(String, Value)> = Vec::new();
    let mut requeue_at: Option<i64> = None;
    let mut dequeue = false;
    let mut phase = phase_of(&current);
    for c in changes {
        match c {
            JobChange::Move(transition) => {
                phase = phase.apply(*transition)?;
                values.extend(phase_values(phase));
                match transition {
                    JobTransition::Cancel => {
                        values.push(("completedon".into(), Value::DateTime(now)));
                        dequeue = true;
                    }
                    JobTransition::Pause => dequeue = true,
                    JobTransition::Resume | JobTransition::Retry => {
                        if *transition == JobTransition::Retry {
                            for column in ["completedon", "message", "friendlymessage", "errorcode"]
                            {
                                values.push((column.into(), Value::Null));
                            }
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
                }
            }
            JobChange::Postpone(when) => {
                values.push((
                    "postponeuntil".into(),
                    when.map(Value::DateTime).unwrap_or(Value::Null),
                ));
                if phase.state == JobState::Ready {
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
    if crate::jobs::bulk_delete::is_bulk_delete(&current) {
        // Its bulkdeleteoperation shows the cancel too (the running job
        // stops at its next batch; a postponed one does not start).
        if let Some(operations) = state.base_schema.table("bulkdeleteoperation") {
            tx.update(operations, id, &phase_values(phase)).await?;
        }
    }
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
) -> ControlResult<(Uuid, bool)> {
    let step_id = job
        .guid("owningextensionid")
        .ok_or_else(|| ControlError::CannotRun("The System Job has no step".into()))?;
    let schema_now = state.schema();
    let steps = schema_now
        .table("sdkmessageprocessingstep")
        .ok_or_else(|| ControlError::Internal("no step table".into()))?;
    let step = tx.get(steps, step_id).await?.ok_or_else(|| {
        ControlError::CannotRun(format!(
            "The step {step_id} of this System Job was deleted; the job cannot run again"
        ))
    })?;
    let endpoint = step
        .guid("eventhandler")
        .ok_or_else(|| ControlError::CannotRun("The job's step has no webhook".into()))?;
    Ok((
        endpoint,
        step.get("asyncautodelete")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    ))
}
