//! The whole HTTP surface in one router: herald's API (`api`), the Business
//! Central API (`bc`) and the console (`console`), with what every route
//! shares — the OData 404 for unknown routes, the OData 500 for a panic,
//! no global body limit (each handler enforces its own), the request
//! counter of `/metrics`, the throttle of failed sign-ins (`throttle`), and the request's public origin (the scheme and
//! host of the URLs herald writes, `public_origin`) and its request id
//! (`request_id`). Assembled here, above
//! the rooms, so none of them imports another's router.

use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::decompression::RequestDecompressionLayer;

use crate::state::SharedState;

pub fn router(state: SharedState) -> Router {
    crate::api::routes()
        .merge(crate::bc::routes())
        .merge(crate::console::router(state.clone()))
        .fallback(crate::api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            (
                state.clone(),
                std::sync::Arc::new(crate::throttle::Throttle::default()),
            ),
            crate::throttle::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::public_origin::attach,
        ))
        .layer(axum::middleware::from_fn(crate::request_id::attach))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestDecompressionLayer::new().gzip(true))
        .layer(axum::middleware::from_fn(crate::edge::guard))
        .layer(CatchPanicLayer::custom(crate::api::panic_response))
        .with_state(state)
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
        .map(|p| crate::metrics::route_label(p.as_str(), req.uri().path(), &state.schema()))
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
