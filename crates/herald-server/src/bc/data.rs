//! The Business Central data API: `companies`, and for each supported
//! entity `companies(<id>)/<entity>` — list (with `$filter`, `$orderby`,
//! `$top`, `$skip`, `$select`, `$count` on the camelCase names), read by
//! id, POST (201 + the record), PATCH with `If-Match` (200 + the record)
//! and DELETE (204). Every write is an [`Operation`] run by
//! [`pipeline::execute`], the single write path, so Dataverse-style steps
//! and BC subscriptions both see it.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use herald_core::builtin::{bc_lines_of, BcEntity, BC_COMPANY, BC_COMPANY_COLUMN};
use herald_core::odata::parse_options;
use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::{Query, Table, Value};
use herald_store::Record;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::entity::{self, column_of, record_json, rename_fields, timestamp, values_from_json};
use super::{errors, json_response, BcRequest};
use crate::api::error::{ApiError, ApiResult};
use crate::pipeline::{self, Message, Operation, PipelineError, Precondition};
use crate::state::AppState;

/// Rows a list returns at most per page (BC's server page size).
pub const PAGE_SIZE: u64 = 20_000;

/// Business Central's tables are built in: the base schema has them.
pub(super) fn table_of<'a>(state: &'a AppState, logical: &str) -> ApiResult<&'a Table> {
    state
        .base_schema
        .table(logical)
        .ok_or_else(|| errors::internal(format!("missing table {logical}")))
}

fn company_json(req: &BcRequest, r: &Record) -> Map<String, Json> {
    let ts = |k: &str| match r.get(k) {
        Some(Value::DateTime(t)) => Json::String(timestamp(t)),
        _ => Json::Null,
    };
    let text = |k: &str| Json::String(r.string(k).unwrap_or_default().to_string());
    let mut m = Map::new();
    m.insert("@odata.etag".into(), Json::String(entity::etag(r)));
    m.insert(
        "id".into(),
        r.get("bc_companyid")
            .map(Value::to_json)
            .unwrap_or(Json::Null),
    );
    m.insert(
        "systemVersion".into(),
        Json::String(format!("herald {}", env!("CARGO_PKG_VERSION"))),
    );
    m.insert("name".into(), text("name"));
    m.insert("displayName".into(), text("displayname"));
    m.insert("businessProfileId".into(), text("businessprofileid"));
    m.insert("systemCreatedAt".into(), ts("createdon"));
    m.insert("systemModifiedAt".into(), ts("modifiedon"));
    let _ = req;
    m
}

/// The company row as `req`'s caller may read it, or 404 (403 without
/// the privilege).
pub(super) async fn company_for(state: &AppState, req: &BcRequest, id: Uuid) -> ApiResult<Record> {
    let t = table_of(state, BC_COMPANY)?;
    req.caller
        .reader(state)
        .get(t, id)
        .await?
        .ok_or_else(|| errors::not_found(format!("The company {id} does not exist")))
}

/// The company row, or 404.
pub async fn company(state: &AppState, id: Uuid) -> ApiResult<Record> {
    let t = table_of(state, BC_COMPANY)?;
    state
        .store
        .get(t, id)
        .await?
        .ok_or_else(|| errors::not_found(format!("The company {id} does not exist")))
}

pub async fn list_companies(state: &AppState, req: &BcRequest) -> ApiResult<Response> {
    let t = table_of(state, BC_COMPANY)?;
    let mut q = Query::all(&t.logical_name);
    q.order = vec![herald_core::query::Order {
        column: ColumnRef::new("name"),
        descending: false,
    }];
    let rows = req
        .caller
        .reader(state)
        .fetch(&q, Some(PAGE_SIZE), 0)
        .await?;
    let value: Vec<Json> = rows
        .iter()
        .map(|r| Json::Object(company_json(req, r)))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        serde_json::json!({"@odata.context": format!("{}$metadata#companies", req.base), "value": value}),
    ))
}

pub async fn get_company(state: &AppState, req: &BcRequest, id: Uuid) -> ApiResult<Response> {
    let r = company_for(state, req, id).await?;
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        Json::String(format!("{}$metadata#companies/$entity", req.base)),
    );
    m.extend(company_json(req, &r));
    Ok(json_response(StatusCode::OK, Json::Object(m)))
}

