//! `GET /console/jobs`: the System Jobs list, newest first, with filters
//! (status group, step, table = `primaryentitytype`, a `createdon` range)
//! and keyset paging, so every page is an index range scan however many
//! jobs there are: the cursor is the (createdon, id) of the page's last
//! (`after`) or first (`before`) row, and the order is `createdon DESC,
//! asyncoperationid ASC` — served by the `asyncoperation` indexes on
//! `(createdon)`, `(statuscode, createdon)`, `(owningextensionid,
//! createdon)` and `(primaryentitytype, createdon)` (see herald-store's
//! `ddl::indexes`). A status group of several statuses (Waiting, In
//! progress) is read as one such walk per status, merged here: an `IN`
//! over the statuses would make the store sort every match. No total count
//! is taken (it would scan every match).

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use herald_core::query::{ColumnRef, CompareOp, Condition, Order};
use herald_core::value::parse_datetime;
use herald_core::{Query, Value};
use herald_store::Record;
use maud::html;
use uuid::Uuid;

use super::error::{ConsoleError, ConsoleResult, WithSession};
use super::form::{query_string, Fields};
use super::layout::{self, excerpt, job_badge, respond, time_value, Nav};
use super::registration::steps;
use super::session::Session;
use super::{signed_in, Console, ConsoleState};
use crate::jobs::control::phase_of;
use herald_core::job::JobStatus;

/// Rows per page unless `top` says otherwise.
pub const DEFAULT_TOP: u64 = 50;
pub const MAX_TOP: u64 = 500;

/// The status filter's groups: (value, label, statuscodes).
pub const STATUS_GROUPS: [(&str, &str, &[JobStatus]); 5] = [
    (
        "waiting",
        "Waiting",
        &[JobStatus::WaitingForResources, JobStatus::Waiting],
    ),
    (
        "inprogress",
        "In progress",
        &[
            JobStatus::InProgress,
            JobStatus::Pausing,
            JobStatus::Canceling,
        ],
    ),
    ("succeeded", "Succeeded", &[JobStatus::Succeeded]),
    ("failed", "Failed", &[JobStatus::Failed]),
    ("canceled", "Canceled", &[JobStatus::Canceled]),
];

const COLUMNS: [&str; 12] = [
    "name",
    "statecode",
    "statuscode",
    "owningextensionid",
    "primaryentitytype",
    "regardingobjectid",
    "createdon",
    "completedon",
    "retrycount",
    "friendlymessage",
    "message",
    "errorcode",
];

/// The filters of one request.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub status: Option<&'static str>,
    pub step: Option<Uuid>,
    pub table: Option<String>,
    /// `datetime-local` values as typed (UTC).
    pub from: Option<String>,
    pub to: Option<String>,
    pub top: u64,
}

impl Filters {
    pub fn parse(q: &Fields) -> Result<Filters, String> {
        let status = match q.get("status") {
            None => None,
            Some(s) => Some(
                STATUS_GROUPS
                    .iter()
                    .find(|g| g.0 == s)
                    .map(|g| g.0)
                    .ok_or_else(|| format!("Unknown status '{s}'"))?,
            ),
        };
        let step = match q.get("step") {
            None => None,
            Some(s) => Some(Uuid::parse_str(s).map_err(|_| format!("'{s}' is not a step id"))?),
        };
        for k in ["from", "to"] {
            if let Some(v) = q.get(k) {
                parse_datetime(v).ok_or_else(|| {
                    format!("'{v}' is not a date and time (YYYY-MM-DDTHH:MM, UTC)")
                })?;
            }
        }
        let top = q
            .get("top")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(DEFAULT_TOP)
            .clamp(1, MAX_TOP);
        Ok(Filters {
            status,
            step,
            table: q.get("table").map(|t| t.to_ascii_lowercase()),
            from: q.get("from").map(str::to_string),
            to: q.get("to").map(str::to_string),
            top,
        })
    }

