//! Console failures as HTML pages (the API's errors are OData JSON; a
//! browser gets a readable page with the same status and message).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout::{page, respond, Nav};
use super::session::Session;
use crate::api::error::ApiError;

/// A failed console request.
#[derive(Debug)]
pub struct ConsoleError {
    pub status: StatusCode,
    pub message: String,
    /// The session, when known, so the page keeps its nav bar.
    pub session: Option<Box<Session>>,
}

pub type ConsoleResult<T> = Result<T, ConsoleError>;

impl ConsoleError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ConsoleError {
            status,
            message: message.into(),
            session: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn with(mut self, session: &Session) -> Self {
        self.session = Some(Box::new(session.clone()));
        self
    }
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        if e.status.is_server_error() {
            tracing::error!(status = %e.status, message = %e.message, "console request failed");
        }
        ConsoleError::new(e.status, e.message)
    }
}

impl From<crate::pipeline::PipelineError> for ConsoleError {
    fn from(e: crate::pipeline::PipelineError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::jobs::ControlError> for ConsoleError {
    fn from(e: crate::jobs::ControlError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<herald_store::StoreError> for ConsoleError {
    fn from(e: herald_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// Attach the session to errors of `r`.
pub trait WithSession<T> {
    fn ctx(self, s: &Session) -> ConsoleResult<T>;
}

impl<T, E: Into<ConsoleError>> WithSession<T> for Result<T, E> {
    fn ctx(self, s: &Session) -> ConsoleResult<T> {
        self.map_err(|e| e.into().with(s))
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = html! {
            h1 { (self.status.as_u16()) " " (title) }
            div.notice.error { (self.message) }
            @if self.session.is_some() {
                p { a href="/console/jobs" { "Back to System Jobs" } }
            } @else {
                p { a href="/console/login" { "Sign in" } }
            }
        };
        respond(
            self.status,
            page(title, Nav::None, self.session.as_deref(), body),
        )
    }
}
