//! `POST $batch`: the requests of a `multipart/mixed` body (parsed by
//! `herald_core::batch`), each answered as it would be on its own through
//! [`route::dispatch`](super::route::dispatch). A change set runs in ONE
//! [`WriteSession`]: its writes (and their sync steps) share a transaction
//! that commits only when every request succeeded — otherwise the answer is
//! the failed request's error and nothing of the change set is kept.
//! `$<Content-ID>` names the row an earlier request of the change set
//! created, as a URL (`PATCH $1`) or in a body (`"x@odata.bind": "$1"`).
//! Without `Prefer: odata.continue-on-error` the batch stops at the first
//! failure. Bound actions and System Job control inside a change set run
//! on their own, not in its transaction.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use herald_core::batch::response::{self, PartResponse, ResponseItem};
use herald_core::batch::{parse_batch, BatchItem, BatchRequest, MAX_REQUESTS};
use herald_core::odata::split_query_string;
use serde_json::Value as Json;
use uuid::Uuid;

use super::route::dispatch;
use super::writer::Writer;
use super::{Request, VERSIONS};
use crate::api::error::{ApiError, ApiResult};
use crate::api::path;
use crate::api::prefer::Prefer;
use crate::pipeline::WriteSession;
use crate::state::AppState;

const CONTINUE_ON_ERROR: &str = "odata.continue-on-error";

pub(super) async fn run(state: &Arc<AppState>, req: &Request, body: &[u8]) -> ApiResult<Response> {
    let content_type = req
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let batch = parse_batch(content_type, body, MAX_REQUESTS)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let continue_on_error = continues_on_error(&req.headers);
    let mut items = Vec::new();
    for item in &batch.items {
        let (answer, failed) = match item {
            BatchItem::Request(r) => {
                let part = one(state, req, r, &mut Writer::Alone, &HashMap::new()).await;
                let failed = part.status >= 400;
                (ResponseItem::Single(part), failed)
            }
            BatchItem::ChangeSet(requests) => change_set(state, req, requests).await,
        };
        items.push(answer);
        if failed && !continue_on_error {
            break;
        }
    }
    let boundary = format!("batchresponse_{}", Uuid::new_v4());
    let mut r = (StatusCode::OK, response::write(&boundary, &items)).into_response();
    let headers = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("multipart/mixed; boundary={boundary}")) {
        headers.insert(axum::http::header::CONTENT_TYPE, v);
    }
    headers.insert("OData-Version", HeaderValue::from_static("4.0"));
    if continue_on_error {
        headers.insert(
            "Preference-Applied",
            HeaderValue::from_static(CONTINUE_ON_ERROR),
        );
    }
    Ok(r)
}

fn continues_on_error(headers: &HeaderMap) -> bool {
    headers.get_all("prefer").iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case(CONTINUE_ON_ERROR))
        })
    })
}

/// Run a change set in one session: its answers when all succeeded and the
/// session committed, else the first error (and the session rolled back).
async fn change_set(
    state: &Arc<AppState>,
    outer: &Request,
    requests: &[BatchRequest],
) -> (ResponseItem, bool) {
    let failure = |part| (ResponseItem::Single(part), true);
    let mut session = match WriteSession::begin(state).await {
        Ok(s) => s,
        Err(e) => return failure(error_part(ApiError::from(e), None).await),
    };
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut parts = Vec::new();
    for r in requests {
        if r.method.eq_ignore_ascii_case("GET") {
            let refused = ApiError::bad_request(
                "A change set holds writes only: send GET requests outside it",
            );
            return failure(error_part(refused, r.content_id.clone()).await);
        }
        let part = one(state, outer, r, &mut Writer::Session(&mut session), &ids).await;
        if part.status >= 400 {
            // Dropping the session rolls back the change set's writes.
            return failure(part);
        }
        if let (Some(cid), Some(entity)) = (&r.content_id, entity_path(outer, &part)) {
            ids.insert(cid.clone(), entity);
        }
        parts.push(part);
    }
    match session.commit().await {
        Ok(()) => (
            ResponseItem::ChangeSet {
                boundary: format!("changesetresponse_{}", Uuid::new_v4()),
                parts,
            },
            false,
        ),
        Err(e) => failure(error_part(ApiError::from(e), None).await),
    }
}

