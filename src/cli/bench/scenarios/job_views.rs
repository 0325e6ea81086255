//! How the System Jobs read while a large backlog waits (or after it
//! drained): the console's System Jobs page and the seed's failed-jobs
//! query, each timed over HTTP on loopback R times (p50 / p99), as a user
//! would see them.
//!
//! - The console is signed in to as a browser does it: `POST
//!   /console/login` with the admin key, then the session cookie. Timed:
//!   the first page (`/console/jobs`, newest first), the Waiting group
//!   (two index walks merged), and a page at the far end of the list (the
//!   `after` cursor of the 100th-oldest job: what the "Older →" link gives
//!   after paging to the end).
//! - The failed-jobs query is the one the webhook docs give (`Query failed
//!   asynchronous jobs for a given step`):
//!   `asyncoperations?$orderby=completedon desc&$filter=statuscode eq 31
//!   and _owningextensionid_value eq @stepid&$select=name,friendlymessage,
//!   errorcode,message,completedon&@stepid=<step>`, with the admin key.

use std::net::SocketAddr;

use anyhow::{anyhow, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use hyper::{Method, Request};

use crate::cli::bench::load::{Api, HttpConn};
use crate::cli::bench::report::{Outcome, Unit};
use crate::cli::bench::stats::{now_ns, Lat};
use crate::cli::progress::ProgressHandle;

/// The seed's failed-jobs query for `step`, relative to the Web API.
pub fn failed_jobs_path(step: &str) -> String {
    format!("asyncoperations?$orderby=completedon%20desc&$filter=statuscode%20eq%2031%20and%20_owningextensionid_value%20eq%20@stepid&$select=name,friendlymessage,errorcode,message,completedon&@stepid={step}")
}

/// Where and as whom the reads are made.
pub struct Views<'a> {
    pub addr: SocketAddr,
    pub api: &'a Api,
    pub key: &'a str,
    pub step: &'a str,
    pub store: &'a herald_store::Store,
}

/// One timed read: label (table), key prefix (JSON), request.
struct Read {
    key: String,
    label: String,
    path: String,
    console: bool,
}

/// Time every read `runs` times; the figures go to `out` with keys
/// prefixed by `phase` (`waiting_` before the drain, `drained_` after).
pub async fn time_reads(
    v: &Views<'_>,
    runs: usize,
    phase: &str,
    what: &str,
    mut out: Outcome,
) -> anyhow::Result<Outcome> {
    let mut conn = HttpConn::open(v.addr).await?;
    let cookie = sign_in(&mut conn, v.addr, v.key).await?;
    let far_end = far_end_cursor(v.store).await?;
    let mut reads = vec![
        Read {
            key: "console_jobs".into(),
            label: "console System Jobs page".into(),
            path: "/console/jobs".into(),
            console: true,
        },
        Read {
            key: "console_jobs_waiting".into(),
            label: "console System Jobs, Waiting".into(),
            path: "/console/jobs?status=waiting".into(),
            console: true,
        },
    ];
    if let Some(c) = far_end {
        reads.push(Read {
            key: "console_jobs_far_end".into(),
            label: "console System Jobs, page at the far end".into(),
            path: format!("/console/jobs?after={c}"),
            console: true,
        });
    }
    reads.push(Read {
        key: "failed_jobs_query".into(),
        label: "seed's failed-jobs query (Web API)".into(),
        path: failed_jobs_path(v.step),
        console: false,
    });
    let p = ProgressHandle::start(
        &format!("{what}: timing {} reads × {runs}", reads.len()),
        (reads.len() * runs) as u64,
    );
    let counter = p.counter();
    for r in &reads {
        let mut took = Vec::with_capacity(runs);
        let mut rows = 0;
        for i in 0..runs {
            let req = if r.console {
                console_get(v.addr, &r.path, &cookie)?
            } else {
                v.api.request(Method::GET, &r.path, None)
            };
            let t = now_ns();
            let (status, _, body) = conn.send(req).await?;
            took.push(now_ns() - t);
            if !status.is_success() {
                bail!(
                    "GET {}: {status}: {}",
                    r.path,
                    String::from_utf8_lossy(&body)
                );
            }
            if i == 0 {
                rows = count_rows(&body, r.console);
            }
            counter.tick();
        }
        let lat = Lat::of(took);
        out = out
            .metric(
                &format!("{phase}{}_rows", r.key),
                &format!("{} ({what}): rows", r.label),
                rows as f64,
                Unit::Count,
            )
            .metric(
                &format!("{phase}{}_p50_ms", r.key),
                &format!("{} p50", r.label),
                lat.p50,
                Unit::Ms,
            )
            .metric(
                &format!("{phase}{}_p99_ms", r.key),
                &format!("{} p99", r.label),
                lat.p99,
                Unit::Ms,
            );
    }
    p.finish();
    Ok(out)
}

/// Rows a read answered: `"value"` entries of a Web API list, `<tr>`s of
/// a console page's table body.
fn count_rows(body: &Bytes, console: bool) -> usize {
    if console {
        let text = String::from_utf8_lossy(body);
        text.split("<tbody>").nth(1).map_or(0, |t| {
            t.split("</tbody>")
                .next()
                .unwrap_or("")
                .matches("<tr")
                .count()
        })
    } else {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["value"].as_array().map(Vec::len))
            .unwrap_or(0)
    }
}

/// Sign in to the console with `key`; the session cookie (`name=value`).
async fn sign_in(conn: &mut HttpConn, addr: SocketAddr, key: &str) -> anyhow::Result<String> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("key", key)
        .finish();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/console/login")
        .header(HOST, HeaderValue::from_str(&addr.to_string())?)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))?;
    let (status, headers, _) = conn.send(req).await?;
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let pair = v.split(';').next()?.trim();
            (!pair.split_once('=')?.1.is_empty()).then(|| pair.to_string())
        })
        .ok_or_else(|| anyhow!("console sign-in gave no session cookie ({status})"))
}

fn console_get(addr: SocketAddr, path: &str, cookie: &str) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(HOST, HeaderValue::from_str(&addr.to_string())?)
        .header(COOKIE, HeaderValue::from_str(cookie)?)
        .body(Full::new(Bytes::new()))?)
}

/// The console cursor (`<createdon ms>_<id>`) of the 100th-oldest job (or
/// the oldest, with fewer): the page after it is the list's last. Read
/// from the store, whose `createdon` has the milliseconds the console's
/// cursors carry (the Web API gives seconds).
async fn far_end_cursor(store: &herald_store::Store) -> anyhow::Result<Option<String>> {
    use herald_core::query::{ColumnRef, Order};
    let mut q = herald_core::Query::all("asyncoperation");
    q.select = vec!["createdon".into(), "asyncoperationid".into()];
    q.order = vec![
        Order {
            column: ColumnRef::new("createdon"),
            descending: false,
        },
        Order {
            column: ColumnRef::new("asyncoperationid"),
            descending: true,
        },
    ];
    let rows = store.fetch(&q, Some(100), 0).await?;
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    let (Some(herald_core::Value::DateTime(at)), Some(id)) =
        (last.get("createdon"), last.guid("asyncoperationid"))
    else {
        return Ok(None);
    };
    Ok(Some(format!("{}_{id}", at.timestamp_millis())))
}
