//! Business Central compatibility (SPEC §5, seed 004): the BC data API
//! over the built-in `bc_*` tables, webhook subscriptions with the
//! validation handshake, change capture inside the write transaction, and
//! the notifier that delivers coalesced notifications with BC's retry rules.
//!
//! | file | concept |
//! |---|---|
//! | `path` | request paths, subscription resources, notification resources |
//! | `entity` | camelCase JSON ↔ columns, `$filter`/`$orderby` renaming |
//! | `data` | `companies` and `companies(<id>)/<entity>` (writes via the pipeline) |
//! | `lines` | document lines (`salesInvoices(<id>)/salesInvoiceLines`), totals roll-up |
//! | `numbering` | defaults and number series of creates |
//! | `expand` | `$expand` on navigation properties |
//! | `metadata` | `$metadata`, the CSDL of the entities |
//! | `subscriptions` | `subscriptions` and `webhookSupportedEntities` |
//! | `handshake` | the `validationToken` handshake |
//! | `capture` | the pipeline hook writing `herald_bc_change` rows |
//! | `coalesce` | one notification per record per window |
//! | `schedule` | retry delays, `Retry-After`, the 36 h horizon |
//! | `notifier` | the delay window, batching per URL, delivery ([`tick`]) |
//! | `errors` | BC error codes |

pub mod capture;
pub mod coalesce;
pub mod data;
pub mod entity;
pub mod errors;
pub mod expand;
pub mod handshake;
pub mod lines;
pub mod metadata;
pub mod notifier;
pub mod notifier_state;
pub mod numbering;
pub mod path;
pub mod schedule;
pub mod subscriptions;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use herald_core::odata::{percent_decode, split_query_string};
use serde_json::Value as Json;

use crate::api::error::ApiResult;
use crate::auth::{authenticate, Caller};
use crate::public_origin::PublicOrigin;
use crate::state::SharedState;
use path::BcPath;

pub use notifier::{spawn_notifier, tick, TickReport};

pub use herald_core::fixed_ids::default_company_id;

/// The routes `/api/v1.0/…` and `/api/v2.0/…`.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1.0/{*rest}", any(handle))
        .route("/api/v2.0/{*rest}", any(handle))
}

/// What a BC handler needs about its request.
pub struct BcRequest {
    /// `v1.0` or `v2.0`.
    pub version: &'static str,
    /// `<scheme>://<host>/api/<version>/` (see `public_origin`)
    pub base: String,
    pub options: Vec<(String, String)>,
    pub raw_query: String,
    pub headers: HeaderMap,
    pub caller: Caller,
}

/// A JSON answer with the OData headers.
pub fn json_response(status: StatusCode, body: Json) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; odata.metadata=minimal"),
    );
    resp.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    resp
}

pub fn no_content() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    r
}

/// A request body as a JSON object.
pub fn json_object(body: &[u8]) -> ApiResult<serde_json::Map<String, Json>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(errors::bad_request(
            "The request body is empty: send a JSON object",
        ));
    }
    match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err(errors::bad_request(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(errors::bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

async fn handle(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    RawQuery(raw): RawQuery,
    origin: PublicOrigin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match dispatch(
        &state,
        method,
        &uri,
        raw.unwrap_or_default(),
        &origin,
        headers,
        body,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn dispatch(
    state: &SharedState,
    method: Method,
    uri: &Uri,
    raw_query: String,
    origin: &PublicOrigin,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let after_api = uri.path().strip_prefix("/api/").unwrap_or("");
    let (version, rest) = after_api.split_once('/').unwrap_or((after_api, ""));
    let version = *path::VERSIONS
        .iter()
        .find(|v| **v == version)
        .ok_or_else(|| errors::not_found("Unknown API version"))?;
    let caller = authenticate(state, &headers).await?;
    let req = BcRequest {
        version,
        base: origin.url(&format!("/api/{version}/")),
        options: split_query_string(&raw_query),
        raw_query,
        headers,
        caller,
    };
    let limit = state.config.server.max_body_size;
    let body = crate::edge::read_limited(body, limit)
        .await
        .map_err(|e| match e {
            crate::edge::BodyError::TooLarge(_) => crate::api::error::ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BadRequest",
                e.to_string(),
            ),
            crate::edge::BodyError::Incomplete(_) => errors::bad_request(e.to_string()),
        })?;
    let target = path::parse(&percent_decode(rest))?;
    let st: &crate::state::AppState = state;
    match (&method, target) {
        (&Method::GET, BcPath::Metadata) => Ok(metadata::response()),
        (&Method::GET, BcPath::Companies) => data::list_companies(st, &req).await,
        (&Method::GET, BcPath::Company(id)) => data::get_company(st, &req, id).await,
        (&Method::GET, BcPath::Entities { company, entity }) => {
            data::list(st, &req, company, entity).await
        }
        (&Method::POST, BcPath::Entities { company, entity }) => {
            data::create(st, &req, company, entity, &body).await
        }
        (
            &Method::GET,
            BcPath::Entity {
                company,
                entity,
                id,
            },
        ) => data::get(st, &req, company, entity, id).await,
        (
            &Method::PATCH,
            BcPath::Entity {
                company,
                entity,
                id,
            },
        ) => data::update(st, &req, company, entity, id, &body).await,
        (
            &Method::DELETE,
            BcPath::Entity {
                company,
                entity,
                id,
            },
        ) => data::delete(st, &req, company, entity, id).await,
        (
            &Method::GET,
            BcPath::Lines {
                company,
                lines,
                document,
            },
        ) => lines::list(st, &req, company, lines, document).await,
        (
            &Method::POST,
            BcPath::Lines {
                company,
                lines,
                document,
            },
        ) => lines::create(st, &req, company, lines, document, &body).await,
        (
            &Method::GET,
            BcPath::Line {
                company,
                lines,
                document,
                id,
            },
        ) => lines::get(st, &req, company, lines, document, id).await,
        (
            &Method::PATCH,
            BcPath::Line {
                company,
                lines,
                document,
                id,
            },
        ) => lines::update(st, &req, company, lines, document, id, &body).await,
        (
            &Method::DELETE,
            BcPath::Line {
                company,
                lines,
                document,
                id,
            },
        ) => lines::delete(st, &req, company, lines, document, id).await,
        (&Method::GET, BcPath::Subscriptions) => subscriptions::list(st, &req).await,
        (&Method::POST, BcPath::Subscriptions) => subscriptions::create(st, &req, &body).await,
        (&Method::GET, BcPath::Subscription(id)) => subscriptions::get(st, &req, &id).await,
        (&Method::PATCH, BcPath::Subscription(id)) => {
            subscriptions::renew(st, &req, &id, &body).await
        }
        (&Method::DELETE, BcPath::Subscription(id)) => subscriptions::delete(st, &req, &id).await,
        (&Method::GET, BcPath::SupportedEntities(company)) => {
            Ok(subscriptions::supported(&req, company))
        }
        (m, _) => Err(errors::method_not_allowed(format!(
            "{m} is not supported on this resource"
        ))),
    }
}
