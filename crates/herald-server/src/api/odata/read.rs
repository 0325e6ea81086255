//! Reads: lists (with paging, counts and `$expand`), single records,
//! navigation to related records, `WhoAmI`, `RetrieveVersion` and the
//! service document. All go through the one query path, the caller's
//! [`crate::security::Reader`] (its security roles decide what it reads).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use herald_core::odata::parse_options;
use herald_core::query::{ColumnRef, CompareOp, Condition, ExpandKind};
use herald_core::{Query, Table, Value};
use herald_store::Record;
use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

use crate::api::error::{ApiError, ApiResult};
use crate::api::path::Key;
use crate::api::prefer::MAX_PAGE_SIZE;
use crate::api::representation::{lookup_names, record_json};
use crate::security::Reader;
use crate::state::AppState;

use super::{fetch_results, odata_json, resolve_key, table_for, Request};

pub(super) fn who_am_i(state: &AppState, req: &Request) -> ApiResult<Response> {
    Ok(odata_json(
        StatusCode::OK,
        json!({
            "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", req.base),
            "BusinessUnitId": state.org.business_unit_id,
            "UserId": req.caller.user_id,
            "OrganizationId": state.org.organization_id,
        }),
    ))
}

/// `RetrieveVersion()`: the Dataverse version herald answers as.
pub(super) fn retrieve_version(req: &Request) -> ApiResult<Response> {
    Ok(odata_json(
        StatusCode::OK,
        json!({
            "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse", req.base),
            "Version": crate::api::metadata::dataverse_version(),
        }),
    ))
}

pub(super) fn service_document(state: &AppState, req: &Request) -> ApiResult<Response> {
    let value: Vec<Json> = state
        .schema()
        .tables()
        .map(|t| json!({"name": t.entity_set, "kind": "EntitySet", "url": t.entity_set}))
        .collect();
    Ok(odata_json(
        StatusCode::OK,
        json!({"@odata.context": format!("{}$metadata", req.base), "value": value}),
    ))
}

pub(super) fn context_url(req: &Request, table: &Table, query: &Query, entity: bool) -> String {
    let mut s = format!("{}$metadata#{}", req.base, table.entity_set);
    if !query.select.is_empty() {
        let names: Vec<String> = query
            .select
            .iter()
            .map(|c| match table.column(c) {
                Some(col) if col.is_lookup() && col.name != table.primary_id => col.value_name(),
                _ => c.clone(),
            })
            .collect();
        s.push('(');
        s.push_str(&names.join(","));
        s.push(')');
    }
    if entity {
        s.push_str("/$entity");
    }
    s
}

/// Parse the query options (or `fetchXml`, or `sql`) for a table.
pub(super) fn bind_query(req: &Request, table: &Table) -> ApiResult<Query> {
    let option = |name: &str| req.options.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let (query, language) = if let Some(xml) = option("fetchXml") {
        (
            herald_core::fetchxml::parse_fetchxml(&req.schema, xml)?,
            "FetchXML entity",
        )
    } else if let Some(sql) = option("sql") {
        (herald_core::sql::parse_sql(&req.schema, sql)?, "SQL table")
    } else {
        return Ok(parse_options(&req.schema, table, &req.options)?);
    };
    if query.table != table.logical_name {
        return Err(ApiError::bad_request(format!(
            "The {language} '{}' does not match the entity set '{}'",
            query.table, table.entity_set
        )));
    }
    Ok(query)
}

pub(super) fn skiptoken(req: &Request) -> ApiResult<u64> {
    match req.options.iter().find(|(k, _)| k == "$skiptoken") {
        None => Ok(0),
        Some((_, t)) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "The $skiptoken is not valid: use the @odata.nextLink exactly as returned",
                )
            }),
    }
}

