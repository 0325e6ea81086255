//! `GET /console/records/<table>/<id>`: one business record (a data table's
//! row, e.g. the record a System Job is regarding) — its readable columns
//! with their values, lookups linked to their records, its Web API URL, and
//! a link to the System Jobs about its table. Read-only. Registration and
//! system tables are not shown here (their pages are Webhooks, Steps and
//! System Jobs; a webhook's auth value never appears in the console).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use herald_core::{Table, Value};
use maud::html;
use uuid::Uuid;

use super::error::{ConsoleError, ConsoleResult, WithSession};
use super::layout::{self, respond, text, Nav};
use super::session::Session;
use super::{signed_in, Console, ConsoleState};
use crate::public_origin::PublicOrigin;

/// Whether the console shows rows of `table` (business data only).
pub fn viewable(table: &Table) -> bool {
    table.is_event_source()
}

async fn render(
    c: &Console,
    s: &Session,
    table: &str,
    id: &str,
    origin: &PublicOrigin,
) -> ConsoleResult<Response> {
    let missing = || ConsoleError::not_found(format!("No {table} record '{id}'")).with(s);
    let schema = c.app.schema();
    let t = schema
        .table(table)
        .filter(|t| viewable(t))
        .ok_or_else(missing)?;
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    let record = s
        .reader(&c.app)
        .get(t, id)
        .await
        .map_err(crate::api::error::ApiError::from)
        .ctx(s)?
        .ok_or_else(missing)?;
    let name = t
        .primary_name
        .as_deref()
        .and_then(|n| record.string(n))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| id.to_string());
    let api_url = origin.url(&format!("/api/data/v9.2/{}({id})", t.entity_set));
    let body = html! {
        p { a href={ "/console/jobs?table=" (t.logical_name) } { "← System Jobs on " (t.logical_name) } }
        h1 { (name) }
        p.sub.mono.wrap { (t.logical_name) " " (id) }
        div.copy {
            input #record-url type="text" readonly value=(api_url);
            button.btn type="button" data-copy="record-url" { "Copy Web API URL" }
        }
        table.kv #record {
            @for col in t.readable_columns() {
                @let v = record.get(&col.name);
                @if !matches!(v, None | Some(Value::Null)) {
                    tr {
                        th.mono { (col.name) }
                        td.wrap {
                            @match (col.lookup_target().and_then(|n| schema.table(n)).filter(|lt| viewable(lt)), v.and_then(Value::as_guid)) {
                                (Some(lt), Some(g)) => a.mono href={ "/console/records/" (lt.logical_name) "/" (g) } { (g) },
                                _ => (text(v)),
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        layout::page(&name, Nav::Jobs, Some(s), body),
    ))
}

pub async fn page(
    State(c): State<ConsoleState>,
    Path((table, id)): Path<(String, String)>,
    origin: PublicOrigin,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    match signed_in(&c, &headers, &uri).await {
        Ok(s) => render(&c, &s, &table, &id, &origin)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(r) => r,
    }
}