pub(super) fn in_company(company: Uuid) -> Condition {
    Condition::Compare {
        column: ColumnRef::new(BC_COMPANY_COLUMN),
        op: CompareOp::Eq,
        value: Value::Guid(company),
    }
}

/// `<base>$metadata#companies(<c>)/<path>[/$entity]`; `path` is the
/// collection under the company (`customers`,
/// `salesInvoices(<id>)/salesInvoiceLines`).
pub(super) fn context(req: &BcRequest, company: Uuid, path: &str, single: bool) -> String {
    format!(
        "{}$metadata#companies({company})/{path}{}",
        req.base,
        if single { "/$entity" } else { "" }
    )
}

/// The query options of a list, on camelCase names.
pub(super) struct ListOptions {
    pub query: Query,
    pub skip: u64,
    pub select: Option<Vec<String>>,
    pub expand: Vec<super::expand::Expansion>,
}

pub(super) fn list_options(
    state: &AppState,
    req: &BcRequest,
    entity: &'static BcEntity,
    table: &Table,
) -> ApiResult<ListOptions> {
    let mut mapped = Vec::new();
    let mut skip = 0;
    let mut select = None;
    let mut expand = Vec::new();
    for (k, v) in &req.options {
        match k.to_ascii_lowercase().as_str() {
            "$filter" | "$orderby" => mapped.push((k.clone(), rename_fields(entity, table, v))),
            "$top" | "$count" => mapped.push((k.clone(), v.clone())),
            "$skip" => {
                skip = v.trim().parse().map_err(|_| errors::bad_request(format!("$skip '{v}' is not a whole number")))?;
            }
            "$select" => {
                let names: Vec<String> = v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                if let Some(bad) = names.iter().find(|n| column_of(entity, table, n).is_none()) {
                    return Err(errors::bad_request(format!("Could not find a property named '{bad}' on type '{}'", entity.name)));
                }
                select = Some(names);
            }
            "$expand" => expand = super::expand::parse(entity, v)?,
            other if other.starts_with('$') => {
                return Err(errors::bad_request(format!(
                    "The query option '{k}' is not supported here (supported: $filter, $orderby, $top, $skip, $select, $count, $expand)"
                )))
            }
            // BC's `company=<name>` and other plain parameters are ignored.
            _ => {}
        }
    }
    let query = parse_options(&state.schema(), table, &mapped)
        .map_err(|e| errors::bad_request(e.message))?;
    Ok(ListOptions {
        query,
        skip,
        select,
        expand,
    })
}

pub async fn list(
    state: &AppState,
    req: &BcRequest,
    company_id: Uuid,
    entity: &'static BcEntity,
) -> ApiResult<Response> {
    company_for(state, req, company_id).await?;
    list_scoped(state, req, company_id, entity, entity.name, None).await
}

/// A page of `entity`'s rows of the company (and of `scope`, if any; the
/// company itself was checked), `path` being the collection under the
/// company as context and nextLink name it.
pub(super) async fn list_scoped(
    state: &AppState,
    req: &BcRequest,
    company_id: Uuid,
    entity: &'static BcEntity,
    path: &str,
    scope: Option<Condition>,
) -> ApiResult<Response> {
    let table = table_of(state, entity.logical)?;
    let ListOptions {
        mut query,
        skip,
        select,
        expand,
    } = list_options(state, req, entity, table)?;
    let mut all = vec![in_company(company_id)];
    all.extend(scope);
    all.extend(query.filter.take());
    query.filter = Some(Condition::And(all));
    if query.order.is_empty() && entity.field("sequence").is_some() {
        query.order = vec![herald_core::query::Order {
            column: ColumnRef::new("sequence"),
            descending: false,
        }];
    }
    let limit = query.top.unwrap_or(PAGE_SIZE).min(PAGE_SIZE);
    let reader = req.caller.reader(state);
    let mut rows = reader.fetch(&query, Some(limit + 1), skip).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        Json::String(context(req, company_id, path, false)),
    );
    if query.count {
        out.insert(
            "@odata.count".into(),
            Json::from(reader.count(&query).await?),
        );
    }
    let mut value: Vec<Map<String, Json>> = rows
        .iter()
        .map(|r| record_json(entity, table, r, select.as_deref()))
        .collect();
    super::expand::expand(state, &reader, company_id, &expand, &rows, &mut value).await?;
    out.insert(
        "value".into(),
        Json::Array(value.into_iter().map(Json::Object).collect()),
    );
    if more && query.top.is_none() {
        let mut q: Vec<String> = req
            .raw_query
            .split('&')
            .filter(|p| {
                !p.is_empty()
                    && !p.to_ascii_lowercase().starts_with("$skip=")
                    && !p.to_ascii_lowercase().starts_with("%24skip=")
            })
            .map(str::to_string)
            .collect();
        q.push(format!("$skip={}", skip + limit));
        out.insert(
            "@odata.nextLink".into(),
            Json::String(format!(
                "{}companies({company_id})/{path}?{}",
                req.base,
                q.join("&")
            )),
        );
    }
    Ok(json_response(StatusCode::OK, Json::Object(out)))
}