pub(super) fn next_link(req: &Request, offset: u64) -> String {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"));
    let mut query: Vec<&str> = req
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| {
            !p.is_empty() && !p.starts_with("$skiptoken=") && !p.starts_with("%24skiptoken=")
        })
        .collect();
    let tail = format!("$skiptoken={token}");
    query.push(&tail);
    format!("{}{}?{}", req.origin, req.uri.path(), query.join("&"))
}

pub(super) async fn list(state: &AppState, req: &Request, set: &str) -> ApiResult<Response> {
    let table = table_for(req, set)?;
    let query = bind_query(req, table)?;
    list_query(state, req, table, query, None).await
}

/// Run a list query with paging, counting and expansion.
pub(super) async fn list_query(
    state: &AppState,
    req: &Request,
    table: &Table,
    mut query: Query,
    context: Option<String>,
) -> ApiResult<Response> {
    let context = context.unwrap_or_else(|| context_url(req, table, &query, false));
    let hidden = add_hidden_columns(table, &mut query);
    let offset = skiptoken(req)?;
    let (limit, paged) = match (req.prefer.max_page_size, query.page_size) {
        (_, Some(size)) => (Some(size.min(MAX_PAGE_SIZE)), false),
        (Some(size), _) => (Some(size), true),
        (None, None) => (
            Some(query.top.unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE)),
            false,
        ),
    };
    let offset = match (query.page, query.page_size) {
        (Some(page), Some(size)) => page.saturating_sub(1).saturating_mul(size),
        _ => offset.saturating_add(query.skip.unwrap_or(0)),
    };
    // One row more than a page tells whether there are more (for
    // `@odata.nextLink`, or FetchXML's `morerecords`).
    let fetch_page = query.page.filter(|_| query.page_size.is_some());
    let fetch_limit = if paged || fetch_page.is_some() {
        limit.map(|l| l + 1)
    } else {
        limit
    };
    let reader = req.caller.reader(state);
    let mut rows = reader.fetch(&query, fetch_limit, offset).await?;
    let more = (paged || fetch_page.is_some()) && limit.is_some_and(|l| rows.len() as u64 > l);
    if more {
        rows.truncate(limit.unwrap_or(0) as usize);
    }
    expand(state, &reader, table, &query, &mut rows).await?;
    let names = if req.prefer.annotations {
        Some(lookup_names(&reader, &req.schema, table, &rows).await?)
    } else {
        None
    };
    let mut out = Map::new();
    out.insert("@odata.context".into(), Json::String(context));
    if query.count {
        out.insert(
            "@odata.count".into(),
            Json::from(reader.count(&query).await?),
        );
    }
    let value: Vec<Json> = rows
        .iter()
        .map(|r| {
            if query.aggregate.is_some() {
                return fetch_results::aggregate_row(r);
            }
            Json::Object(with_expansions(
                state,
                table,
                &query,
                r,
                names.as_ref(),
                &hidden,
            ))
        })
        .collect();
    out.insert("value".into(), Json::Array(value));
    if let Some(page) = fetch_page {
        fetch_results::paging_annotations(&mut out, req, table, page, &rows, more);
    }
    if more && paged {
        out.insert(
            "@odata.nextLink".into(),
            Json::String(next_link(req, offset + limit.unwrap_or(0))),
        );
    }
    let mut resp = odata_json(StatusCode::OK, Json::Object(out));
    let mut applied = Vec::new();
    if let Some(n) = req.prefer.max_page_size {
        applied.push(format!("odata.maxpagesize={n}"));
    }
    if req.prefer.annotations {
        applied.push("odata.include-annotations=\"*\"".to_string());
    }
    if !applied.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&applied.join(",")) {
            resp.headers_mut().insert("Preference-Applied", v);
        }
    }
    Ok(resp)
}

/// Key under which expanded rows are attached to a record.
const EXPANDED: &str = "\u{0}expanded:";