/// `<set>(<id>)` of the row a request wrote, from its `OData-EntityId`.
fn entity_path(outer: &Request, part: &PartResponse) -> Option<String> {
    let (_, url) = part
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("odata-entityid"))?;
    Some(match url.strip_prefix(&outer.base) {
        Some(tail) => tail.to_string(),
        None => url.rsplit('/').next().unwrap_or(url).to_string(),
    })
}

/// Answer one request of the batch.
async fn one(
    state: &Arc<AppState>,
    outer: &Request,
    r: &BatchRequest,
    writer: &mut Writer<'_, '_>,
    ids: &HashMap<String, String>,
) -> PartResponse {
    let answer = match answer(state, outer, r, writer, ids).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    };
    part_of(answer, r.content_id.clone()).await
}

async fn answer(
    state: &Arc<AppState>,
    outer: &Request,
    r: &BatchRequest,
    writer: &mut Writer<'_, '_>,
    ids: &HashMap<String, String>,
) -> ApiResult<Response> {
    let method = Method::from_bytes(r.method.as_bytes())
        .map_err(|_| ApiError::bad_request(format!("'{}' is not an HTTP method", r.method)))?;
    let (version, rest, query) = split_target(&with_references(&r.target, ids)?)?;
    let mut headers = HeaderMap::new();
    for (name, value) in &r.headers {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return Err(ApiError::bad_request(format!(
                "The header '{name}' of a batch request is malformed"
            )));
        };
        headers.append(n, v);
    }
    let uri: Uri = format!("/api/data/{version}/{rest}{}", query_suffix(&query))
        .parse()
        .map_err(|_| ApiError::bad_request(format!("'{}' is not a valid URL", r.target)))?;
    let req = Request {
        origin: outer.origin.clone(),
        base: format!("{}/api/data/{version}/", outer.origin),
        options: split_query_string(&query),
        prefer: Prefer::from_headers(&headers),
        headers,
        caller: outer.caller.clone(),
        uri,
        schema: outer.schema.clone(),
    };
    let resource = path::parse(&herald_core::odata::percent_decode(&rest))?;
    let body = body_with_references(&r.body, ids)?;
    dispatch(state, &req, method, resource, &body, writer).await
}

fn query_suffix(query: &str) -> String {
    if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    }
}

/// `$<id>[/…]` replaced by the `<set>(<id>)` that request wrote.
fn with_references(target: &str, ids: &HashMap<String, String>) -> ApiResult<String> {
    let Some(reference) = target.strip_prefix('$') else {
        return Ok(target.to_string());
    };
    let end = reference.find(['/', '?']).unwrap_or(reference.len());
    let (id, tail) = reference.split_at(end);
    // `$batch`, `$metadata`: not a Content-ID.
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || id.is_empty()
    {
        return Ok(target.to_string());
    }
    match ids.get(id) {
        Some(entity) => Ok(format!("{entity}{tail}")),
        None if id.chars().all(|c| c.is_ascii_digit()) => Err(ApiError::bad_request(format!(
            "'${id}' does not name a request earlier in this change set (Content-ID {id})"
        ))),
        None => Ok(target.to_string()),
    }
}

