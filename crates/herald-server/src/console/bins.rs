//! Request bins in the console: `GET /console/bins` lists them with a
//! create form; `GET /console/bins/<id>` shows the URL to copy and the
//! captured requests newest first (headers folded, JSON bodies
//! pretty-printed); `POST /console/bins` creates, `POST
//! /console/bins/<id>/delete` deletes. Each asks `api::bins::authorize`
//! first, the same check as the API (bins take the webhook table's
//! privileges: a Basic User gets 403).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::html;
use uuid::Uuid;

use super::error::{ConsoleError, ConsoleResult, WithSession};
use super::layout::{self, csrf_input, post_button, pretty_json, respond, see_other, time_ms, Nav};
use super::session::Session;
use super::{checked_post, signed_in, Console, ConsoleState};
use crate::api::bins::authorize;
use crate::api::BIN_KEEP;
use crate::public_origin::PublicOrigin;
use herald_core::security::Privilege;

fn bin_url(origin: &PublicOrigin, id: Uuid) -> String {
    origin.url(&format!("/bins/{id}"))
}

async fn render_list(c: &Console, s: &Session, origin: &PublicOrigin) -> ConsoleResult<Response> {
    authorize(&c.app, &s.grants, Privilege::Read).map_err(|e| ConsoleError::from(e).with(s))?;
    let bins = c.app.bins.bins().await.ctx(s)?;
    let body = html! {
        h1 { "Request bins" }
        p.sub { "A bin captures every request sent to its URL (no API key needed) — point a webhook at it to see exactly what herald sends. Each keeps the newest " (BIN_KEEP) "." }
        form.filters method="post" action="/console/bins" {
            (csrf_input(s))
            label { "Name" input type="text" name="name" placeholder="bin" maxlength="200"; }
            button.btn.primary type="submit" #create-bin { "Create bin" }
        }
        @if bins.is_empty() {
            div.empty { "No bins yet." }
        } @else {
            table.grid #bins {
                thead { tr { th { "Name" } th { "URL" } th { "Created" } } }
                tbody {
                    @for b in &bins {
                        tr {
                            td { a href={ "/console/bins/" (b.id) } { (b.name) } }
                            td.mono { (bin_url(origin, b.id)) }
                            td { (time_ms(b.created_ms)) }
                        }
                    }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        layout::page("Request bins", Nav::Bins, Some(s), body),
    ))
}

pub async fn list(
    State(c): State<ConsoleState>,
    origin: PublicOrigin,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    match signed_in(&c, &headers, &uri).await {
        Ok(s) => render_list(&c, &s, &origin)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(r) => r,
    }
}

/// `POST /console/bins` with `name`.
pub async fn create(State(c): State<ConsoleState>, headers: HeaderMap, body: Bytes) -> Response {
    let (s, form) = match checked_post(&c, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name: String = form
        .get("name")
        .unwrap_or("bin")
        .chars()
        .take(200)
        .collect();
    if let Err(e) = authorize(&c.app, &s.grants, Privilege::Create) {
        return ConsoleError::from(e).with(&s).into_response();
    }
    match c
        .app
        .bins
        .create_bin(&name, c.app.clock.now().timestamp_millis())
        .await
    {
        Ok(bin) => see_other(&format!("/console/bins/{}", bin.id)),
        Err(e) => ConsoleError::from(e).with(&s).into_response(),
    }
}

async fn render_bin(
    c: &Console,
    s: &Session,
    id: &str,
    origin: &PublicOrigin,
) -> ConsoleResult<Response> {
    authorize(&c.app, &s.grants, Privilege::Read).map_err(|e| ConsoleError::from(e).with(s))?;
    let missing = || ConsoleError::not_found(format!("No bin '{id}'")).with(s);
    let bin_id = Uuid::parse_str(id).map_err(|_| missing())?;
    let bin = c.app.bins.bin(bin_id).await.ctx(s)?.ok_or_else(missing)?;
    let requests = c.app.bins.bin_requests(bin_id, BIN_KEEP).await.ctx(s)?;
    let url = bin_url(origin, bin.id);
    let body = html! {
        p { a href="/console/bins" { "← Request bins" } }
        h1 { (bin.name) }
        div.copy {
            input #bin-url type="text" readonly value=(url);
            button.btn type="button" data-copy="bin-url" { "Copy URL" }
            a.btn href={ "/console/bins/" (bin.id) } { "Refresh" }
            (post_button(s, &format!("/console/bins/{}/delete", bin.id), "Delete bin", "danger", Some("Delete this bin and everything it captured?")))
        }
        p.muted { (requests.len()) " requests captured (newest first)." }
        @if requests.is_empty() {
            div.empty { "Nothing captured yet. Send a request to the URL above." }
        }
        @for r in &requests {
            @let pairs: Vec<(String, String)> = serde_json::from_str(&r.headers).unwrap_or_default();
            @let is_json = serde_json::from_str::<serde_json::Value>(&r.body).is_ok();
            div.request {
                header {
                    span.method { (r.method) }
                    span.mono.wrap { (r.path) @if let Some(q) = &r.query { "?" (q) } }
                    span.muted { (time_ms(r.received_ms)) }
                    span.muted { (r.body_size) " bytes" @if r.truncated { " (truncated)" } }
                    @if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "x-ms-dynamics-request-name") { span.badge.wait { (v) } }
                }
                div.body {
                    details {
                        summary { (pairs.len()) " headers" }
                        table.kv.mono {
                            @for (k, v) in &pairs { tr { th { (k) } td.wrap { (v) } } }
                        }
                    }
                    @if r.body.is_empty() {
                        p.muted { "(empty body)" }
                    } @else if is_json {
                        pre.json { (pretty_json(&r.body)) }
                    } @else {
                        pre.block { (r.body) }
                    }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        layout::page(&bin.name, Nav::Bins, Some(s), body),
    ))
}

pub async fn show(
    State(c): State<ConsoleState>,
    Path(id): Path<String>,
    origin: PublicOrigin,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    match signed_in(&c, &headers, &uri).await {
        Ok(s) => render_bin(&c, &s, &id, &origin)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(r) => r,
    }
}

/// `POST /console/bins/<id>/delete`
pub async fn delete(
    State(c): State<ConsoleState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (s, _) = match checked_post(&c, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result: ConsoleResult<Response> = async {
        authorize(&c.app, &s.grants, Privilege::Delete)?;
        let bin_id =
            Uuid::parse_str(&id).map_err(|_| ConsoleError::not_found(format!("No bin '{id}'")))?;
        if !c.app.bins.delete_bin(bin_id).await? {
            return Err(ConsoleError::not_found(format!("No bin '{id}'")));
        }
        Ok(see_other("/console/bins"))
    }
    .await;
    result
        .map_err(|e| e.with(&s))
        .unwrap_or_else(IntoResponse::into_response)
}
