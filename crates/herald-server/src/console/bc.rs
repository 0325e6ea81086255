//! `GET /console/bc`: Business Central subscriptions (resource, URL,
//! expiry) and, per notification URL, its delivery state and the
//! notifications still waiting to be sent; plus how many captured changes
//! are still inside their delay window (not yet notifications).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::error::{ConsoleResult, WithSession};
use super::layout::{self, respond, time_ms, Nav};
use super::session::Session;
use super::{signed_in, Console, ConsoleState};

/// Pending notifications listed per URL.
const SHOWN_PER_URL: i64 = 100;

async fn render(c: &Console, s: &Session) -> ConsoleResult<Response> {
    let store = &c.app.store;
    let now = c.app.clock.now().timestamp_millis();
    let subs = store.bc_subscriptions().await.ctx(s)?;
    let waiting_changes = store.bc_pending_changes().await.ctx(s)?;
    let pending_total = store.bc_pending_notifications().await.ctx(s)?;
    let mut by_url: BTreeMap<&str, Vec<&herald_store::bc::BcSubscription>> = BTreeMap::new();
    for sub in &subs {
        by_url
            .entry(sub.notification_url.as_str())
            .or_default()
            .push(sub);
    }
    let mut urls = Vec::new();
    for url in by_url.keys() {
        let batch = store.bc_batch(url, now, SHOWN_PER_URL).await.ctx(s)?;
        let target = store.bc_target(url).await.ctx(s)?;
        urls.push((*url, batch, target));
    }
    let pending_of = |id: &str| {
        urls.iter()
            .map(|(_, b, _)| b.iter().filter(|(n, _)| n.subscription_id == id).count())
            .sum::<usize>()
    };
    let body = html! {
        h1 { "Business Central subscriptions" }
        p.sub {
            (subs.len()) " subscriptions · " (pending_total) " notifications waiting to be sent · "
            (waiting_changes) " changes still in their delay window"
        }
        @if subs.is_empty() {
            div.empty { "No subscriptions. Create one with " code { "POST /api/v2.0/subscriptions" } "." }
        } @else {
            table.grid #subscriptions {
                thead { tr { th { "Subscription" } th { "Resource" } th { "Notification URL" } th { "Client state" } th { "Expires" } th.num { "Pending" } } }
                tbody {
                    @for sub in &subs {
                        tr {
                            td.mono { (sub.id) div.muted { "created " (time_ms(sub.created_ms)) } }
                            td.mono.wrap { (sub.resource) div.muted { (sub.api_version) } }
                            td.mono.wrap { (sub.notification_url) }
                            td { (sub.client_state.as_deref().map(|c| layout::excerpt(c, 40)).unwrap_or_else(|| "—".into())) }
                            td.nowrap {
                                (time_ms(sub.expires_ms))
                                @if sub.expires_ms <= now { " " span.badge.fail { "expired" } }
                            }
                            td.num { (pending_of(&sub.id)) }
                        }
                    }
                }
            }
            @for (url, batch, target) in &urls {
                h2.wrap { "Notifications for " span.mono { (url) } }
                p.muted {
                    @match target {
                        Some((attempts, first_failure, next)) => {
                            @if *attempts > 0 {
                                span.badge.fail { (attempts) " failed attempts" } " since "
                                (first_failure.map(time_ms).unwrap_or_else(|| "—".into())) "; next attempt " (time_ms(*next))
                            } @else {
                                "Next delivery " (time_ms(*next))
                            }
                        }
                        None => { "Nothing in delivery." }
                    }
                }
                @if batch.is_empty() {
                    div.empty { "No pending notifications." }
                } @else {
                    table.grid {
                        thead { tr { th { "Subscription" } th { "Change" } th { "Resource" } th { "Last modified" } th { "Queued" } } }
                        tbody {
                            @for (n, sub) in batch {
                                tr {
                                    td.mono { (sub.id) }
                                    td { span.badge.wait { (n.change_type) } }
                                    td.mono.wrap { (n.resource) }
                                    td { (time_ms(n.last_modified_ms)) }
                                    td { (time_ms(n.created_ms)) }
                                }
                            }
                        }
                    }
                    @if batch.len() as i64 == SHOWN_PER_URL { p.muted { "Showing the oldest " (SHOWN_PER_URL) "." } }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        layout::page("BC subscriptions", Nav::Bc, Some(s), body),
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
