//! Signing in and out. `POST /console/login` takes an API key (the same
//! keys as `Authorization: Bearer`), checks it against the stored hashes,
//! and starts a session (see `session`); a wrong key gets the form again
//! with 401. A sign-in POST whose `Origin` header names another site than
//! the request's `Host` is refused with 403 (login CSRF: a foreign page
//! must not sign the browser in to an attacker's key). `POST
//! /console/logout` (CSRF-checked) ends the session.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::form::{query_string, Fields};
use super::layout::{page, respond, see_other, Nav};
use super::{checked_post, session, ConsoleState};
use crate::auth::hash_key;
use crate::public_origin::PublicOrigin;

/// Only console paths may be returned to after signing in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/console" || n.starts_with("/console/") || n.starts_with("/console?"))
                && !n.starts_with("/console/login")
                && !n.contains("//")
                && !n.contains('\\') =>
        {
            n.to_string()
        }
        _ => "/console/jobs".to_string(),
    }
}

/// Whether the browser will drop the `Secure` session cookie: plain HTTP to
/// a host other than localhost / a loopback address (and no TLS proxy in front).
fn cookie_would_be_dropped(headers: &HeaderMap) -> bool {
    let proxied_tls = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    let local = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !proxied_tls && !local
}

/// Whether a form POST comes from this server's own pages (CSRF): its
/// `Origin`, when sent, is this server — `host[:port]` equals the `Host`
/// (or a proxy's `X-Forwarded-Host`), default ports aside; `Origin: null`
/// or a foreign origin is not. Without `Origin`, a `Referer` must name this
/// server the same way. With neither (not a browser: browsers send `Origin`
/// on every POST), the request is allowed; the session's CSRF token still
/// guards every signed-in POST.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let (value, referer) = match (headers.get(header::ORIGIN), headers.get(header::REFERER)) {
        (Some(o), _) => (o, false),
        (None, Some(r)) => (r, true),
        (None, None) => return true,
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let value = value.trim().to_ascii_lowercase();
    let (scheme, rest) = match value.split_once("://") {
        Some((s, r)) if s == "http" || s == "https" => (s, r),
        _ => return false,
    };
    // A Referer is a whole URL: only its authority counts.
    let authority = if referer {
        rest.split(['/', '?', '#']).next().unwrap_or("")
    } else if rest.contains('/') {
        return false;
    } else {
        rest
    };
    if authority.is_empty() || authority.contains('@') {
        return false;
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let strip = |h: &str| -> String {
        let h = h.trim().to_ascii_lowercase();
        match h.strip_suffix(default_port) {
            Some(bare) => bare.to_string(),
            None => h,
        }
    };
    let wanted = strip(authority);
    ["x-forwarded-host", "host"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|h| strip(h) == wanted))
    })
}

/// `warn_cookie`: [`cookie_would_be_dropped`], unless herald serves HTTPS
/// itself (or a trusted proxy says the client used it).
fn login_page(next: &str, error: Option<&str>, warn_cookie: bool) -> Markup {
    let body = html! {
        div.login {
            h1 { "Sign in to herald" }
            @if let Some(e) = error { div.notice.error { (e) } }
            @if warn_cookie {
                div.notice.error {
                    "Browsers keep the console's session cookie (Secure) only over HTTPS or on localhost: "
                    "serve HTTPS (herald serve --tls-cert/--tls-key) or put herald behind a TLS proxy, "
                    "or open it as http://127.0.0.1:<port>/console."
                }
            }
            form method="post" action={ "/console/login" (query_string(&[("next", next)])) } {
                label for="key" { "API key" }
                input id="key" type="password" name="key" autocomplete="current-password" autofocus required placeholder="hk_…";
                button.btn.primary type="submit" { "Sign in" }
            }
            p.muted { "The admin key is printed at first start and kept in " code { "<data-dir>/admin.key" } "." }
        }
    };
    page("Sign in", Nav::None, None, body)
}

/// `GET /console/login`
pub async fn form(
    State(c): State<ConsoleState>,
    RawQuery(q): RawQuery,
    origin: PublicOrigin,
    headers: HeaderMap,
) -> Response {
    let next = safe_next(Fields::query(q.as_deref()).get("next"));
    let warn_cookie = cookie_would_be_dropped(&headers) && origin.scheme() != "https";
    if session::current(&c.app, &c.sessions, &headers)
        .await
        .is_some()
    {
        return see_other(&next);
    }
    respond(StatusCode::OK, login_page(&next, None, warn_cookie))
}

