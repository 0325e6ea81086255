//! Which handler answers a request: the method and the parsed path
//! (`path::Resource`) decide; bound functions and actions come from the
//! one table in `bound`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use herald_core::odata::split_query_string;

use crate::api::error::{ApiError, ApiResult};
use crate::api::path::{self, Resource};
use crate::api::prefer::Prefer;
use crate::auth::authenticate;
use crate::public_origin::PublicOrigin;
use crate::state::AppState;

use super::writer::Writer;
use super::{
    batch, bound, bulk, bulk_delete, odata_json, read, read_body, refs, resolve_key, write,
    Request, VERSIONS,
};

#[allow(clippy::too_many_arguments)]
pub(super) async fn route(
    state: &Arc<AppState>,
    method: Method,
    version: &str,
    rest: &str,
    raw_query: Option<String>,
    uri: Uri,
    origin: PublicOrigin,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if !VERSIONS.contains(&version) {
        return Err(ApiError::not_found(format!(
            "Unknown API version '{version}': use v9.0, v9.1 or v9.2"
        )));
    }
    let caller = authenticate(state, &headers).await?;
    let resource = path::parse(&herald_core::odata::percent_decode(rest))?;
    if matches!(
        resource,
        Resource::Definitions(_) | Resource::Metadata | Resource::Service
    ) {
        // What the metadata API says is current on every node.
        crate::tables::refresh(state).await?;
    }
    let (mut schema_version, schema) = state.store.live_schema().current();
    let mut req = Request {
        base: origin.url(&format!("/api/data/{version}/")),
        origin: origin.origin(),
        options: split_query_string(raw_query.as_deref().unwrap_or("")),
        prefer: Prefer::from_headers(&headers),
        headers,
        caller,
        uri,
        schema,
    };
    let body = read_body(state, body).await?;
    if resource == Resource::Batch {
        return match method {
            Method::POST => batch::run(state, &req, &body).await,
            m => Err(not_allowed(&m)),
        };
    }
    let mut again = 0;
    loop {
        let answer = dispatch(
            state,
            &req,
            method.clone(),
            resource.clone(),
            &body,
            &mut Writer::Alone,
        )
        .await;
        match answer {
            // The schema moved under the request: answer again with the
            // new one (the failed request changed nothing).
            Err(e)
                if again < MAX_ANSWERS_AGAIN
                    && may_answer_again(&method, &e)
                    && crate::tables::moved_since(state, schema_version).await? =>
            {
                again += 1;
                (schema_version, req.schema) = state.store.live_schema().current();
            }
            // A write that failed as the schema changed under it is not
            // run again (its sync steps may have been called), but it is
            // the client's to send again, not a server error: its
            // transaction wrote nothing.
            Err(e)
                if e.status.is_server_error()
                    && (state.store.live_schema().is_changing()
                        || crate::tables::moved_since(state, schema_version).await?) =>
            {
                tracing::debug!(error = %e.message, "a write raced a schema change");
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    crate::api::error::codes::CONCURRENCY,
                    "The table definitions changed while the request ran (a table or column was added or deleted); nothing was written: send the request again",
                ));
            }
            other => return other,
        }
    }
}

/// How many times a request is answered again while the schema keeps
/// moving under it (schema changes are rare; a request racing three in a
/// row gives up).
const MAX_ANSWERS_AGAIN: usize = 3;

/// Whether a failed request may be answered again when the schema moved:
/// a 400 or 404 (a table, column or key this node did not know yet: it may
/// have been made on another node), and, for reads, a 5xx (a column or
/// table dropped between taking the schema and running the statement).
/// A failed write is not run again on a 5xx: its synchronous steps may
/// have been called already.
fn may_answer_again(method: &Method, e: &ApiError) -> bool {
    matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND)
        || (e.status.is_server_error() && matches!(*method, Method::GET | Method::HEAD))
}

