//! `GET /console/jobs/<id>`: one System Job — its fields, its context
//! (`data`) pretty-printed, the request that caused it (`requestid`), a
//! link to the record it is regarding, and every delivery attempt (status,
//! time, duration, error, response excerpt) — with the buttons its state allows:
//! Retry (failed or canceled), Cancel (waiting, paused or in progress),
//! Pause (waiting or in progress) and Resume (paused).
//! `POST /console/jobs/<id>/<action>` applies them through
//! `jobs::control::apply`, exactly as the Web API does.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use herald_core::job::JobTransition;
use maud::html;
use uuid::Uuid;

use super::error::{ConsoleError, ConsoleResult, WithSession};
use super::form::Fields;
use super::layout::{
    self, excerpt, http_badge, job_badge, notice, post_button, pretty_json, respond, see_other,
    text, time_ms, time_value, Nav,
};
use super::session::Session;
use super::{checked_post, signed_in, Console, ConsoleState};
use crate::jobs::control::{apply, phase_of, JobChange};
use crate::public_origin::PublicOrigin;

fn parse_id(id: &str) -> ConsoleResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ConsoleError::not_found(format!("No System Job '{id}'")))
}

async fn load(c: &Console, s: &Session, id: Uuid) -> ConsoleResult<herald_store::Record> {
    let t = c.app.base_schema.table("asyncoperation").ok_or_else(|| {
        ConsoleError::new(StatusCode::INTERNAL_SERVER_ERROR, "no asyncoperation table")
    })?;
    let row = s
        .reader(&c.app)
        .get(t, id)
        .await
        .map_err(crate::api::error::ApiError::from)?;
    row.ok_or_else(|| {
        ConsoleError::not_found(format!("asyncoperation With Id = {id} Does Not Exist"))
    })
}

