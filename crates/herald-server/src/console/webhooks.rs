//! `GET /console/webhooks`: every service endpoint with its URL, auth type,
//! whether signing is on, and how many steps use it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::error::{ConsoleResult, WithSession};
use super::layout::{self, on_off, respond, Nav};
use super::registration::{authtype_label, steps, webhooks};
use super::session::Session;
use super::{signed_in, Console, ConsoleState};

async fn render(c: &Console, s: &Session) -> ConsoleResult<Response> {
    let reader = s.reader(&c.app);
    let hooks = webhooks(&reader).await.ctx(s)?;
    let steps = steps(&reader).await.ctx(s)?;
    let body = html! {
        h1 { "Webhooks" }
        p.sub { "Service endpoints (contract 8). Register them with " code { "herald webhook add" } " or " code { "POST /api/data/v9.2/serviceendpoints" } "." }
        @if hooks.is_empty() {
            div.empty { "No webhooks registered yet." }
        } @else {
            table.grid {
                thead { tr { th { "Name" } th { "URL" } th { "Auth" } th { "Signing" } th { "Steps" } th {} } }
                tbody {
                    @for h in &hooks {
                        @let total = steps.iter().filter(|st| st.webhook == Some(h.id)).count();
                        @let enabled = steps.iter().filter(|st| st.webhook == Some(h.id) && st.enabled).count();
                        tr {
                            td {
                                strong { (h.name) }
                                @if let Some(d) = &h.description { div.muted { (d) } }
                                div.muted.mono { (h.id) }
                            }
                            td.mono.wrap { (h.url) }
                            td { (authtype_label(h.authtype)) @if h.auth_set { " " span.muted { "(value set)" } } }
                            td { (on_off(h.signing, "on", "off")) }
                            td.num { (total) @if enabled != total { " " span.muted { "(" (enabled) " enabled)" } } }
                            td { a href={ "/console/steps?webhook=" (h.id) } { "Steps" } }
                        }
                    }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        layout::page("Webhooks", Nav::Webhooks, Some(s), body),
    ))
}

pub async fn page(State(c): State<ConsoleState>, headers: HeaderMap, uri: Uri) -> Response {
    match signed_in(&c, &headers, &uri).await {
        Ok(s) => render(&c, &s)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(r) => r,
    }
}