/// The row `id` of `entity` in `company`, or 404.
pub(super) async fn existing(
    state: &AppState,
    req: &BcRequest,
    company_id: Uuid,
    entity: &BcEntity,
    table: &Table,
    id: Uuid,
) -> ApiResult<Record> {
    match req.caller.reader(state).get(table, id).await? {
        Some(r) if entity::company_of(&r) == Some(company_id) => Ok(r),
        _ => Err(errors::not_found(format!(
            "The {} {id} does not exist in company {company_id}",
            entity.name
        ))),
    }
}

pub(super) fn single(
    req: &BcRequest,
    company_id: Uuid,
    entity: &BcEntity,
    path: &str,
    table: &Table,
    r: &Record,
    status: StatusCode,
) -> Response {
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        Json::String(context(req, company_id, path, true)),
    );
    m.extend(record_json(entity, table, r, None));
    let mut resp = json_response(status, Json::Object(m));
    if let Ok(v) = HeaderValue::from_str(&entity::etag(r)) {
        resp.headers_mut().insert(axum::http::header::ETAG, v);
    }
    resp
}

pub async fn get(
    state: &AppState,
    req: &BcRequest,
    company_id: Uuid,
    entity: &'static BcEntity,
    id: Uuid,
) -> ApiResult<Response> {
    company_for(state, req, company_id).await?;
    let table = table_of(state, entity.logical)?;
    let r = existing(state, req, company_id, entity, table, id).await?;
    get_found(state, req, company_id, entity, entity.name, table, &r).await
}

/// The answer to a GET of `r` (its `$select` and `$expand` applied).
pub(super) async fn get_found(
    state: &AppState,
    req: &BcRequest,
    company_id: Uuid,
    entity: &'static BcEntity,
    path: &str,
    table: &Table,
    r: &Record,
) -> ApiResult<Response> {
    let options = list_options(state, req, entity, table)?;
    let mut fields = [record_json(entity, table, r, options.select.as_deref())];
    super::expand::expand(
        state,
        &req.caller.reader(state),
        company_id,
        &options.expand,
        std::slice::from_ref(r),
        &mut fields,
    )
    .await?;
    let [fields] = fields;
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        Json::String(context(req, company_id, path, true)),
    );
    m.extend(fields);
    let mut resp = json_response(StatusCode::OK, Json::Object(m));
    if let Ok(v) = HeaderValue::from_str(&entity::etag(r)) {
        resp.headers_mut().insert(axum::http::header::ETAG, v);
    }
    Ok(resp)
}

/// The version a well-formed etag that is not herald's (`W/"JzQ0O0pB…"`, as
/// real BC writes them) stands for: no row has it, so the write fails with
/// 412 exactly as a stale etag does.
const FOREIGN_ETAG_VERSION: i64 = -1;

