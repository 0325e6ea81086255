//! The Dataverse-dialect OData Web API: `/api/data/v9.x/<set>…`. This
//! module takes the request apart (version, caller, path, options, body);
//! `route` sends it to a read (`read`: list, retrieve, navigation, WhoAmI,
//! the service document), a write (`write`: create, update/upsert, delete,
//! all through the pipeline) or a bound function or action (`bound`, one
//! table of them), `$ref` (`refs`), or a `$batch` of such requests
//! (`batch`), or a bulk message (`bulk`: CreateMultiple, UpdateMultiple,
//! UpsertMultiple) or a `BulkDelete` (`bulk_delete`, a System Job); `writer` decides whether a write commits alone or joins a
//! change set's session.

mod alternate_key;
mod batch;
mod bound;
mod bulk;
mod bulk_delete;
mod fetch_results;
mod read;
mod refs;
mod route;
mod write;
mod writer;

pub(crate) use bound::operations as bound_operations;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use herald_core::odata::{parameter_aliases, resolve_alias};
use herald_core::value::parse_guid;
use herald_core::{Schema, Table};
use serde_json::Value as Json;
use std::sync::Arc;
use uuid::Uuid;

use crate::api::error::{ApiError, ApiResult};
use crate::api::path::Key;
use crate::api::prefer::Prefer;
use crate::auth::Caller;
use crate::public_origin::PublicOrigin;
use crate::state::{AppState, SharedState};

const VERSIONS: [&str; 3] = ["v9.0", "v9.1", "v9.2"];

/// Everything a handler needs about the request.
pub(super) struct Request {
    pub(super) origin: String,
    pub(super) base: String,
    pub(super) options: Vec<(String, String)>,
    pub(super) prefer: Prefer,
    pub(super) headers: HeaderMap,
    pub(super) caller: Caller,
    pub(super) uri: Uri,
    /// The schema this request is answered with (one snapshot for the
    /// whole request, even if a table changes meanwhile).
    pub(super) schema: Arc<Schema>,
}

// One parameter per axum extractor.
#[allow(clippy::too_many_arguments)]
pub async fn handle(
    State(state): State<SharedState>,
    method: Method,
    Path((version, rest)): Path<(String, String)>,
    RawQuery(raw_query): RawQuery,
    uri: Uri,
    origin: PublicOrigin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        route::route(
            &state, method, &version, &rest, raw_query, uri, origin, headers, body,
        )
        .await,
    )
}

/// `/api/data/v9.x` and `/api/data/v9.x/` (the service document): the
/// catch-all of [`handle`] needs at least one character after the slash.
/// One parameter per axum extractor.
#[allow(clippy::too_many_arguments)]
pub async fn handle_root(
    State(state): State<SharedState>,
    method: Method,
    Path(version): Path<String>,
    RawQuery(raw_query): RawQuery,
    uri: Uri,
    origin: PublicOrigin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        route::route(
            &state, method, &version, "", raw_query, uri, origin, headers, body,
        )
        .await,
    )
}

/// The response, or the error as an OData error body.
fn respond(result: ApiResult<Response>) -> Response {
    match result {
        Ok(r) => r,
        // An error before the body was read gets `Connection: close` at
        // the edge (crate::edge).
        Err(e) => e.into_response(),
    }
}

pub(super) async fn read_body(state: &AppState, body: Body) -> ApiResult<Bytes> {
    Ok(crate::edge::read_limited(body, state.config.server.max_body_size).await?)
}

pub(super) fn odata_json(status: StatusCode, body: Json) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    resp
}

pub(super) fn table_for<'a>(req: &'a Request, set: &str) -> ApiResult<&'a Table> {
    req.schema
        .table_by_set(set)
        .ok_or_else(|| ApiError::not_found(format!("Resource not found for the segment '{set}'")))
}

pub(super) fn resolve_key(req: &Request, key: Key) -> ApiResult<Uuid> {
    match key {
        Key::Id(id) => Ok(id),
        Key::Alias(name) => {
            let aliases = parameter_aliases(&req.options);
            let reference = format!("@{name}");
            let raw = resolve_alias(&reference, &aliases)?;
            parse_guid(raw.trim_matches('\'')).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "The value '{raw}' of parameter alias '@{name}' is not a valid GUID"
                ))
            })
        }
        Key::Alternate(_) => Err(ApiError::bad_request(
            "An alternate key addresses a row in GET, PATCH and DELETE of the row itself; use its id here",
        )),
    }
}
