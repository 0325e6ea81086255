//! `GET /console/audit`: the audit trail, newest first — who created,
//! changed or deleted a webhook, step, image, role, user or key, and what
//! changed (secrets show as `***`). Filters: `record` (an `objectid`),
//! `user` (the acting systemuser's id), `table` (`objecttypecode`), and
//! `before` (a `createdon` in ms since the epoch: the next, older page).
//! Read through the caller's [`crate::security::Reader`], so a user
//! without `prvReadAuditSummary` gets the 403 page.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use herald_core::audit::AuditAction;
use herald_core::query::{ColumnRef, CompareOp, Condition, Order};
use herald_core::{Query, Value};
use herald_store::Record;
use maud::{html, Markup};
use uuid::Uuid;

use super::error::{ConsoleResult, WithSession};
use super::form::{query_string, Fields};
use super::layout::{self, excerpt, pretty_json, respond, time_value, Nav};
use super::session::Session;
use super::{signed_in, Console, ConsoleState};

/// Rows per page.
const TOP: u64 = 100;

fn eq(column: &str, value: Value) -> Condition {
    Condition::Compare {
        column: ColumnRef::new(column),
        op: CompareOp::Eq,
        value,
    }
}

/// The page's query: newest first, with the filters given.
fn page_query(
    record: Option<Uuid>,
    user: Option<Uuid>,
    table: Option<&str>,
    before: Option<i64>,
) -> Query {
    let mut all = Vec::new();
    if let Some(r) = record {
        all.push(eq("objectid", Value::Guid(r)));
    }
    if let Some(u) = user {
        all.push(eq("userid", Value::Guid(u)));
    }
    if let Some(t) = table {
        all.push(eq("objecttypecode", Value::String(t.to_ascii_lowercase())));
    }
    if let Some(ms) = before.and_then(|ms| Utc.timestamp_millis_opt(ms).single()) {
        all.push(Condition::Compare {
            column: ColumnRef::new("createdon"),
            op: CompareOp::Lt,
            value: Value::DateTime(ms),
        });
    }
    let mut q = Query::all("audit");
    q.filter = match all.len() {
        0 => None,
        1 => all.pop(),
        _ => Some(Condition::And(all)),
    };
    q.order = vec![
        Order {
            column: ColumnRef::new("createdon"),
            descending: true,
        },
        Order {
            column: ColumnRef::new("auditid"),
            descending: false,
        },
    ];
    q
}

/// What changed, in a few words: the columns, or the linked record.
fn summary(change_data: &serde_json::Value) -> String {
    if let Some(list) = change_data["changedAttributes"].as_array() {
        let names: Vec<&str> = list
            .iter()
            .filter_map(|a| a["logicalName"].as_str())
            .collect();
        return excerpt(&names.join(", "), 120);
    }
    if let Some(rel) = change_data["relationshipName"].as_str() {
        let target = &change_data["targetRecords"][0];
        return format!(
            "{rel}: {} {}",
            target["logicalName"].as_str().unwrap_or(""),
            target["id"].as_str().unwrap_or("")
        );
    }
    String::new()
}

fn action_badge(code: Option<i64>) -> Markup {
    let action = code.and_then(AuditAction::of_code);
    let class = match action {
        Some(AuditAction::Create | AuditAction::Associate) => "ok",
        Some(AuditAction::Delete | AuditAction::Disassociate) => "fail",
        _ => "wait",
    };
    html! { span class={ "badge " (class) } { (action.map(AuditAction::label).unwrap_or("Unknown")) } }
}