/// `If-Match` as a precondition: `*`, herald's `W/"n"` / `"n"`, or any
/// other quoted entity tag (never current: 412). Anything else is a 400.
pub fn if_match(req: &BcRequest) -> ApiResult<Option<Precondition>> {
    let Some(v) = req.headers.get("if-match") else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim();
    if v == "*" {
        return Ok(Some(Precondition::MustExist));
    }
    let tag = v.strip_prefix("W/").unwrap_or(v);
    let opaque = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.contains('"'))
        .ok_or_else(|| {
            errors::bad_request(format!(
                "If-Match '{v}' is not an entity tag (W/\"<etag>\") or *"
            ))
        })?;
    Ok(Some(Precondition::Version(
        opaque.parse::<i64>().unwrap_or(FOREIGN_ETAG_VERSION),
    )))
}

pub(super) fn record_of(outcome: &pipeline::Outcome) -> ApiResult<&Record> {
    outcome
        .record
        .as_ref()
        .ok_or_else(|| errors::internal("the write returned no record"))
}

pub async fn create(
    state: &AppState,
    req: &BcRequest,
    company_id: Uuid,
    entity: &'static BcEntity,
    body: &[u8],
) -> ApiResult<Response> {
    company_for(state, req, company_id).await?;
    let table = table_of(state, entity.logical)?;
    let obj = super::json_object(body).map_err(|e| errors::bad_request(e.message))?;
    let mut values = values_from_json(entity, table, &obj, None)?;
    super::numbering::complete_create(state, company_id, entity, &mut values).await?;
    let id = values
        .iter()
        .find(|(c, _)| c == &table.primary_id)
        .and_then(|(_, v)| v.as_guid());
    values.push((BC_COMPANY_COLUMN.to_string(), Value::Guid(company_id)));
    let outcome = pipeline::execute(
        state,
        Operation::new(
            Message::Create,
            &table.logical_name,
            id,
            values,
            req.caller.user_id,
        ),
    )
    .await?;
    let mut resp = single(
        req,
        company_id,
        entity,
        entity.name,
        table,
        record_of(&outcome)?,
        StatusCode::CREATED,
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}companies({company_id})/{}({})",
        req.base, entity.name, outcome.id
    )) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn update(
    state: &AppState,
    req: &BcRequest,
    company_id: Uuid,
    entity: &'static BcEntity,
    id: Uuid,
    body: &[u8],
) -> ApiResult<Response> {
    company_for(state, req, company_id).await?;
    let table = table_of(state, entity.logical)?;
    let pre = if_match(req)?
        .ok_or_else(|| errors::if_match_required(&format!("PATCH of {}", entity.name)))?;
    existing(state, req, company_id, entity, table, id).await?;
    let obj = super::json_object(body).map_err(|e| errors::bad_request(e.message))?;
    let values = values_from_json(entity, table, &obj, Some(id))?;
    let outcome = pipeline::execute(
        state,
        Operation::new(
            Message::Update,
            &table.logical_name,
            Some(id),
            values,
            req.caller.user_id,
        )
        .with_precondition(pre),
    )
    .await
    .map_err(bc_precondition)?;
    Ok(single(
        req,
        company_id,
        entity,
        entity.name,
        table,
        record_of(&outcome)?,
        StatusCode::OK,
    ))
}

pub async fn delete(
    state: &AppState,
    req: &BcRequest,
    company_id: Uuid,
    entity: &'static BcEntity,
    id: Uuid,
) -> ApiResult<Response> {
    company_for(state, req, company_id).await?;
    let table = table_of(state, entity.logical)?;
    let pre = if_match(req)?.unwrap_or(Precondition::None);
    existing(state, req, company_id, entity, table, id).await?;
    let delete = Operation::new(
        Message::Delete,
        &table.logical_name,
        Some(id),
        vec![],
        req.caller.user_id,
    )
    .with_precondition(pre);
    if bc_lines_of(entity.name).next().is_none() {
        pipeline::execute(state, delete)
            .await
            .map_err(bc_precondition)?;
    } else {
        super::lines::delete_document(state, req, entity, table, id, delete).await?;
    }
    Ok(super::no_content())
}

/// The pipeline's conflicts (stale `If-Match`, duplicate key) in BC's
/// words; everything else as the Web API says it.
pub(super) fn bc_precondition(e: PipelineError) -> ApiError {
    if e.is_conflict() {
        errors::entity_changed(format!(
            "Another user has already changed the record: {}",
            ApiError::from(e).message
        ))
    } else {
        ApiError::from(e)
    }
}