/// `"…@odata.bind": "$1"` and `"@odata.id": "$1"` replaced by `/<set>(<id>)`.
fn body_with_references(body: &[u8], ids: &HashMap<String, String>) -> ApiResult<Vec<u8>> {
    if ids.is_empty() || !body.contains(&b'$') {
        return Ok(body.to_vec());
    }
    let Ok(Json::Object(mut object)) = serde_json::from_slice::<Json>(body) else {
        return Ok(body.to_vec());
    };
    for (key, value) in object.iter_mut() {
        if !(key.ends_with("@odata.bind") || key == "@odata.id") {
            continue;
        }
        if let Json::String(s) = value {
            if s.starts_with('$') {
                *s = format!("/{}", with_references(s, ids)?);
            }
        }
    }
    serde_json::to_vec(&object).map_err(|e| ApiError::internal(e.to_string()))
}

/// (version, path after the version, query) of a request target: an
/// absolute URL, `/api/data/<version>/…`, or a path relative to the
/// service root.
fn split_target(target: &str) -> ApiResult<(String, String, String)> {
    let without_origin = match target.split_once("://") {
        Some((_, after)) => after.find('/').map(|i| &after[i..]).unwrap_or("/"),
        None => target,
    };
    let (path, query) = without_origin
        .split_once('?')
        .unwrap_or((without_origin, ""));
    let (version, rest) = match path.strip_prefix("/api/data/") {
        Some(after) => {
            let (v, rest) = after.split_once('/').unwrap_or((after, ""));
            if !VERSIONS.contains(&v) {
                return Err(ApiError::not_found(format!(
                    "Unknown API version '{v}': use v9.0, v9.1 or v9.2"
                )));
            }
            (v.to_string(), rest.to_string())
        }
        None if path.starts_with('/') => {
            return Err(ApiError::not_found(format!(
                "No resource at '{path}': the data API lives under /api/data/v9.2/"
            )))
        }
        None => ("v9.2".to_string(), path.to_string()),
    };
    Ok((version, rest, query.to_string()))
}

/// A response as a part of the batch answer.
async fn part_of(resp: Response, content_id: Option<String>) -> PartResponse {
    let status = resp.status();
    let headers = resp
        .headers()
        .iter()
        .filter(|(n, _)| *n != axum::http::header::CONTENT_LENGTH)
        .filter_map(|(n, v)| Some((canonical(n.as_str()), v.to_str().ok()?.to_string())))
        .collect();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    PartResponse {
        content_id,
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("").to_string(),
        headers,
        body,
    }
}

async fn error_part(e: ApiError, content_id: Option<String>) -> PartResponse {
    part_of(e.into_response(), content_id).await
}

/// `odata-entityid` → `OData-EntityId`, as Dataverse writes header names.
fn canonical(name: &str) -> String {
    match name {
        "odata-entityid" => "OData-EntityId".to_string(),
        "odata-version" => "OData-Version".to_string(),
        "etag" => "ETag".to_string(),
        _ => name
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_absolute_relative_and_referenced() {
        let t = split_target("http://h:1/api/data/v9.1/accounts(1)?$select=name").unwrap();
        assert_eq!(
            t,
            ("v9.1".into(), "accounts(1)".into(), "$select=name".into())
        );
        let t = split_target("/api/data/v9.2/accounts").unwrap();
        assert_eq!(t.1, "accounts");
        assert_eq!(split_target("contacts").unwrap().1, "contacts");
        assert!(split_target("/elsewhere").is_err());
        let ids = HashMap::from([("1".to_string(), "accounts(9)".to_string())]);
        assert_eq!(
            with_references("$1/primarycontactid/$ref", &ids).unwrap(),
            "accounts(9)/primarycontactid/$ref"
        );
        assert!(with_references("$2", &ids).is_err());
        let body = body_with_references(
            br#"{"parentcustomerid_account@odata.bind":"$1","name":"$1"}"#,
            &ids,
        )
        .unwrap();
        let v: Json = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["parentcustomerid_account@odata.bind"], "/accounts(9)");
        assert_eq!(v["name"], "$1");
        assert_eq!(canonical("preference-applied"), "Preference-Applied");
    }
}