async fn render(c: &Console, s: &Session, q: &Fields) -> ConsoleResult<Response> {
    let reader = s.reader(&c.app);
    let record = q.get("record").and_then(|r| Uuid::parse_str(r).ok());
    let user = q.get("user").and_then(|u| Uuid::parse_str(u).ok());
    let table = q.get("table");
    let before = q.get("before").and_then(|b| b.parse::<i64>().ok());
    let rows: Vec<Record> = reader
        .fetch(&page_query(record, user, table, before), Some(TOP), 0)
        .await
        .map_err(crate::api::error::ApiError::from)
        .ctx(s)?;
    // The acting users' names, in one read.
    let mut ids: Vec<Value> = rows
        .iter()
        .filter_map(|r| r.guid("userid"))
        .map(Value::Guid)
        .collect();
    ids.sort_by_key(|v| v.as_guid());
    ids.dedup();
    let mut names: HashMap<Uuid, String> = HashMap::new();
    if !ids.is_empty() {
        let mut uq = Query::all("systemuser");
        uq.select = vec![
            "systemuserid".into(),
            "fullname".into(),
            "domainname".into(),
        ];
        uq.filter = Some(Condition::In {
            column: ColumnRef::new("systemuserid"),
            values: ids,
            negated: false,
        });
        for u in reader
            .fetch(&uq, None, 0)
            .await
            .map_err(crate::api::error::ApiError::from)
            .ctx(s)?
        {
            if let Some(id) = u.guid("systemuserid") {
                let name = u
                    .string("fullname")
                    .filter(|n| !n.is_empty())
                    .or_else(|| u.string("domainname"))
                    .unwrap_or("")
                    .to_string();
                names.insert(id, name);
            }
        }
    }
    let link = |pairs: &[(&str, &str)]| format!("/console/audit{}", query_string(pairs));
    let older = rows
        .last()
        .filter(|_| rows.len() as u64 == TOP)
        .and_then(|r| match r.get("createdon") {
            Some(Value::DateTime(t)) => Some(t.timestamp_millis().to_string()),
            _ => None,
        });
    let record_s = record.map(|r| r.to_string()).unwrap_or_default();
    let user_s = user.map(|u| u.to_string()).unwrap_or_default();
    let body = html! {
        h1 { "Audit" }
        p.sub {
            "Who created, changed or deleted a webhook, step, image, role, user or key (" code { "audits" } "), newest first. "
            "Rows are kept for " (herald_core::duration::format_duration(c.app.config.audit.retention)) "."
        }
        form.filters method="get" action="/console/audit" {
            label { "Record" input type="text" name="record" value=(record_s) placeholder="objectid"; }
            label { "User" input type="text" name="user" value=(user_s) placeholder="systemuserid"; }
            label { "Table" input type="text" name="table" value=[table] placeholder="any"; }
            button.btn.primary type="submit" { "Apply" }
            a.btn href="/console/audit" { "Reset" }
        }
        @if rows.is_empty() {
            div.empty { "No audit rows match." }
        } @else {
            table.grid.stack #audit {
                thead { tr { th { "When" } th { "Action" } th { "Record" } th { "By" } th { "Changes" } } }
                tbody {
                    @for r in &rows {
                        @let object = r.guid("objectid").map(|o| o.to_string()).unwrap_or_default();
                        @let by = r.guid("userid");
                        @let data: serde_json::Value = r.string("changedata").and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
                        tr {
                            td.nowrap data-label="When" { (time_value(r.get("createdon"))) }
                            td data-label="Action" { (action_badge(r.int("action"))) }
                            td data-label="Record" {
                                span.mono { (r.string("objecttypecode").unwrap_or("")) }
                                div.mono.wrap { a href=(link(&[("record", &object)])) { (object) } }
                            }
                            td data-label="By" {
                                @if let Some(u) = by {
                                    a href=(link(&[("user", &u.to_string())])) { (names.get(&u).cloned().unwrap_or_else(|| u.to_string())) }
                                } @else { "—" }
                            }
                            td.wrap data-label="Changes" {
                                (summary(&data))
                                details { summary { "changedata" } pre { (pretty_json(r.string("changedata").unwrap_or(""))) } }
                            }
                        }
                    }
                }
            }
            @if let Some(b) = older {
                p { a.btn href=(link(&[("record", &record_s), ("user", &user_s), ("table", table.unwrap_or("")), ("before", &b)])) { "Older" } }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        layout::page("Audit", Nav::Audit, Some(s), body),
    ))
}

pub async fn page(
    State(c): State<ConsoleState>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    match signed_in(&c, &headers, &uri).await {
        Ok(s) => render(&c, &s, &Fields::query(raw.as_deref()))
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(r) => r,
    }
}
