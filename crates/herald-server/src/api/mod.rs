//! HTTP routers: the OData Web API under `/api/data/v9.x`, health, and the
//! OData-shaped fallbacks for unknown routes and panics.

mod bins;
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

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::api::error::ApiError;

/// Requests a request bin keeps.
pub const BIN_KEEP: i64 = bins::KEEP;
/// Body bytes a request bin keeps per request.
pub const BIN_BODY_CAP: usize = bins::BODY_CAP;
use crate::state::SharedState;

pub fn router(state: SharedState) -> Router {
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
        .route("/api/data/{version}/{*rest}", any(odata::handle))
        .merge(crate::bc::routes())
        .merge(crate::console::router(state.clone()))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::not_found(format!(
        "No resource at '{}': the data API lives under /api/data/v9.2/",
        uri.path()
    ))
    .into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        crate::api::error::codes::INTERNAL,
        "Internal error (this is a bug in herald; see the server log)",
    )
    .into_response()
}

async fn metrics(axum::extract::State(state): axum::extract::State<SharedState>) -> Response {
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
    let body = state.metrics.render(queue, now, state.store.pool_usage());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Count every request by matched route, method and status.
async fn count_requests(
    axum::extract::State(state): axum::extract::State<SharedState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    state
        .metrics
        .http_requests
        .get_or_create(&crate::metrics::HttpLabels {
            route,
            method,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}
