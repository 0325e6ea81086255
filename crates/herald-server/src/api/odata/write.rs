//! Writes: create, update (upsert) and delete, each one `Operation` run
//! by the pipeline; preconditions from `If-Match`/`If-None-Match`, the
//! correlation of a receiver writing back, and the response
//! (`Prefer: return=representation`, `OData-EntityId`, `ETag`).

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::odata::parse_options;
use herald_core::value::parse_guid;
use herald_core::Table;
use uuid::Uuid;

use crate::api::error::{ApiError, ApiResult};
use crate::api::path::Key;
use crate::api::payload::{json_object, values_from_body};
use crate::api::representation::etag;
use crate::pipeline::{self, Message, Operation, Precondition};
use crate::state::AppState;

use super::read::{by_id_query, single};
use super::writer::Writer;
use super::{resolve_key, table_for, Request};

pub(super) fn precondition(headers: &HeaderMap) -> ApiResult<Precondition> {
    if let Some(v) = headers.get("if-none-match") {
        let v = v.to_str().unwrap_or("");
        return if v.trim() == "*" {
            Ok(Precondition::MustNotExist)
        } else {
            Err(ApiError::bad_request(
                "If-None-Match only supports '*' on writes",
            ))
        };
    }
    if let Some(v) = headers.get("if-match") {
        let v = v.to_str().unwrap_or("").trim();
        if v == "*" {
            return Ok(Precondition::MustExist);
        }
        let n = v
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse::<i64>()
            .map_err(|_| {
                ApiError::bad_request(format!("If-Match '{v}' is not an ETag like W/\"3\" or *"))
            })?;
        return Ok(Precondition::Version(n));
    }
    Ok(Precondition::None)
}

/// Correlation id and depth from `x-ms-correlation-request-id` (echoed back
/// by a receiver that writes while handling a webhook).
pub(super) fn correlation(state: &AppState, headers: &HeaderMap) -> Option<(Uuid, i64)> {
    let id = headers
        .get("x-ms-correlation-request-id")?
        .to_str()
        .ok()
        .and_then(parse_guid)?;
    let depth = state.depths.depth(id);
    Some((id, depth + 1))
}

pub(super) async fn write_response(
    state: &AppState,
    req: &Request,
    table: &Table,
    outcome: pipeline::Outcome,
    created: bool,
    writer: &Writer<'_, '_>,
) -> ApiResult<Response> {
    let entity_id = format!("{}{}({})", req.base, table.entity_set, outcome.id);
    let mut resp = if req.prefer.return_representation && writer.committed_on_return() {
        let query = by_id_query(
            table,
            parse_options(&state.schema(), table, &req.options)?,
            outcome.id,
        );
        let mut r = single(state, req, table, query, outcome.id).await?;
        *r.status_mut() = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        r.headers_mut().insert(
            "Preference-Applied",
            HeaderValue::from_static("return=representation"),
        );
        r
    } else {
        no_content()
    };
    if let Ok(v) = HeaderValue::from_str(&entity_id) {
        resp.headers_mut().insert("OData-EntityId", v.clone());
        if created {
            resp.headers_mut().insert(axum::http::header::LOCATION, v);
        }
    }
    if let Some(tag) = outcome.record.as_ref().and_then(etag) {
        if let Ok(v) = HeaderValue::from_str(&tag) {
            resp.headers_mut().insert("ETag", v);
        }
    }
    Ok(resp)
}

pub(super) async fn create(
    state: &AppState,
    req: &Request,
    set: &str,
    body: &[u8],
    writer: &mut Writer<'_, '_>,
) -> ApiResult<Response> {
    let table = table_for(req, set)?;
    let obj = json_object(body)?;
    let values = values_from_body(&state.schema(), table, &obj)?;
    let id = values
        .iter()
        .find(|(c, _)| c == &table.primary_id)
        .and_then(|(_, v)| v.as_guid());
    let outcome = writer
        .execute(
            state,
            Operation::new(
                Message::Create,
                &table.logical_name,
                id,
                values,
                req.caller.user_id,
            )
            .with_correlation(correlation(state, &req.headers)),
        )
        .await?;
    write_response(state, req, table, outcome, true, writer).await
}

pub(super) async fn update(
    state: &AppState,
    req: &Request,
    set: &str,
    key: Key,
    body: &[u8],
    writer: &mut Writer<'_, '_>,
) -> ApiResult<Response> {
    let table = table_for(req, set)?;
    let id = resolve_key(req, key)?;
    let obj = json_object(body)?;
    let values = values_from_body(&state.schema(), table, &obj)?;
    if let Some(other) = values
        .iter()
        .find(|(c, _)| c == &table.primary_id)
        .and_then(|(_, v)| v.as_guid())
    {
        if other != id {
            return Err(ApiError::payload(format!(
                "The body's {} {other} does not match the key {id} in the URL",
                table.primary_id
            )));
        }
    }
    let outcome = writer
        .execute(
            state,
            Operation::new(
                Message::Update,
                &table.logical_name,
                Some(id),
                values,
                req.caller.user_id,
            )
            .with_precondition(precondition(&req.headers)?)
            .upsert()
            .with_correlation(correlation(state, &req.headers)),
        )
        .await?;
    let created = outcome.message == Message::Create;
    write_response(state, req, table, outcome, created, writer).await
}

pub(super) async fn delete(
    state: &AppState,
    req: &Request,
    set: &str,
    key: Key,
    writer: &mut Writer<'_, '_>,
) -> ApiResult<Response> {
    let table = table_for(req, set)?;
    let id = resolve_key(req, key)?;
    let pre = precondition(&req.headers)?;
    if pre == Precondition::MustNotExist {
        return Err(ApiError::bad_request(
            "If-None-Match is not allowed on DELETE",
        ));
    }
    writer
        .execute(
            state,
            Operation::new(
                Message::Delete,
                &table.logical_name,
                Some(id),
                vec![],
                req.caller.user_id,
            )
            .with_precondition(pre)
            .with_correlation(correlation(state, &req.headers)),
        )
        .await?;
    Ok(no_content())
}

/// `204 No Content` with `OData-Version: 4.0`: a write with nothing to return.
pub(super) fn no_content() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    r
}