/// Answer one parsed request — on its own, or as a part of a `$batch`
/// (whose change sets pass their shared session as `writer`).
pub(super) async fn dispatch(
    state: &Arc<AppState>,
    req: &Request,
    method: Method,
    resource: Resource,
    body: &[u8],
    writer: &mut Writer<'_, '_>,
) -> ApiResult<Response> {
    let (resource, upsert_body) =
        super::alternate_key::resolve(state, req, &method, resource, body).await?;
    let body = upsert_body.as_deref().unwrap_or(body);
    if let Resource::Set {
        set,
        key: Some(k),
        navigation: Some(nav),
    } = &resource
    {
        if let Some(op) = bound::find(&method, set, nav) {
            let id = resolve_key(req, k.clone())?;
            return bound::run(op, state, req, id, body).await;
        }
    }
    match (method, resource) {
        (Method::GET, Resource::WhoAmI) => read::who_am_i(state, req),
        (Method::GET, Resource::RetrieveVersion) => read::retrieve_version(req),
        (Method::GET, Resource::Service) => read::service_document(state, req),
        (Method::GET, Resource::Metadata) => Ok(metadata_document(&req.schema)),
        (Method::GET, Resource::Definitions(path)) => {
            crate::api::definitions::read(&req.schema, &req.base, &path, &req.options)
                .map(|body| odata_json(StatusCode::OK, body))
                .map_err(ApiError::from)
        }
        (m, Resource::Definitions(path)) => {
            let merge_labels = req
                .headers
                .get(crate::api::definitions::write::MERGE_LABELS)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            crate::api::definitions::write::run(
                state,
                &req.base,
                &m,
                &path,
                body,
                &req.caller,
                merge_labels,
            )
            .await
        }
        (
            Method::POST,
            Resource::Set {
                set,
                key: None,
                navigation: None,
            },
        ) if set == crate::api::definitions::write::CREATE_ENTITIES => {
            crate::api::definitions::write::create_entities(state, &req.base, body, &req.caller)
                .await
        }
        (Method::GET, Resource::Set { set, key: None, .. }) => read::list(state, req, &set).await,
        (
            Method::GET,
            Resource::Set {
                set,
                key: Some(k),
                navigation: None,
            },
        ) => read::retrieve(state, req, &set, k).await,
        (
            Method::GET,
            Resource::Set {
                set,
                key: Some(k),
                navigation: Some(nav),
            },
        ) => read::navigate(state, req, &set, k, &nav).await,
        (
            Method::POST,
            Resource::Set {
                set,
                key: None,
                navigation: None,
            },
        ) if bulk_delete::is_bulk_delete(&set) => bulk_delete::run(state, req, body).await,
        (
            Method::POST,
            Resource::Set {
                set,
                key: None,
                navigation: None,
            },
        ) => write::create(state, req, &set, body, writer).await,
        (
            Method::PATCH,
            Resource::Set {
                set,
                key: Some(k),
                navigation: None,
            },
        ) if set == bound::SYSTEM_JOBS => {
            let id = resolve_key(req, k)?;
            crate::api::jobs::patch(state, &req.base, id, body, req.caller.user_id)
                .await
                .map(|v| odata_json(StatusCode::OK, v))
        }
        (
            Method::PATCH,
            Resource::Set {
                set,
                key: Some(k),
                navigation: None,
            },
        ) => write::update(state, req, &set, k, body, writer).await,
        (
            Method::DELETE,
            Resource::Set {
                set,
                key: Some(k),
                navigation: None,
            },
        ) => write::delete(state, req, &set, k, writer).await,
        (
            method,
            Resource::Ref {
                set,
                key,
                navigation,
                child,
            },
        ) => {
            refs::run(
                state,
                req,
                &method,
                refs::Target {
                    set: &set,
                    key,
                    navigation: &navigation,
                    child,
                },
                body,
                writer,
            )
            .await
        }
        (Method::POST, Resource::CollectionAction { set, action }) => {
            bulk::run(state, req, &set, &action, body, writer).await
        }
        (_, Resource::Batch) => Err(ApiError::bad_request("A $batch cannot hold another $batch")),
        (m, _) => Err(not_allowed(&m)),
    }
}

fn not_allowed(method: &Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        crate::api::error::codes::UNSUPPORTED,
        format!("{method} is not supported on this resource"),
    )
}

/// `$metadata`: the CSDL of every table.
fn metadata_document(schema: &herald_core::Schema) -> Response {
    let mut r = (StatusCode::OK, crate::api::metadata::csdl(schema)).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    r
}