    /// The filters as query-string pairs (for paging links).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("status", self.status.unwrap_or("").to_string()),
            ("step", self.step.map(|s| s.to_string()).unwrap_or_default()),
            ("table", self.table.clone().unwrap_or_default()),
            ("from", self.from.clone().unwrap_or_default()),
            ("to", self.to.clone().unwrap_or_default()),
            (
                "top",
                if self.top == DEFAULT_TOP {
                    String::new()
                } else {
                    self.top.to_string()
                },
            ),
        ]
    }

    /// The statuscodes of the status filter (empty: any status).
    fn statuscodes(&self) -> &'static [JobStatus] {
        self.status
            .and_then(|s| STATUS_GROUPS.iter().find(|g| g.0 == s))
            .map(|g| g.2)
            .unwrap_or(&[])
    }

    /// The filter's conditions, with `statuscode` = `status` when given.
    fn conditions(&self, status: Option<i64>) -> Vec<Condition> {
        let mut c = Vec::new();
        if let Some(code) = status {
            c.push(cmp("statuscode", CompareOp::Eq, Value::Int(code)));
        }
        if let Some(step) = self.step {
            c.push(cmp("owningextensionid", CompareOp::Eq, Value::Guid(step)));
        }
        if let Some(t) = &self.table {
            c.push(cmp(
                "primaryentitytype",
                CompareOp::Eq,
                Value::String(t.clone()),
            ));
        }
        if let Some(t) = self.from.as_deref().and_then(parse_datetime) {
            c.push(cmp("createdon", CompareOp::Ge, Value::DateTime(t)));
        }
        if let Some(t) = self.to.as_deref().and_then(parse_datetime) {
            c.push(cmp("createdon", CompareOp::Lt, Value::DateTime(t)));
        }
        c
    }
}

fn cmp(column: &str, op: CompareOp, value: Value) -> Condition {
    Condition::Compare {
        column: ColumnRef::new(column),
        op,
        value,
    }
}

/// A page boundary: (createdon ms, id), written `<ms>_<id>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub ms: i64,
    pub id: Uuid,
}

impl Cursor {
    pub fn parse(s: &str) -> Option<Cursor> {
        let (ms, id) = s.split_once('_')?;
        Some(Cursor {
            ms: ms.parse().ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }

    /// The page order's key of a row without `createdon` (never on a page
    /// of a cursor, last on the first page).
    const NONE: Cursor = Cursor {
        ms: i64::MIN,
        id: Uuid::nil(),
    };

    fn of(r: &Record) -> Option<Cursor> {
        let ms = match r.get("createdon") {
            Some(Value::DateTime(t)) => t.timestamp_millis(),
            _ => return None,
        };
        Some(Cursor {
            ms,
            id: r.guid("asyncoperationid")?,
        })
    }

    fn render(&self) -> String {
        format!("{}_{}", self.ms, self.id)
    }

    fn time(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.ms)
            .single()
            .unwrap_or_default()
    }
}

/// Which way a page goes from its cursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Direction {
    /// The newest jobs.
    First,
    /// Older than the cursor.
    After(Cursor),
    /// Newer than the cursor.
    Before(Cursor),
}

/// One page of jobs, newest first, and whether there are newer / older ones.
pub struct JobPage {
    pub rows: Vec<Record>,
    pub newer: Option<Cursor>,
    pub older: Option<Cursor>,
}

/// The queries for one page (`top + 1` rows each, to see whether more
/// follow): one, or one per status of a several-status group, each an
/// index walk in the page's order.
pub fn page_queries(filters: &Filters, dir: Direction) -> Vec<Query> {
    match filters.statuscodes() {
        [] => vec![page_query(filters, None, dir)],
        codes => codes
            .iter()
            .map(|c| page_query(filters, Some(c.code()), dir))
            .collect(),
    }
}

fn page_query(filters: &Filters, status: Option<i64>, dir: Direction) -> Query {
    let mut q = Query::all("asyncoperation");
    q.select = COLUMNS.iter().map(|s| s.to_string()).collect();
    let mut conds = filters.conditions(status);
    let id = |op, c: &Cursor| cmp("asyncoperationid", op, Value::Guid(c.id));
    let at = |op, c: &Cursor| cmp("createdon", op, Value::DateTime(c.time()));
    // (createdon, id) past the cursor in the page's order, written so the
    // first conjunct is an index range: `createdon <= t AND (createdon < t OR id > i)`.
    let descending = match dir {
        Direction::First => true,
        Direction::After(c) => {
            conds.push(at(CompareOp::Le, &c));
            conds.push(Condition::Or(vec![
                at(CompareOp::Lt, &c),
                id(CompareOp::Gt, &c),
            ]));
            true
        }
        Direction::Before(c) => {
            conds.push(at(CompareOp::Ge, &c));
            conds.push(Condition::Or(vec![
                at(CompareOp::Gt, &c),
                id(CompareOp::Lt, &c),
            ]));
            false
        }
    };
    q.filter = match conds.len() {
        0 => None,
        1 => conds.pop(),
        _ => Some(Condition::And(conds)),
    };
    // The store appends `asyncoperationid ASC` as the last key; going
    // backwards the id order is reversed explicitly first.
    q.order = vec![Order {
        column: ColumnRef::new("createdon"),
        descending,
    }];
    if !descending {
        q.order.push(Order {
            column: ColumnRef::new("asyncoperationid"),
            descending: true,
        });
    }
    q
}

