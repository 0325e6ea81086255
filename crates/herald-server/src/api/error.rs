//! The API's error: an HTTP status plus Dataverse's OData error body
//! `{"error":{"code":"0x…","message":"…"}}`. Every failure a client can
//! cause maps to a 4xx here; a 5xx means a bug or an unavailable store.
//! The pipeline's and the System Jobs' own errors are mapped to HTTP here,
//! at the edge, and nowhere below it.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::QueryError;
use herald_store::StoreError;

use crate::jobs::ControlError;
use crate::pipeline::PipelineError;
use serde_json::json;

/// Dataverse error codes herald uses (hex strings as Dataverse sends them).
pub mod codes {
    pub const NOT_FOUND: &str = "0x80040217";
    pub const BAD_REQUEST: &str = "0x80060888";
    pub const INVALID_ARGUMENT: &str = "0x80040203";
    pub const INVALID_PAYLOAD: &str = "0x80048d19";
    pub const DUPLICATE: &str = "0x80040237";
    pub const CONCURRENCY: &str = "0x80060882";
    pub const UNAUTHORIZED: &str = "0x80072560";
    pub const FORBIDDEN: &str = "0x80040220";
    pub const TOO_LARGE: &str = "0x8004f0ff";
    pub const UNSUPPORTED: &str = "0x8006088a";
    pub const ENDPOINT_UNAVAILABLE: &str = "0x80050203";
    pub const LOOP_DETECTED: &str = "0x80044182";
    pub const INTERNAL: &str = "0x80040216";
    /// Dataverse's service protection limit (too many requests).
    pub const TOO_MANY_REQUESTS: &str = "0x80072321";
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::INVALID_ARGUMENT, message)
    }

    pub fn payload(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::INVALID_PAYLOAD, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    /// Dataverse's message for a missing row.
    pub fn record_not_found(table: &str, id: impl std::fmt::Display) -> Self {
        Self::not_found(format!("{table} With Id = {id} Does Not Exist"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, codes::CONCURRENCY, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL, message)
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, message = %self.message, "request failed");
        }
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        resp.headers_mut()
            .insert("OData-Version", HeaderValue::from_static("4.0"));
        resp
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        ApiError::bad_request(e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // A safety net: input the parsers let through but PostgreSQL
        // refuses as data (SQLSTATE class 22) is the client's error.
        if let Some(m) = e.data_exception() {
            return ApiError::bad_request(format!("The store cannot accept a value: {m}"));
        }
        match e {
            StoreError::Duplicate(id) => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                codes::DUPLICATE,
                format!("A record with matching key values already exists (id {id})"),
            ),
            StoreError::Invalid(m) => ApiError::bad_request(m),
            StoreError::Database(sqlx::Error::PoolTimedOut) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::INTERNAL,
                "The store is busy; try again",
            ),
            other => ApiError::internal(format!("store error: {other}")),
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        let message = e.to_string();
        match e {
            PipelineError::Unknown(_) => ApiError::bad_request(message),
            PipelineError::Invalid(_) => ApiError::invalid(message),
            PipelineError::InvalidPayload(_) => ApiError::payload(message),
            PipelineError::NotFound { .. } => ApiError::not_found(message),
            PipelineError::Duplicate(_) => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, codes::DUPLICATE, message)
            }
            PipelineError::Precondition(_) => ApiError::precondition(message),
            PipelineError::LoopDetected { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, codes::LOOP_DETECTED, message)
            }
            PipelineError::EndpointUnavailable { .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                codes::ENDPOINT_UNAVAILABLE,
                message,
            ),
            PipelineError::Forbidden(_) | PipelineError::MissingPrivilege(_) => {
                ApiError::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            PipelineError::Store(e) => ApiError::from(e),
            PipelineError::Internal(_) => ApiError::internal(message),
        }
    }
}

impl From<herald_core::security::Missing> for ApiError {
    fn from(m: herald_core::security::Missing) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, m.to_string())
    }
}

impl From<crate::security::ReadError> for ApiError {
    fn from(e: crate::security::ReadError) -> Self {
        match e {
            crate::security::ReadError::Denied(m) => ApiError::from(m),
            crate::security::ReadError::Store(e) => ApiError::from(e),
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let message = e.to_string();
        match e {
            ControlError::NotWritable(_) | ControlError::MissingPrivilege(_) => {
                ApiError::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
            }
            ControlError::NoSuchTransition { .. }
            | ControlError::Refused(_)
            | ControlError::CannotRun(_) => ApiError::invalid(message),
            ControlError::NotFound(_) => ApiError::not_found(message),
            ControlError::Store(e) => ApiError::from(e),
            ControlError::Internal(_) => ApiError::internal(message),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
