//! HTTP routers: the OData Web API under `/api/data/v9.x`, health, and the
//! OData-shaped fallbacks for unknown routes and panics.

mod jobs;
mod metadata;
mod notify;
mod odata;
mod path;
mod payload;
mod prefer;
mod representation;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::state::SharedState;

pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/data/{version}/{*rest}", any(odata::handle))
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::not_found(format!("No resource at '{}': the data API lives under /api/data/v9.2/", uri.path())).into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, crate::error::codes::INTERNAL, "Internal error (this is a bug in herald; see the server log)").into_response()
}
