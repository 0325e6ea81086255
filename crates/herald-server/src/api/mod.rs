//! HTTP routers: the OData Web API under `/api/data/v9.x`, health, and the
//! OData-shaped fallbacks for unknown routes and panics.

pub mod bins;
mod definitions;
pub mod error;
mod jobs;
mod keys;
mod metadata;
mod notify;
mod odata;
mod openapi;
mod path;
mod payload;
mod prefer;
mod representation;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;

use crate::api::error::ApiError;

/// Requests a request bin keeps.
pub const BIN_KEEP: i64 = bins::KEEP;
/// Body bytes a request bin keeps per request.
pub const BIN_BODY_CAP: usize = bins::BODY_CAP;
use crate::state::SharedState;

/// herald's own routes: health, metrics, the OpenAPI document, request
/// bins, API keys and the OData Web API (`crate::app` adds the Business
/// Central API, the console and the layers every route shares).
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .route("/bins/{id}", any(bins::capture))
        .route("/bins/{id}/{*rest}", any(bins::capture))
        .route(
            "/api/herald/bins",
            axum::routing::post(bins::create).get(bins::list),
        )
        .route(
            "/api/herald/bins/{id}",
            get(bins::show).delete(bins::delete),
        )
        .route(
            "/api/herald/keys",
            axum::routing::post(keys::create).get(keys::list),
        )
        .route(
            "/api/herald/keys/{key}",
            axum::routing::delete(keys::remove),
        )
        .route("/api/data/{version}", any(odata::handle_root))
        .route("/api/data/{version}/", any(odata::handle_root))
        .route("/api/data/{version}/{*rest}", any(odata::handle))
}

/// Unknown routes: an OData 404.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::not_found(format!(
        "No resource at '{}': the data API lives under /api/data/v9.2/",
        uri.path()
    ))
    .into_response()
}

/// A panic in a handler: an OData 500 (and the panic in the log).
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        crate::api::error::codes::INTERNAL,
        "Internal error (this is a bug in herald; see the server log)",
    )
    .into_response()
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<SharedState>,
    headers: axum::http::HeaderMap,
) -> Response {
    let format = crate::metrics::Exposition::negotiate(
        headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let now = state.clock.now().timestamp_millis();
    let queue = state.store.queue_depth(now).await.unwrap_or((0, None));
    state
        .metrics
        .bc_pending
        .set(state.store.bc_pending_notifications().await.unwrap_or(0));
    state
        .metrics
        .bc_changes_waiting
        .set(state.store.bc_pending_changes().await.unwrap_or(0));
    let body = state
        .metrics
        .render(queue, now, state.store.pool_usage(), format);
    (
        [(axum::http::header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}
