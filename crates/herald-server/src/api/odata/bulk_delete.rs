//! `POST /api/data/v9.x/BulkDelete` (Dataverse's unbound action): checks
//! the body, starts the System Job (`jobs::bulk_delete`) and answers
//! `{"JobId": …}` at once, as Dataverse does; the deleting happens in the
//! job. Not part of a change set: the job runs on its own whatever the
//! `$batch` around it does.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value as Json};

use super::{odata_json, Request};
use crate::api::error::{ApiError, ApiResult};
use crate::api::path::NAMESPACE;
use crate::api::payload::json_object;
use crate::jobs::bulk_delete::{parse_request, submit, BulkDeleteError};
use crate::state::SharedState;

/// The action's name, as the path may name it.
pub(super) fn is_bulk_delete(name: &str) -> bool {
    name.strip_prefix(NAMESPACE).unwrap_or(name) == "BulkDelete"
}

impl From<BulkDeleteError> for ApiError {
    fn from(e: BulkDeleteError) -> ApiError {
        match e {
            BulkDeleteError::Invalid(m) => ApiError::bad_request(m),
            BulkDeleteError::Store(s) => s.into(),
            BulkDeleteError::Internal(m) => ApiError::internal(m),
            e @ BulkDeleteError::LeaseLost => ApiError::internal(e.to_string()),
        }
    }
}

pub(super) async fn run(state: &SharedState, req: &Request, body: &[u8]) -> ApiResult<Response> {
    let body = Json::Object(json_object(body)?);
    let request = parse_request(state, &body)?;
    let job = submit(state, request, req.caller.user_id).await?;
    Ok(odata_json(
        StatusCode::OK,
        json!({
            "@odata.context": format!("{}$metadata#{NAMESPACE}BulkDeleteResponse", req.base),
            "JobId": job,
        }),
    ))
}
