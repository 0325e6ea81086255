//! Request bins — the seeds' "request logging site", built in. `POST
//! /api/herald/bins` makes a bin whose URL (`/bins/<id>`) captures every
//! request sent to it (method, path, query, headers, raw body) without an
//! API key, answering `200 ok` (or echoing a `validationToken`, so a bin can
//! also take Business Central subscriptions). Bins keep the newest
//! [`KEEP`] requests, bodies up to [`BODY_CAP`] bytes.
//!
//! Who may use them (issue 15): a bin is a registration tool — the place
//! one points a webhook at to see what herald sends — so it takes the
//! privileges of the webhook table, `serviceendpoint`: Read to list bins
//! and read what they captured, Create to make one, Delete to delete one
//! ([`authorize`], the one check the API and the console both call). The
//! System Customizer and the System Administrator hold them; a Basic User
//! holds none and gets Dataverse's 403 (`prvReadServiceEndpoint`, …), as it
//! does for webhooks. Captured requests can carry a webhook's secrets, so
//! reading them is exactly as guarded as reading the webhook. Sending to a
//! bin (`/bins/<id>`) needs no key: it is what a webhook calls.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use herald_core::value::datetime_from_millis;
use herald_store::bins::{Bin, BinRequest};
use serde_json::{json, Value as Json};
use uuid::Uuid;

use crate::api::error::{ApiError, ApiResult};
use crate::auth::{authenticate, Caller};
use crate::public_origin::PublicOrigin;
use crate::state::AppState;
use crate::state::SharedState;
use herald_core::security::{Grants, Privilege};

/// Requests kept per bin.
pub const KEEP: i64 = 200;
/// Body bytes kept per request.
pub const BODY_CAP: usize = 1024 * 1024;

pub fn bin_json(bin: &Bin, origin: &PublicOrigin) -> Json {
    json!({
        "id": bin.id,
        "name": bin.name,
        "url": origin.url(&format!("/bins/{}", bin.id)),
        "createdon": datetime_from_millis(bin.created_ms).to_json(),
    })
}

pub fn request_json(r: &BinRequest) -> Json {
    let headers: Json = serde_json::from_str(&r.headers).unwrap_or(Json::Null);
    let body_json: Option<Json> = serde_json::from_str(&r.body).ok();
    json!({
        "id": r.id,
        "receivedon": datetime_from_millis(r.received_ms).to_json(),
        "method": r.method,
        "path": r.path,
        "query": r.query,
        "headers": headers,
        "body": r.body,
        "json": body_json,
        "bodysize": r.body_size,
        "truncated": r.truncated,
    })
}

/// The table whose privileges bins take.
const GUARDING_TABLE: &str = "serviceendpoint";

/// Whether `grants` allow `privilege` on bins (Read, Create or Delete),
/// with Dataverse's missing-privilege error when not.
pub fn authorize(state: &AppState, grants: &Grants, privilege: Privilege) -> ApiResult<()> {
    let schema = state.schema();
    let table = schema
        .table(GUARDING_TABLE)
        .ok_or_else(|| ApiError::internal("no serviceendpoint table"))?;
    grants.check(table, privilege)?;
    Ok(())
}

/// The API caller, if the key is valid and may do `privilege` on bins.
async fn caller_for(
    state: &SharedState,
    headers: &HeaderMap,
    privilege: Privilege,
) -> ApiResult<Caller> {
    let caller = authenticate(state, headers).await?;
    authorize(state, &caller.grants, privilege)?;
    Ok(caller)
}

fn parse_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("No bin '{id}'")))
}

/// `ANY /bins/<id>[/…]`: capture the request.
pub async fn capture(
    State(state): State<SharedState>,
    Path(params): Path<Vec<(String, String)>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = params
        .iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let result: ApiResult<Response> = async {
        let bin_id = parse_id(&id)?;
        state
            .bins
            .bin(bin_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("No bin '{id}'")))?;
        let bytes = crate::edge::read_limited(body, state.config.server.max_body_size).await?;
        let truncated = bytes.len() > BODY_CAP;
        let kept = &bytes[..bytes.len().min(BODY_CAP)];
        let header_pairs: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let req = BinRequest {
            id: Uuid::new_v4(),
            received_ms: state.clock.now().timestamp_millis(),
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().map(str::to_string),
            headers: serde_json::to_string(&header_pairs).unwrap_or_else(|_| "[]".into()),
            body: String::from_utf8_lossy(kept).into_owned(),
            body_size: bytes.len() as i64,
            truncated,
        };
        state.bins.capture(bin_id, &req, KEEP).await?;
        let token = uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "validationToken")
                .map(|(_, v)| v.into_owned())
        });
        Ok(match token {
            Some(t) => (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "text/plain")],
                t,
            )
                .into_response(),
            None => (StatusCode::OK, "ok").into_response(),
        })
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /api/herald/bins` `{"name"?}` → 201 with the bin and its URL.
pub async fn create(
    State(state): State<SharedState>,
    origin: PublicOrigin,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let result: ApiResult<Response> = async {
        caller_for(&state, &headers, Privilege::Create).await?;
        let name = if body.is_empty() {
            String::new()
        } else {
            let v: Json = serde_json::from_slice(&body)
                .map_err(|e| ApiError::payload(format!("The body is not valid JSON: {e}")))?;
            v.get("name")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string()
        };
        let name = if name.is_empty() {
            "bin".to_string()
        } else {
            name.chars().take(200).collect()
        };
        let bin = state
            .bins
            .create_bin(&name, state.clock.now().timestamp_millis())
            .await?;
        Ok((StatusCode::CREATED, axum::Json(bin_json(&bin, &origin))).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/herald/bins`
pub async fn list(
    State(state): State<SharedState>,
    origin: PublicOrigin,
    headers: HeaderMap,
) -> Response {
    let result: ApiResult<Response> = async {
        caller_for(&state, &headers, Privilege::Read).await?;
        let value: Vec<Json> = state
            .bins
            .bins()
            .await?
            .iter()
            .map(|b| bin_json(b, &origin))
            .collect();
        Ok(axum::Json(json!({"value": value})).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/herald/bins/<id>`: the bin and its requests, newest first.
pub async fn show(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    origin: PublicOrigin,
    headers: HeaderMap,
) -> Response {
    let result: ApiResult<Response> = async {
        caller_for(&state, &headers, Privilege::Read).await?;
        let bin_id = parse_id(&id)?;
        let bin = state
            .bins
            .bin(bin_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("No bin '{id}'")))?;
        let requests: Vec<Json> = state
            .bins
            .bin_requests(bin_id, KEEP)
            .await?
            .iter()
            .map(request_json)
            .collect();
        let mut out = bin_json(&bin, &origin);
        out["requests"] = Json::Array(requests);
        Ok(axum::Json(out).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `DELETE /api/herald/bins/<id>`
pub async fn delete(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result: ApiResult<Response> = async {
        caller_for(&state, &headers, Privilege::Delete).await?;
        let bin_id = parse_id(&id)?;
        if !state.bins.delete_bin(bin_id).await? {
            return Err(ApiError::not_found(format!("No bin '{id}'")));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
