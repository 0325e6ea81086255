//! Errors of the Business Central API: the same `{"error":{"code",
//! "message"}}` body as the rest of herald, with Business Central's textual
//! codes (`BadRequest`, `BadRequest_NotFound`, `Request_EntityChanged`, …).

use axum::http::StatusCode;

use crate::api::error::ApiError;

pub fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

pub fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "BadRequest_NotFound", message)
}

pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "BadRequest_MethodNotAllowed",
        message,
    )
}

/// `If-Match` does not match the current `@odata.etag` (412).
pub fn entity_changed(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "Request_EntityChanged",
        message,
    )
}

/// `If-Match` is required but missing (428).
pub fn if_match_required(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_REQUIRED,
        "Request_PreconditionRequired",
        format!(
            "{what} requires an If-Match header with the @odata.etag of the current version (or *)"
        ),
    )
}

pub fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal_ServerError",
        message,
    )
}
