//! The web console at `/console`: server-rendered HTML (maud) for operators
//! and developers — sign in with an API key, then browse webhooks, steps,
//! System Jobs (filter, inspect, retry, cancel), Business Central
//! subscriptions with their pending notifications, and request bins.
//! No front-end build: a stylesheet and a few lines of script are served
//! from [`assets`].
//!
//! | file | concept |
//! |---|---|
//! | `session` | in-memory sessions, the session cookie, CSRF tokens |
//! | `form` | URL-encoded forms and query strings |
//! | `layout` | page shell, nav bar, badges, formatting |
//! | `error` | failures as HTML pages |
//! | `assets` | CSS and JS |
//! | `login` | sign in / sign out |
//! | `registration` | reads of webhooks and steps the pages share |
//! | `webhooks` | service endpoints |
//! | `steps` | processing steps, enable / disable |
//! | `jobs` | the System Jobs list (filters, keyset paging) |
//! | `job` | one System Job: fields, context, attempts, retry / cancel |
//! | `record` | one business record (what a job is regarding) |
//! | `bc` | Business Central subscriptions and pending notifications |
//! | `bins` | request bins |
//! | `audit` | the audit trail (System Administrators) |
//!
//! Every state-changing request is a POST form carrying the session's CSRF
//! token and coming from this server's own pages (`Origin`, else
//! `Referer`; [`checked_post`]); pages are sent with a strict
//! Content-Security-Policy and `Cache-Control: no-store`.

mod assets;
mod audit;
mod bc;
mod bins;
mod error;
mod form;
mod job;
mod jobs;
mod layout;
mod login;
mod record;
mod registration;
pub mod session;
mod steps;
mod webhooks;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::state::SharedState;
use error::ConsoleError;
use form::Fields;
/// The System Jobs page's queries (for tests of their plans).
pub use jobs::{
    page_queries as jobs_page_queries, Cursor as JobsCursor, Direction as JobsDirection,
    Filters as JobsFilters, DEFAULT_TOP as JOBS_DEFAULT_TOP,
};
use session::{Session, Sessions};

/// What the console's handlers share: the server's state and the sessions.
pub struct Console {
    pub app: SharedState,
    pub sessions: Sessions,
}

pub type ConsoleState = Arc<Console>;

/// The console's routes, ready to merge into the API router.
pub fn router(state: SharedState) -> Router<SharedState> {
    let console = Arc::new(Console {
        app: state,
        sessions: Sessions::default(),
    });
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/assets/console.css", get(assets::css))
        .route("/console/assets/console.js", get(assets::js))
        .route("/console/assets/favicon.svg", get(assets::favicon))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/webhooks", get(webhooks::page))
        .route("/console/steps", get(steps::page))
        .route("/console/steps/{id}/{action}", post(steps::act))
        .route("/console/jobs", get(jobs::page))
        .route("/console/jobs/{id}", get(job::page))
        .route("/console/jobs/{id}/{action}", post(job::act))
        .route("/console/records/{table}/{id}", get(record::page))
        .route("/console/bc", get(bc::page))
        .route("/console/bins", get(bins::list).post(bins::create))
        .route("/console/bins/{id}", get(bins::show))
        .route("/console/bins/{id}/delete", post(bins::delete))
        .route("/console/audit", get(audit::page))
        .route("/console/{*rest}", get(not_found).post(not_found))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(console)
}

async fn home(State(c): State<ConsoleState>, headers: HeaderMap, uri: Uri) -> Response {
    match signed_in(&c, &headers, &uri).await {
        Ok(_) => layout::see_other("/console/jobs"),
        Err(r) => r,
    }
}

async fn not_found(State(c): State<ConsoleState>, headers: HeaderMap) -> Response {
    let mut e = ConsoleError::not_found("There is no console page here.");
    e.session = session::current(&c.app, &c.sessions, &headers)
        .await
        .map(Box::new);
    e.into_response()
}

/// GET pages: the signed-in session, or a redirect to the sign-in page that
/// comes back here afterwards.
pub async fn signed_in(c: &Console, headers: &HeaderMap, uri: &Uri) -> Result<Session, Response> {
    match session::current(&c.app, &c.sessions, headers).await {
        Some(s) => Ok(s),
        None => {
            let next = uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/console/jobs");
            Err(layout::see_other(&format!(
                "/console/login{}",
                form::query_string(&[("next", next)])
            )))
        }
    }
}

/// State-changing requests: the session and the submitted form, or 403
/// when there is no session or the form's CSRF token is not the session's.
pub async fn checked_post(
    c: &Console,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Session, Fields), Response> {
    if !login::same_origin(headers) {
        return Err(ConsoleError::forbidden(
            "This form was sent from another site (its Origin or Referer is not this server); open the console directly and try again.",
        )
        .into_response());
    }
    let Some(s) = session::current(&c.app, &c.sessions, headers).await else {
        return Err(ConsoleError::forbidden(
            "You are not signed in (or your session expired): sign in and try again.",
        )
        .into_response());
    };
    let fields = Fields::parse(body);
    if !session::csrf_ok(&s, fields.get("csrf")) {
        return Err(ConsoleError::forbidden(
            "The form's security token is missing or out of date: reload the page and try again.",
        )
        .with(&s)
        .into_response());
    }
    Ok((s, fields))
}

/// The page for a sign-in refused because its address failed too often
/// (`throttle`); the caller adds `Retry-After`.
pub fn too_many_sign_ins(message: &str) -> Response {
    ConsoleError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, message).into_response()
}

/// Headers on every console response.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
