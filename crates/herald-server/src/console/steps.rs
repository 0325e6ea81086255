//! `GET /console/steps` (optionally `?webhook=<id>`): every processing step
//! with its message, table, stage, mode, rank and state, and buttons to
//! enable or disable it. `POST /console/steps/<id>/enable|disable` goes
//! through the write pipeline, like a PATCH of `statecode`/`statuscode`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use herald_core::Value;
use maud::html;
use uuid::Uuid;

use super::error::{ConsoleError, ConsoleResult, WithSession};
use super::form::{query_string, Fields};
use super::layout::{self, notice, on_off, post_button, respond, see_other, Nav};
use super::registration::{mode_label, stage_label, steps, webhooks};
use super::session::Session;
use super::{checked_post, signed_in, Console, ConsoleState};
use crate::pipeline::{execute, Message, Operation, Precondition};

async fn render(c: &Console, s: &Session, q: &Fields) -> ConsoleResult<Response> {
    let reader = s.reader(&c.app);
    let hooks = webhooks(&reader).await.ctx(s)?;
    let webhook = q.get("webhook").and_then(|w| Uuid::parse_str(w).ok());
    let all = steps(&reader).await.ctx(s)?;
    let shown: Vec<_> = all
        .iter()
        .filter(|st| webhook.is_none() || st.webhook == webhook)
        .collect();
    let hook_name = |id: Option<Uuid>| {
        id.and_then(|id| hooks.iter().find(|h| h.id == id))
            .map(|h| h.name.clone())
            .unwrap_or_else(|| "—".into())
    };
    let back = query_string(&[(
        "webhook",
        &webhook.map(|w| w.to_string()).unwrap_or_default(),
    )]);
    let body = html! {
        h1 { "Steps" }
        p.sub {
            "Processing steps: which message on which table calls which webhook. Register them with "
            code { "herald step add" } " or " code { "POST /api/data/v9.2/sdkmessageprocessingsteps" } "."
        }
        @match q.get("done") {
            Some("enabled") => (notice("Step enabled.")),
            Some("disabled") => (notice("Step disabled: it no longer fires.")),
            _ => {}
        }
        @if let Some(w) = webhook {
            p { "Webhook " strong { (hook_name(Some(w))) } " · " a href="/console/steps" { "show all steps" } }
        }
        @if shown.is_empty() {
            div.empty { "No steps registered." }
        } @else {
            table.grid {
                thead { tr { th { "Step" } th { "Message" } th { "Table" } th { "Stage" } th { "Mode" } th.num { "Rank" } th { "Webhook" } th { "State" } th {} } }
                tbody {
                    @for st in &shown {
                        tr {
                            td {
                                strong { (st.name) }
                                @if let Some(f) = &st.filtering { div.muted { "filter: " span.mono { (f) } } }
                                div.muted.mono { (st.id) }
                            }
                            td { (st.message) }
                            td.mono { (st.table) }
                            td { (stage_label(st.stage)) " " span.muted { "(" (st.stage) ")" } }
                            td { (mode_label(st.mode)) }
                            td.num { (st.rank) }
                            td { @if let Some(w) = st.webhook { a href={ "/console/steps?webhook=" (w) } { (hook_name(Some(w))) } } @else { "—" } }
                            td { (on_off(st.enabled, "Enabled", "Disabled")) }
                            td {
                                @if st.enabled {
                                    (post_button(s, &format!("/console/steps/{}/disable{back}", st.id), "Disable", "small", None))
                                } @else {
                                    (post_button(s, &format!("/console/steps/{}/enable{back}", st.id), "Enable", "small primary", None))
                                }
                                @if st.mode == 1 { " " a href={ "/console/jobs?step=" (st.id) } { "Jobs" } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        layout::page("Steps", Nav::Steps, Some(s), body),
    ))
}

pub async fn page(
    State(c): State<ConsoleState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    match signed_in(&c, &headers, &uri).await {
        Ok(s) => render(&c, &s, &Fields::query(q.as_deref()))
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(r) => r,
    }
}

/// `POST /console/steps/<id>/enable|disable`
pub async fn act(
    State(c): State<ConsoleState>,
    Path((id, action)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (s, _) = match checked_post(&c, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result: ConsoleResult<Response> = async {
        let id =
            Uuid::parse_str(&id).map_err(|_| ConsoleError::not_found(format!("No step '{id}'")))?;
        let (state, status, done) = match action.as_str() {
            "enable" => (0, 1, "enabled"),
            "disable" => (1, 2, "disabled"),
            _ => {
                return Err(ConsoleError::not_found(format!(
                    "No step action '{action}'"
                )))
            }
        };
        execute(
            &c.app,
            Operation::new(
                Message::Update,
                "sdkmessageprocessingstep",
                Some(id),
                vec![
                    ("statecode".into(), Value::Int(state)),
                    ("statuscode".into(), Value::Int(status)),
                ],
                s.user_id,
            )
            .with_precondition(Precondition::MustExist),
        )
        .await?;
        let webhook = Fields::query(q.as_deref())
            .get("webhook")
            .and_then(|w| Uuid::parse_str(w).ok())
            .map(|w| w.to_string())
            .unwrap_or_default();
        Ok(see_other(&format!(
            "/console/steps{}",
            query_string(&[("webhook", &webhook), ("done", done)])
        )))
    }
    .await;
    result
        .map_err(|e| e.with(&s))
        .unwrap_or_else(IntoResponse::into_response)
}