/// Fetch `$expand`ed rows and attach them to each record (as JSON, under a
/// private key that `with_expansions` turns into the navigation property).
pub(super) async fn expand(
    state: &AppState,
    reader: &Reader<'_>,
    table: &Table,
    query: &Query,
    rows: &mut [Record],
) -> ApiResult<()> {
    for ex in &query.expand {
        let schema_now = state.schema();
        let Some(target) = schema_now.table(&ex.query.table) else {
            continue;
        };
        match &ex.kind {
            ExpandKind::Single { lookup_column } => {
                let ids: Vec<Value> = rows
                    .iter()
                    .filter_map(|r| r.get(lookup_column).filter(|v| !v.is_null()).cloned())
                    .collect();
                let mut q = ex.query.clone();
                if !q.select.is_empty() && !q.select.contains(&target.primary_id) {
                    q.select.push(target.primary_id.clone());
                }
                q.filter = Some(Condition::In {
                    column: ColumnRef::new(target.primary_id.clone()),
                    values: dedup(ids),
                    negated: false,
                });
                let found = reader.fetch(&q, None, 0).await?;
                for r in rows.iter_mut() {
                    let id = r.guid(lookup_column);
                    let hit = found
                        .iter()
                        .find(|f| id.is_some() && f.guid(&target.primary_id) == id);
                    let json = match hit {
                        Some(h) => Json::Object(record_json(&state.schema(), target, h, None)),
                        None => Json::Null,
                    };
                    r.values.push((
                        format!("{EXPANDED}{}", ex.navigation),
                        Value::String(json.to_string()),
                    ));
                }
            }
            ExpandKind::ManyToMany {
                intersect,
                this_column,
                other_column,
            } => {
                let ids: Vec<Value> = rows
                    .iter()
                    .filter_map(|r| r.get(&table.primary_id).cloned())
                    .collect();
                let mut links = Query::all(intersect);
                links.select = vec![this_column.clone(), other_column.clone()];
                links.filter = Some(Condition::In {
                    column: ColumnRef::new(this_column.clone()),
                    values: dedup(ids),
                    negated: false,
                });
                let links = reader.fetch(&links, None, 0).await?;
                let mut others: Vec<Value> = links
                    .iter()
                    .filter_map(|l| l.get(other_column).cloned())
                    .collect();
                if others.is_empty() {
                    others.push(Value::Guid(Uuid::nil()));
                }
                let mut q = ex.query.clone();
                if !q.select.is_empty() && !q.select.contains(&target.primary_id) {
                    q.select.push(target.primary_id.clone());
                }
                let linked = Condition::In {
                    column: ColumnRef::new(target.primary_id.clone()),
                    values: dedup(others),
                    negated: false,
                };
                q.filter = Some(match q.filter.take() {
                    Some(f) => Condition::And(vec![linked, f]),
                    None => linked,
                });
                let per_parent_top = q.top.take();
                let found = reader.fetch(&q, None, 0).await?;
                for r in rows.iter_mut() {
                    let id = r.guid(&table.primary_id);
                    let children: Vec<Json> = found
                        .iter()
                        .filter(|f| {
                            links.iter().any(|l| {
                                id.is_some()
                                    && l.guid(this_column) == id
                                    && l.guid(other_column) == f.guid(&target.primary_id)
                            })
                        })
                        .take(per_parent_top.map(|t| t as usize).unwrap_or(usize::MAX))
                        .map(|f| Json::Object(record_json(&state.schema(), target, f, None)))
                        .collect();
                    r.values.push((
                        format!("{EXPANDED}{}", ex.navigation),
                        Value::String(Json::Array(children).to_string()),
                    ));
                }
            }
            ExpandKind::Collection { lookup_column } => {
                let ids: Vec<Value> = rows
                    .iter()
                    .filter_map(|r| r.get(&table.primary_id).cloned())
                    .collect();
                let mut q = ex.query.clone();
                if !q.select.is_empty() && !q.select.contains(lookup_column) {
                    q.select.push(lookup_column.clone());
                }
                let parent = Condition::In {
                    column: ColumnRef::new(lookup_column.clone()),
                    values: dedup(ids),
                    negated: false,
                };
                q.filter = Some(match q.filter.take() {
                    Some(f) => Condition::And(vec![parent, f]),
                    None => parent,
                });
                let per_parent_top = q.top.take();
                let found = reader.fetch(&q, None, 0).await?;
                for r in rows.iter_mut() {
                    let id = r.guid(&table.primary_id);
                    let children: Vec<Json> = found
                        .iter()
                        .filter(|f| id.is_some() && f.guid(lookup_column) == id)
                        .take(per_parent_top.map(|t| t as usize).unwrap_or(usize::MAX))
                        .map(|f| Json::Object(record_json(&state.schema(), target, f, None)))
                        .collect();
                    r.values.push((
                        format!("{EXPANDED}{}", ex.navigation),
                        Value::String(Json::Array(children).to_string()),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Columns the response needs but the client did not select (the etag's
/// versionnumber, lookups followed by `$expand`): added to the query and
/// returned so they can be left out of the JSON.
pub(super) fn add_hidden_columns(table: &Table, query: &mut Query) -> Vec<String> {
    let mut hidden = Vec::new();
    if query.select.is_empty() {
        return hidden;
    }
    let mut needed: Vec<String> = Vec::new();
    if table.column("versionnumber").is_some() {
        needed.push("versionnumber".into());
    }
    for ex in &query.expand {
        if let ExpandKind::Single { lookup_column } = &ex.kind {
            needed.push(lookup_column.clone());
        }
    }
    for n in needed {
        if !query.select.contains(&n) {
            query.select.push(n.clone());
            hidden.push(match table.column(&n) {
                Some(c) if c.is_lookup() => c.value_name(),
                _ => n,
            });
        }
    }
    hidden
}

pub(super) fn dedup(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.as_guid());
    v.dedup();
    v
}

pub(super) fn with_expansions(
    state: &AppState,
    table: &Table,
    query: &Query,
    record: &Record,
    names: Option<&crate::api::representation::LookupNames>,
    hidden: &[String],
) -> Map<String, Json> {
    let plain = Record {
        values: record
            .values
            .iter()
            .filter(|(k, _)| !k.starts_with(EXPANDED))
            .cloned()
            .collect(),
    };
    let mut out = record_json(&state.schema(), table, &plain, names);
    for h in hidden {
        out.retain(|k, _| k != h && !k.starts_with(&format!("{h}@")));
    }
    for (k, v) in &record.values {
        if let Some(nav) = k.strip_prefix(EXPANDED) {
            let json = v
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(Json::Null);
            out.insert(nav.to_string(), json);
        }
    }
    // FetchXML select aliases rename columns.
    for (column, alias) in &query.select_aliases {
        if let Some(v) = out.remove(column) {
            out.insert(alias.clone(), v);
        }
    }
    out
}

pub(super) fn by_id_query(table: &Table, mut q: Query, id: Uuid) -> Query {
    let pk = Condition::Compare {
        column: ColumnRef::new(table.primary_id.clone()),
        op: CompareOp::Eq,
        value: Value::Guid(id),
    };
    q.filter = Some(match q.filter.take() {
        Some(f) => Condition::And(vec![pk, f]),
        None => pk,
    });
    q
}

pub(super) async fn retrieve(
    state: &AppState,
    req: &Request,
    set: &str,
    key: Key,
) -> ApiResult<Response> {
    let table = table_for(req, set)?;
    let id = resolve_key(req, key)?;
    let query = by_id_query(table, parse_options(&req.schema, table, &req.options)?, id);
    single(state, req, table, query, id).await
}

pub(super) async fn single(
    state: &AppState,
    req: &Request,
    table: &Table,
    mut query: Query,
    id: Uuid,
) -> ApiResult<Response> {
    let context = context_url(req, table, &query, true);
    let hidden = add_hidden_columns(table, &mut query);
    let reader = req.caller.reader(state);
    let mut rows = reader.fetch(&query, Some(1), 0).await?;
    if rows.is_empty() {
        return Err(ApiError::record_not_found(&table.logical_name, id));
    }
    expand(state, &reader, table, &query, &mut rows).await?;
    let names = if req.prefer.annotations {
        Some(lookup_names(&reader, &req.schema, table, &rows).await?)
    } else {
        None
    };
    let mut out = Map::new();
    out.insert("@odata.context".into(), Json::String(context));
    out.extend(with_expansions(
        state,
        table,
        &query,
        &rows[0],
        names.as_ref(),
        &hidden,
    ));
    let mut resp = odata_json(StatusCode::OK, Json::Object(out));
    if let Some(tag) = rows[0].int("versionnumber").map(|v| format!("W/\"{v}\"")) {
        if let Ok(v) = HeaderValue::from_str(&tag) {
            resp.headers_mut().insert("ETag", v);
        }
    }
    Ok(resp)
}

pub(super) async fn navigate(
    state: &AppState,
    req: &Request,
    set: &str,
    key: Key,
    nav: &str,
) -> ApiResult<Response> {
    let table = table_for(req, set)?;
    let id = resolve_key(req, key)?;
    let parent = req
        .caller
        .reader(state)
        .get(table, id)
        .await?
        .ok_or_else(|| ApiError::record_not_found(&table.logical_name, id))?;
    if let Some(assoc) = req.schema.association(&table.logical_name, nav) {
        // Many-to-many: the rows the intersect table links to this one.
        let other = req
            .schema
            .table(&assoc.other_table)
            .ok_or_else(|| ApiError::internal("association without table"))?;
        let mut links = Query::all(&assoc.intersect);
        links.select = vec![assoc.other_column.clone()];
        links.filter = Some(Condition::Compare {
            column: ColumnRef::new(assoc.this_column.clone()),
            op: CompareOp::Eq,
            value: Value::Guid(id),
        });
        let mut ids: Vec<Value> = req
            .caller
            .reader(state)
            .fetch(&links, None, 0)
            .await?
            .iter()
            .filter_map(|r| r.get(&assoc.other_column).cloned())
            .collect();
        if ids.is_empty() {
            ids.push(Value::Guid(Uuid::nil()));
        }
        let mut query = parse_options(&req.schema, other, &req.options)?;
        let linked = Condition::In {
            column: ColumnRef::new(other.primary_id.clone()),
            values: ids,
            negated: false,
        };
        query.filter = Some(match query.filter.take() {
            Some(f) => Condition::And(vec![linked, f]),
            None => linked,
        });
        let ctx = context_url(req, other, &query, false);
        return list_query(state, req, other, query, Some(ctx)).await;
    }
    if let Some(rel) = req.schema.relationship_from(&table.logical_name, nav) {
        let schema_now = state.schema();
        let many = schema_now
            .table(&rel.many_table)
            .ok_or_else(|| ApiError::internal("relationship without table"))?;
        let mut query = parse_options(&req.schema, many, &req.options)?;
        let link = Condition::Compare {
            column: ColumnRef::new(rel.lookup_column.clone()),
            op: CompareOp::Eq,
            value: Value::Guid(id),
        };
        query.filter = Some(match query.filter.take() {
            Some(f) => Condition::And(vec![link, f]),
            None => link,
        });
        let ctx = context_url(req, many, &query, false);
        return list_query(state, req, many, query, Some(ctx)).await;
    }
    if let Some(col) = table.lookup_by_navigation(nav) {
        let target = col
            .lookup_target()
            .and_then(|t| req.schema.table(t))
            .ok_or_else(|| ApiError::internal("lookup without target"))?;
        let Some(target_id) = parent.guid(&col.name) else {
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        let query = by_id_query(
            target,
            parse_options(&req.schema, target, &req.options)?,
            target_id,
        );
        return single(state, req, target, query, target_id).await;
    }
    Err(ApiError::bad_request(format!(
        "'{nav}' is not a navigation property of '{}'",
        table.logical_name
    )))
}