async fn render(
    c: &Console,
    s: &Session,
    id: &str,
    q: &Fields,
    origin: &PublicOrigin,
) -> ConsoleResult<Response> {
    let id = parse_id(id).ctx(s)?;
    let job = load(c, s, id).await.ctx(s)?;
    let attempts = c.app.store.attempts(id).await.ctx(s)?;
    let phase = phase_of(&job);
    let step = job.guid("owningextensionid");
    let errorcode = job.int("errorcode");
    let data = job.string("data").map(pretty_json);
    let regarding = job.guid("regardingobjectid");
    let bulk = crate::jobs::bulk_delete::is_bulk_delete(&job);
    let schema = c.app.schema();
    let bulk_operation = match (bulk, schema.table("bulkdeleteoperation")) {
        (true, Some(t)) => s
            .reader(&c.app)
            .get(t, id)
            .await
            .map_err(crate::api::error::ApiError::from)
            .ctx(s)?,
        _ => None,
    };
    let regarding_table = job
        .string("primaryentitytype")
        .and_then(|t| schema.table(t))
        .filter(|t| super::record::viewable(t));
    let row = |label: &'static str, value: String| html! { tr { th { (label) } td { (value) } } };
    let body = html! {
        p { a href="/console/jobs" { "← System Jobs" } }
        h1 { (job.string("name").unwrap_or("System Job")) " " (job_badge(phase)) }
        p.sub.mono { (id) }
        @match q.get("done") {
            Some("retry") => (notice("Retry requested: the job is waiting to run again.")),
            Some("cancel") => (notice("The job was canceled.")),
            Some("pause") => (notice("The job was paused.")),
            Some("resume") => (notice("The job was resumed.")),
            _ => {}
        }
        div.actions {
            @for a in phase.allowed().iter().filter(|a| !bulk || **a == JobTransition::Cancel) {
                @match a {
                    JobTransition::Retry => (post_button(s, &format!("/console/jobs/{id}/retry"), "Retry", "primary", None)),
                    JobTransition::Cancel => (post_button(s, &format!("/console/jobs/{id}/cancel"), "Cancel", "danger", Some("Cancel this System Job?"))),
                    JobTransition::Pause => (post_button(s, &format!("/console/jobs/{id}/pause"), "Pause", "", None)),
                    JobTransition::Resume => (post_button(s, &format!("/console/jobs/{id}/resume"), "Resume", "primary", None)),
                }
            }
        }
        table.kv {
            (row("Status", phase.to_string()))
            tr { th { "Step" } td {
                @if let Some(st) = step { a href={ "/console/jobs?step=" (st) } { (job.string("name").unwrap_or("step")) } " " span.muted.mono { (st) } } @else { "—" }
            } }
            @if bulk { (row("Operation", "Bulk Delete".to_string())) }
            @if let Some(op) = &bulk_operation {
                tr { th { "Deleted" } td #bulk-success { (op.int("successcount").unwrap_or(0)) } }
                tr { th { "Not deleted" } td #bulk-failure { (op.int("failurecount").unwrap_or(0)) } }
            }
            (row("Table", text(job.get("primaryentitytype"))))
            tr { th { "Regarding" } td {
                @match (regarding, regarding_table) {
                    (Some(r), Some(t)) => {
                        a.mono href={ "/console/records/" (t.logical_name) "/" (r) } { (r) }
                        div.muted.mono.wrap { "Web API: " (origin.url(&format!("/api/data/v9.2/{}({r})", t.entity_set))) }
                    },
                    (Some(r), None) => span.mono { (r) },
                    _ => "—",
                }
            } }
            (row("Correlation id", text(job.get("correlationid"))))
            (row("Request id", text(job.get("requestid"))))
            (row("Depth", text(job.get("depth"))))
            @if !bulk {
                tr { th { "Attempts" } td #attempt-count {
                    (attempts.len())
                    span.muted { " (every HTTP try over the job's life, across retries)" }
                } }
                tr { th { "Automatic retries" } td #retry-count {
                    (job.int("retrycount").unwrap_or(0))
                    span.muted { " (extra tries herald made by itself after a 502/503/504; a retry you ask for is a new run)" }
                } }
            }
            (row("Created", time_value(job.get("createdon"))))
            (row("Started", time_value(job.get("startedon"))))
            (row("Completed", time_value(job.get("completedon"))))
            (row("Postponed until", time_value(job.get("postponeuntil"))))
            (row("Execution time", job.int("executiontimespan").map(|t| format!("{t} ms")).unwrap_or_else(|| "—".into())))
            (row("Error code", errorcode.map(|e| format!("{e} (0x{:08X})", e as i32 as u32)).unwrap_or_else(|| "—".into())))
        }
        @if let Some(m) = job.string("friendlymessage") { h2 { "Message" } pre.block { (m) } }
        @if let Some(m) = job.string("message").filter(|m| Some(*m) != job.string("friendlymessage")) { h2 { "Technical detail" } pre.block { (m) } }
        @if bulk {
            // A bulk delete makes no HTTP calls: its outcome is the counts above.
        } @else if attempts.is_empty() {
            h2 { "Delivery attempts" }
            div.empty { "No attempt yet." }
        } @else {
            h2 { "Delivery attempts" }
            table.grid #attempts {
                thead { tr { th.num { "#" } th { "Started" } th.num { "Duration" } th { "Status" } th { "Error" } th { "Response (excerpt)" } } }
                tbody {
                    @for a in &attempts {
                        tr {
                            td.num { (a.attempt) }
                            td { (time_ms(a.started_ms)) }
                            td.num { (a.duration_ms) " ms" }
                            td { (http_badge(a.status)) }
                            td { (a.error.as_deref().unwrap_or("")) }
                            td { @if let Some(r) = a.response.as_deref().filter(|r| !r.is_empty()) { pre.excerpt { (excerpt(r, 600)) } } }
                        }
                    }
                }
            }
        }
        h2 { @if bulk { "Query (data)" } @else { "Context (data)" } }
        @match &data {
            Some(d) => pre.json #context { (d) },
            None => div.empty { "No context stored." },
        }
    };
    Ok(respond(
        StatusCode::OK,
        layout::page("System Job", Nav::Jobs, Some(s), body),
    ))
}

pub async fn page(
    State(c): State<ConsoleState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    origin: PublicOrigin,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    match signed_in(&c, &headers, &uri).await {
        Ok(s) => render(&c, &s, &id, &Fields::query(q.as_deref()), &origin)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(r) => r,
    }
}

/// `POST /console/jobs/<id>/retry|cancel|pause|resume`
pub async fn act(
    State(c): State<ConsoleState>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (s, _) = match checked_post(&c, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result: ConsoleResult<Response> = async {
        let id = parse_id(&id)?;
        let Some(transition) = JobTransition::from_name(&action) else {
            return Err(ConsoleError::not_found(format!(
                "No System Job action '{action}'"
            )));
        };
        let phase = phase_of(&load(&c, &s, id).await?);
        if !phase.allowed().contains(&transition) {
            return Err(ConsoleError::new(
                StatusCode::CONFLICT,
                format!(
                    "A System Job that is {} cannot be {}.",
                    phase.label().to_lowercase(),
                    match transition {
                        JobTransition::Retry => "retried (only failed or canceled ones can)",
                        JobTransition::Cancel => "canceled (it already completed)",
                        JobTransition::Pause => "paused (only waiting or running ones can)",
                        JobTransition::Resume => "resumed (only paused ones can)",
                    }
                ),
            ));
        }
        let change = JobChange::Move(transition);
        apply(&c.app, id, &[change], s.user_id).await?;
        Ok(see_other(&format!("/console/jobs/{id}?done={action}")))
    }
    .await;
    result
        .map_err(|e| e.with(&s))
        .unwrap_or_else(IntoResponse::into_response)
}
