//! The `asyncoperation` row of a new System Job, as Dataverse fills it for
//! an asynchronous step: Ready (0/0), operation type 1 (System Event), the
//! step as owning extension, the record it is about, the correlation and
//! depth of the event, the id of the HTTP request that caused it, and the serialized `RemoteExecutionContext` as
//! `data`. Built here once, so the pipeline does not assemble its columns
//! by hand.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::job::JobPhase;
use crate::Value;

/// Dataverse's `asyncoperation.operationtype` of a plug-in / webhook step.
pub const OPERATION_TYPE_SYSTEM_EVENT: i64 = 1;

/// A System Job about to be written.
#[derive(Debug, Clone)]
pub struct NewSystemJob<'a> {
    pub id: Uuid,
    /// The step's name, which Dataverse copies into the job's name.
    pub name: &'a str,
    pub step_id: Uuid,
    /// The table and message of the event.
    pub table: &'a str,
    pub message: &'a str,
    /// The record the event is about (`regardingobjectid`).
    pub regarding: Uuid,
    pub correlation_id: Uuid,
    /// The id of the HTTP request whose write raised the job
    /// (`requestid`), when there was one.
    pub request_id: Option<Uuid>,
    pub depth: i64,
    /// The serialized execution context (moved into the row, not copied:
    /// it is the bulk of the row).
    pub data: String,
    /// Who made the write (`createdby` / `modifiedby`).
    pub caller: Uuid,
    pub at: DateTime<Utc>,
}

impl NewSystemJob<'_> {
    /// The row's columns.
    pub fn into_row(self) -> Vec<(String, Value)> {
        let phase = JobPhase::READY;
        let at = Value::DateTime(self.at);
        let text = |s: &str| Value::String(s.to_string());
        [
            ("asyncoperationid", Value::Guid(self.id)),
            ("name", text(self.name)),
            ("operationtype", Value::Int(OPERATION_TYPE_SYSTEM_EVENT)),
            ("statecode", Value::Int(phase.state.code())),
            ("statuscode", Value::Int(phase.status.code())),
            ("owningextensionid", Value::Guid(self.step_id)),
            ("primaryentitytype", text(self.table)),
            ("messagename", text(self.message)),
            ("regardingobjectid", Value::Guid(self.regarding)),
            ("correlationid", Value::Guid(self.correlation_id)),
            (
                "requestid",
                self.request_id.map_or(Value::Null, Value::Guid),
            ),
            ("depth", Value::Int(self.depth)),
            ("retrycount", Value::Int(0)),
            ("errorcode", Value::Null),
            ("data", Value::String(self.data)),
            ("createdon", at.clone()),
            ("modifiedon", at),
            ("createdby", Value::Guid(self.caller)),
            ("modifiedby", Value::Guid(self.caller)),
            ("versionnumber", Value::Int(1)),
        ]
        .into_iter()
        .map(|(c, v)| (c.to_string(), v))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_job_is_ready_and_about_its_record() {
        let (id, step, record, caller) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let job = NewSystemJob {
            id,
            name: "step one",
            step_id: step,
            table: "contact",
            message: "Update",
            regarding: record,
            correlation_id: Uuid::nil(),
            request_id: Some(record),
            depth: 2,
            data: "{}".into(),
            caller,
            at: DateTime::from_timestamp_millis(1_000).unwrap(),
        };
        let row = job.into_row();
        let get = |c: &str| row.iter().find(|(n, _)| n == c).map(|(_, v)| v.clone());
        assert_eq!(get("statecode"), Some(Value::Int(0)));
        assert_eq!(get("statuscode"), Some(Value::Int(0)));
        assert_eq!(get("regardingobjectid"), Some(Value::Guid(record)));
        assert_eq!(get("owningextensionid"), Some(Value::Guid(step)));
        assert_eq!(get("modifiedby"), Some(Value::Guid(caller)));
        assert_eq!(get("depth"), Some(Value::Int(2)));
        assert_eq!(get("requestid"), Some(Value::Guid(record)));
        assert_eq!(row.len(), 20);
    }
}