pub async fn fetch_page(
    c: &Console,
    s: &Session,
    filters: &Filters,
    dir: Direction,
) -> ConsoleResult<JobPage> {
    let queries = page_queries(filters, dir);
    let reader = s.reader(&c.app);
    let mut rows = Vec::new();
    for q in &queries {
        rows.extend(
            reader
                .fetch(q, Some(filters.top + 1), 0)
                .await
                .map_err(crate::api::error::ApiError::from)?,
        );
    }
    if queries.len() > 1 {
        merge_in_page_order(&mut rows, dir);
        rows.truncate(filters.top as usize + 1);
    }
    let more = rows.len() as u64 > filters.top;
    rows.truncate(filters.top as usize);
    if matches!(dir, Direction::Before(_)) {
        rows.reverse();
    }
    let first = rows.first().and_then(Cursor::of);
    let last = rows.last().and_then(Cursor::of);
    let (newer, older) = match dir {
        Direction::First => (None, if more { last } else { None }),
        Direction::After(_) => (first, if more { last } else { None }),
        Direction::Before(_) => (if more { first } else { None }, last),
    };
    Ok(JobPage { rows, newer, older })
}

/// Sort rows read by several queries into the page's order: `createdon`
/// descending then id ascending, or (going back, before a cursor) the
/// reverse, as the store orders each query.
fn merge_in_page_order(rows: &mut [Record], dir: Direction) {
    let key = |r: &Record| Cursor::of(r).unwrap_or(Cursor::NONE);
    rows.sort_by(|a, b| {
        let (a, b) = (key(a), key(b));
        match dir {
            Direction::Before(_) => a.ms.cmp(&b.ms).then(b.id.cmp(&a.id)),
            _ => b.ms.cmp(&a.ms).then(a.id.cmp(&b.id)),
        }
    });
}

