//! System Job endpoints beyond plain OData reads:
//! `PATCH asyncoperations(<id>)` (cancel, pause, resume, retry, postpone),
//! `POST asyncoperations(<id>)/Microsoft.Dynamics.CRM.herald_Retry`, and
//! `GET asyncoperations(<id>)/Microsoft.Dynamics.CRM.herald_Attempts` (every
//! HTTP attempt: time, status, duration, error, response excerpt).

use herald_core::value::format_datetime;
use serde_json::{json, Value as Json};
use uuid::Uuid;

use super::payload::{json_object, values_from_body};
use crate::api::error::{ApiError, ApiResult};
use herald_core::job::JobTransition;

use crate::jobs::control::{apply, change_from_values, JobChange};
use crate::state::AppState;

fn job_json(state: &AppState, base: &str, record: &herald_store::Record) -> ApiResult<Json> {
    let schema_now = state.schema();
    let t = schema_now
        .table("asyncoperation")
        .ok_or_else(|| ApiError::internal("no asyncoperation table"))?;
    let mut m = serde_json::Map::new();
    m.insert(
        "@odata.context".into(),
        Json::String(format!("{base}$metadata#asyncoperations/$entity")),
    );
    m.extend(super::representation::record_json(
        &state.schema(),
        t,
        record,
        None,
    ));
    Ok(Json::Object(m))
}

pub async fn patch(
    state: &AppState,
    base: &str,
    id: Uuid,
    body: &[u8],
    caller: Uuid,
) -> ApiResult<Json> {
    let schema_now = state.schema();
    let t = schema_now
        .table("asyncoperation")
        .ok_or_else(|| ApiError::internal("no asyncoperation table"))?;
    let obj = json_object(body)?;
    let values = values_from_body(&state.schema(), t, &obj)?;
    let current = state
        .store
        .get(t, id)
        .await?
        .ok_or_else(|| ApiError::record_not_found("asyncoperation", id))?;
    let changes = change_from_values(&values, &current)?;
    let after = apply(state, id, &changes, caller).await?;
    job_json(state, base, &after)
}

pub async fn retry(state: &AppState, base: &str, id: Uuid, caller: Uuid) -> ApiResult<Json> {
    let after = apply(state, id, &[JobChange::Move(JobTransition::Retry)], caller).await?;
    job_json(state, base, &after)
}

pub async fn attempts(state: &AppState, base: &str, id: Uuid) -> ApiResult<Json> {
    let schema_now = state.schema();
    let t = schema_now
        .table("asyncoperation")
        .ok_or_else(|| ApiError::internal("no asyncoperation table"))?;
    if state.store.get(t, id).await?.is_none() {
        return Err(ApiError::record_not_found("asyncoperation", id));
    }
    let rows = state.store.attempts(id).await?;
    let value: Vec<Json> = rows
        .iter()
        .map(|a| {
            json!({
                "attempt": a.attempt,
                "startedon": herald_core::value::datetime_from_millis(a.started_ms).to_json(),
                "durationms": a.duration_ms,
                "status": a.status,
                "error": a.error,
                "response": a.response,
            })
        })
        .collect();
    let _ = format_datetime;
    Ok(
        json!({"@odata.context": format!("{base}$metadata#Collection(herald.attempt)"), "value": value}),
    )
}