/// `POST /console/login` with `key=<api key>`.
pub async fn submit(
    State(c): State<ConsoleState>,
    RawQuery(q): RawQuery,
    origin: PublicOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let next = safe_next(Fields::query(q.as_deref()).get("next"));
    let warn_cookie = cookie_would_be_dropped(&headers) && origin.scheme() != "https";
    if !same_origin(&headers) {
        return super::error::ConsoleError::forbidden(
            "This sign-in form was sent from another site; open the console directly and sign in there.",
        )
        .into_response();
    }
    let fields = Fields::parse(&body);
    let Some(key) = fields.get("key") else {
        return respond(
            StatusCode::UNAUTHORIZED,
            login_page(&next, Some("Enter an API key."), warn_cookie),
        );
    };
    let keyhash = hash_key(key);
    match c.app.store.api_key_caller(&keyhash).await {
        Ok(Some(k)) if k.disabled => respond(
            StatusCode::UNAUTHORIZED,
            login_page(&next, Some(DISABLED_USER), warn_cookie),
        ),
        Ok(Some(k)) => {
            let user = k.user_id;
            let s = c.sessions.create(user, user_name(&c, user).await, keyhash);
            let mut resp = see_other(&next);
            resp.headers_mut()
                .insert(header::SET_COOKIE, session::set_cookie(&s));
            resp
        }
        Ok(None) => respond(
            StatusCode::UNAUTHORIZED,
            login_page(&next, Some("That API key is not valid."), warn_cookie),
        ),
        Err(e) => super::error::ConsoleError::from(e).into_response(),
    }
}

const DISABLED_USER: &str =
    "The user this API key acts as is disabled (systemuser.isdisabled); an administrator can enable it again.";

/// The systemuser's full name (its id when it has none).
async fn user_name(c: &ConsoleState, user: uuid::Uuid) -> String {
    let name = match c.app.schema().table("systemuser") {
        Some(t) => c
            .app
            .store
            .get(t, user)
            .await
            .ok()
            .flatten()
            .and_then(|r| r.string("fullname").map(str::to_string)),
        None => None,
    };
    name.filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| user.to_string())
}

/// `POST /console/logout`
pub async fn logout(State(c): State<ConsoleState>, headers: HeaderMap, body: Bytes) -> Response {
    let (s, _) = match checked_post(&c, &headers, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    c.sessions.remove(&s.id);
    let mut resp = see_other("/console/login");
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    resp
}

#[cfg(test)]
mod tests {
    use super::{cookie_would_be_dropped, safe_next, same_origin};
    use axum::http::{HeaderMap, HeaderValue};

    fn host(h: &'static str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("host", HeaderValue::from_static(h));
        m
    }

    #[test]
    fn warns_when_the_secure_cookie_cannot_stick() {
        assert!(!cookie_would_be_dropped(&host("127.0.0.1:5080")));
        assert!(!cookie_would_be_dropped(&host("localhost:5080")));
        assert!(!cookie_would_be_dropped(&host("[::1]:5080")));
        assert!(cookie_would_be_dropped(&host("herald.internal:5080")));
        let mut proxied = host("herald.example.com");
        proxied.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(!cookie_would_be_dropped(&proxied));
    }

    #[test]
    fn origin_must_be_this_host() {
        let with = |o: &'static str, h: &'static str| {
            let mut m = host(h);
            m.insert("origin", HeaderValue::from_static(o));
            same_origin(&m)
        };
        assert!(same_origin(&host("127.0.0.1:5080")), "no Origin");
        assert!(with("http://127.0.0.1:5080", "127.0.0.1:5080"));
        assert!(with("https://herald.example.com", "herald.example.com:443"));
        assert!(with("http://Herald.Example.com:80", "herald.example.com"));
        assert!(!with("http://evil.example", "127.0.0.1:5080"));
        assert!(!with("http://127.0.0.1:5081", "127.0.0.1:5080"));
        assert!(!with("null", "127.0.0.1:5080"));
        let mut proxied = host("10.0.0.5:5080");
        proxied.insert(
            "origin",
            HeaderValue::from_static("https://herald.example.com"),
        );
        proxied.insert(
            "x-forwarded-host",
            HeaderValue::from_static("herald.example.com"),
        );
        assert!(same_origin(&proxied));
        // Without Origin, the Referer decides.
        let referer = |r: &'static str| {
            let mut m = host("127.0.0.1:5080");
            m.insert("referer", HeaderValue::from_static(r));
            same_origin(&m)
        };
        assert!(referer("http://127.0.0.1:5080/console/jobs?status=failed"));
        assert!(!referer("http://evil.example/console"));
        assert!(!referer("http://127.0.0.1:5080@evil.example/"));
        assert!(!referer("http://127.0.0.1:50800/"));
        assert!(!referer("file:///tmp/x.html"));
    }

    #[test]
    fn only_console_paths_are_followed() {
        assert_eq!(
            safe_next(Some("/console/jobs?status=failed")),
            "/console/jobs?status=failed"
        );
        assert_eq!(safe_next(Some("https://evil.example/")), "/console/jobs");
        assert_eq!(safe_next(Some("/console//evil.example")), "/console/jobs");
        assert_eq!(safe_next(Some("/consolex")), "/console/jobs");
        assert_eq!(safe_next(None), "/console/jobs");
    }
}