async fn render(c: &Console, s: &Session, q: &Fields) -> ConsoleResult<Response> {
    let schema = c.app.schema();
    let filters =
        Filters::parse(q).map_err(|m| ConsoleError::new(StatusCode::BAD_REQUEST, m).with(s))?;
    let dir = match (
        q.get("after").and_then(Cursor::parse),
        q.get("before").and_then(Cursor::parse),
    ) {
        (Some(a), _) => Direction::After(a),
        (None, Some(b)) => Direction::Before(b),
        _ => Direction::First,
    };
    let page = fetch_page(c, s, &filters, dir)
        .await
        .map_err(|e| e.with(s))?;
    // Step names where the user may read steps (a Basic User may not).
    let all_steps = match steps(&s.reader(&c.app)).await {
        Err(e) if e.status == axum::http::StatusCode::FORBIDDEN => Vec::new(),
        other => other.ctx(s)?,
    };
    let step_names: HashMap<Uuid, &str> = all_steps
        .iter()
        .map(|st| (st.id, st.name.as_str()))
        .collect();
    let mut tables: Vec<&str> = all_steps
        .iter()
        .filter(|st| st.mode == 1)
        .map(|st| st.table.as_str())
        .collect();
    tables.sort();
    tables.dedup();
    let base = filters.pairs();
    let link = |cursor: Option<(&'static str, Cursor)>| {
        let mut pairs: Vec<(&str, String)> = base.clone();
        if let Some((k, c)) = cursor {
            pairs.push((k, c.render()));
        }
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        format!("/console/jobs{}", query_string(&borrowed))
    };
    let body = html! {
        h1 { "System Jobs" }
        p.sub { "One job per asynchronous step execution (" code { "asyncoperations" } "), newest first." }
        form.filters method="get" action="/console/jobs" {
            label { "Status"
                select name="status" {
                    option value="" { "Any" }
                    @for (v, l, _) in STATUS_GROUPS { option value=(v) selected[filters.status == Some(v)] { (l) } }
                }
            }
            label { "Step"
                select name="step" {
                    option value="" { "Any" }
                    @for st in all_steps.iter().filter(|st| st.mode == 1 || filters.step == Some(st.id)) {
                        option value=(st.id) selected[filters.step == Some(st.id)] { (st.name) }
                    }
                }
            }
            label { "Table"
                input type="text" name="table" list="job-tables" value=[filters.table.as_deref()] placeholder="any";
                datalist id="job-tables" { @for t in &tables { option value=(t) {} } }
            }
            label { "Created from (UTC)" input type="datetime-local" name="from" value=[filters.from.as_deref()]; }
            label { "to" input type="datetime-local" name="to" value=[filters.to.as_deref()]; }
            label { "Per page"
                select name="top" {
                    @for n in [25u64, 50, 100, 200] { option value=(n) selected[filters.top == n] { (n) } }
                }
            }
            button.btn.primary type="submit" { "Apply" }
            a.btn href="/console/jobs" { "Reset" }
        }
        @if page.rows.is_empty() {
            div.empty { "No System Jobs match." }
        } @else {
            table.grid.stack #jobs {
                thead { tr { th { "Created" } th { "Status" } th { "Step" } th { "Table" } th { "Regarding" } th.num { "Retries" } th { "Completed" } th { "Message" } } }
                tbody {
                    @for r in &page.rows {
                        @let id = r.guid("asyncoperationid").unwrap_or_default();
                        @let step = r.guid("owningextensionid");
                        @let table = r.string("primaryentitytype");
                        @let regarding = r.guid("regardingobjectid");
                        @let linked = table.and_then(|t| schema.table(t)).filter(|t| super::record::viewable(t));
                        tr {
                            td.nowrap data-label="Created" { a href={ "/console/jobs/" (id) } { (time_value(r.get("createdon"))) } }
                            td data-label="Status" { (job_badge(phase_of(r))) }
                            td data-label="Step" {
                                a href={ "/console/jobs/" (id) } {
                                    (step.and_then(|st| step_names.get(&st).copied()).or(r.string("name")).unwrap_or("—"))
                                }
                            }
                            td.mono data-label="Table" { (table.unwrap_or("—")) }
                            td.mono.wrap data-label="Regarding" {
                                @match (linked, regarding) {
                                    (Some(t), Some(g)) => a href={ "/console/records/" (t.logical_name) "/" (g) } { (g) },
                                    _ => (layout::text(r.get("regardingobjectid"))),
                                }
                            }
                            td.num data-label="Retries" { (r.int("retrycount").unwrap_or(0)) }
                            td.nowrap data-label="Completed" { (time_value(r.get("completedon"))) }
                            td data-label="Message" { (excerpt(r.string("friendlymessage").or(r.string("message")).unwrap_or(""), 120)) }
                        }
                    }
                }
            }
        }
        div.pager {
            @if dir != Direction::First { a.btn href=(link(None)) { "⇤ Newest" } }
            @if let Some(n) = page.newer { a.btn href=(link(Some(("before", n)))) rel="prev" { "← Newer" } }
            @if let Some(o) = page.older { a.btn href=(link(Some(("after", o)))) rel="next" { "Older →" } }
            span.muted { (page.rows.len()) " shown" }
        }
    };
    Ok(respond(
        StatusCode::OK,
        layout::page("System Jobs", Nav::Jobs, Some(s), body),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            ms: 1_700_000_000_123,
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::parse(&c.render()), Some(c));
        assert_eq!(Cursor::parse("x_y"), None);
    }

    #[test]
    fn filters_are_checked() {
        assert!(Filters::parse(&Fields::parse(b"status=bogus")).is_err());
        assert!(Filters::parse(&Fields::parse(b"from=yesterday")).is_err());
        let f = Filters::parse(&Fields::parse(
            b"status=failed&table=Contact&from=2024-05-01T10:00&top=9999",
        ))
        .unwrap();
        assert_eq!(f.status, Some("failed"));
        assert_eq!(f.table.as_deref(), Some("contact"));
        assert_eq!(f.top, MAX_TOP);
        assert_eq!(f.conditions(Some(31)).len(), 3);
        assert_eq!(f.statuscodes(), &[JobStatus::Failed]);
        let waiting = Filters::parse(&Fields::parse(b"status=waiting")).unwrap();
        assert_eq!(
            page_queries(&waiting, Direction::First).len(),
            2,
            "one walk per status"
        );
    }

    #[test]
    fn the_page_query_is_keyset_shaped() {
        let schema = herald_core::Schema::build(&[]).unwrap();
        let f = Filters::parse(&Fields::parse(b"status=failed")).unwrap();
        let c = Cursor {
            ms: 5,
            id: Uuid::nil(),
        };
        let sql = herald_store::sql::select(
            herald_store::Dialect::Sqlite,
            &schema,
            &page_query(&f, Some(31), Direction::After(c)),
            Some(51),
            0,
        )
        .unwrap()
        .sql
        .text;
        assert!(sql.contains("\"createdon\" <= $"), "{sql}");
        assert!(sql.contains("ORDER BY t0.\"createdon\" DESC"), "{sql}");
        let sql = herald_store::sql::select(
            herald_store::Dialect::Sqlite,
            &schema,
            &page_query(&f, Some(31), Direction::Before(c)),
            Some(51),
            0,
        )
        .unwrap()
        .sql
        .text;
        assert!(
            sql.contains("ORDER BY t0.\"createdon\" ASC NULLS FIRST, t0.\"asyncoperationid\" DESC"),
            "{sql}"
        );
    }
}
