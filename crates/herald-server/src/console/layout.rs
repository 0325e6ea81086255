//! The page shell (head, nav bar, who is signed in) and the small pieces
//! every page uses: status badges, times, pretty JSON, POST buttons that
//! carry the CSRF token. maud escapes every interpolated value.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use herald_core::job::{JobPhase, JobState, JobStatus};
use herald_core::Value;
use maud::{html, Markup, DOCTYPE};

use super::session::Session;

/// Which nav item is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    None,
    Jobs,
    Webhooks,
    Steps,
    Bc,
    Bins,
    Audit,
}

const ITEMS: [(Nav, &str, &str); 6] = [
    (Nav::Jobs, "/console/jobs", "System Jobs"),
    (Nav::Webhooks, "/console/webhooks", "Webhooks"),
    (Nav::Steps, "/console/steps", "Steps"),
    (Nav::Bc, "/console/bc", "BC subscriptions"),
    (Nav::Bins, "/console/bins", "Request bins"),
    (Nav::Audit, "/console/audit", "Audit"),
];

/// Whether the nav shows `item` to `s`: the audit trail only to those who
/// may read it.
fn shown(item: Nav, s: &Session) -> bool {
    item != Nav::Audit || s.grants.depth_of("prvReadAuditSummary") > 0
}

/// A whole page.
pub fn page(title: &str, nav: Nav, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · herald" }
                link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                nav.top {
                    a.brand href="/console/jobs" { "herald" }
                    @if let Some(s) = session {
                        @for (item, href, label) in ITEMS.into_iter().filter(|(i, _, _)| shown(*i, s)) {
                            a.item.on[item == nav] href=(href) { (label) }
                        }
                        span.spacer {}
                        span.who title=(s.user_id) { (s.user_name) }
                        span.roles title="security roles" { (s.role_names()) }
                        form.inline method="post" action="/console/logout" {
                            (csrf_input(s))
                            button.btn.small type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// An HTML response.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// `303 See Other` to `to`.
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(to) {
        r.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    r
}

/// The hidden field with the session's CSRF token.
pub fn csrf_input(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A button that POSTs to `action` with the CSRF token; `confirm` asks first.
pub fn post_button(
    s: &Session,
    action: &str,
    label: &str,
    class: &str,
    confirm: Option<&str>,
) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=[confirm] {
            (csrf_input(s))
            button type="submit" class={ "btn " (class) } { (label) }
        }
    }
}

/// A coloured badge for a job's status.
pub fn job_badge(phase: JobPhase) -> Markup {
    let class = match (phase.state, phase.status) {
        (JobState::Suspended, _) => "cancel",
        (_, JobStatus::WaitingForResources | JobStatus::Waiting) => "wait",
        (_, JobStatus::InProgress | JobStatus::Pausing | JobStatus::Canceling) => "run",
        (_, JobStatus::Succeeded) => "ok",
        (_, JobStatus::Failed) => "fail",
        (_, JobStatus::Canceled) => "cancel",
    };
    html! { span class={ "badge " (class) } title={ "statecode " (phase.state.code()) ", statuscode " (phase.status.code()) } { (phase.label()) } }
}

/// A badge for an HTTP status of a delivery attempt (none = no answer).
pub fn http_badge(status: Option<i64>) -> Markup {
    match status {
        Some(s) if (200..300).contains(&s) => html! { span.badge.ok { (s) } },
        Some(s) => html! { span.badge.fail { (s) } },
        None => html! { span.badge.fail { "no answer" } },
    }
}

pub fn on_off(on: bool, yes: &str, no: &str) -> Markup {
    html! {
        @if on { span.badge.on { (yes) } } @else { span.badge.off { (no) } }
    }
}

pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn time_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| time(&t))
        .unwrap_or_else(|| ms.to_string())
}

/// A datetime column's value, or "—".
pub fn time_value(v: Option<&Value>) -> String {
    match v {
        Some(Value::DateTime(t)) => time(t),
        _ => "—".to_string(),
    }
}

/// Any column value as text ("—" for null).
pub fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::DateTime(t)) => time(t),
        Some(other) => match other.to_json() {
            serde_json::Value::String(s) => s,
            j => j.to_string(),
        },
    }
}

/// The text pretty-printed when it is JSON, as it came otherwise.
pub fn pretty_json(raw: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| raw.to_string()),
        Err(_) => raw.to_string(),
    }
}

/// At most `n` characters, with "…" when cut.
pub fn excerpt(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

/// A notice shown above a page's content.
pub fn notice(message: &str) -> Markup {
    html! { div.notice { (message) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        let s = Session {
            id: "i".into(),
            user_id: uuid::Uuid::nil(),
            user_name: "n".into(),
            csrf: "t\"<".into(),
            grants: Default::default(),
        };
        let b = post_button(&s, "/console/x?a=1&b=2", "<Go>", "primary", None).into_string();
        assert!(b.contains("value=\"t&quot;&lt;\""), "{b}");
        assert!(b.contains("&lt;Go&gt;"), "{b}");
        assert!(b.contains("action=\"/console/x?a=1&amp;b=2\""), "{b}");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(pretty_json("{\"a\":1}"), "{\n  \"a\": 1\n}");
        assert_eq!(pretty_json("not json"), "not json");
        assert_eq!(time_ms(0), "1970-01-01 00:00:00 UTC");
        assert!(job_badge(JobPhase::FAILED)
            .into_string()
            .contains("Failed</span>"));
    }
}
