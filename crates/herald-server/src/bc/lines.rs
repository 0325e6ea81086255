//! Document lines on the BC API (`companies(<c>)/salesInvoices(<id>)/
//! salesInvoiceLines[(<line>)]` — and the order, quote and credit memo
//! lines likewise — and `companies(<c>)/salesInvoiceLines`
//! with `documentId` in the body or `$filter`): list, read, POST, PATCH with
//! `If-Match`, DELETE.
//!
//! A line write is one [`WriteSession`]: the document's row is locked
//! first (so concurrent line writes of one document queue up), the line is
//! completed as BC completes it — `lineType`, `lineObjectNumber`,
//! `description`, `unitPrice` and unit of measure from its item or account,
//! the next `sequence` (10000, 20000, …), the computed amounts
//! ([`herald_core::builtin::bc_amounts`]) — and written, then the
//! document's totals are recomputed from all its lines and, when they
//! changed, written as an Update of the document. Both writes go through
//! the pipeline in the same transaction: steps fire for each, and the
//! document's BC subscribers are notified of the Update (lines themselves
//! support no webhooks, as in BC). Deleting a document deletes its lines
//! first, in the same way ([`delete_document`]).

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use herald_core::builtin::bc_amounts::{self as amounts, LineAmounts, LineInput};
use herald_core::builtin::{
    bc_column, bc_entity_named, bc_lines_of, BcEntity, BcLines, BC_COMPANY_COLUMN,
    COMPUTED_LINE_FIELDS,
};
use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::{Query, Table, Value};
use herald_store::Record;
use uuid::Uuid;

use super::data::{
    bc_precondition, company_for, existing, get_found, if_match, list_scoped, record_of, single,
    table_of,
};
use super::entity::{company_of, values_from_json};
use super::{errors, json_object, BcRequest};
use crate::api::error::ApiResult;
use crate::pipeline::{Message, Operation, Precondition, WriteSession};
use crate::state::AppState;

/// The line types BC knows (`NAV.invoiceLineAggLineType`).
const LINE_TYPES: &[&str] = &[
    "Comment",
    "Account",
    "Item",
    "Resource",
    "Fixed Asset",
    "Charge",
];

/// BC numbers lines 10000, 20000, …
const SEQUENCE_STEP: i64 = 10_000;

fn document_entity(lines: &BcLines) -> ApiResult<&'static BcEntity> {
    bc_entity_named(lines.document)
        .ok_or_else(|| errors::internal(format!("no entity {}", lines.document)))
}

/// The collection's path under the company.
fn path_of(lines: &BcLines, document: Option<Uuid>) -> String {
    match document {
        Some(d) => format!("{}({d})/{}", lines.document, lines.entity.name),
        None => lines.entity.name.to_string(),
    }
}

fn document_is(lines: &BcLines, document: Uuid) -> Condition {
    Condition::Compare {
        column: ColumnRef::new(bc_column(lines.document_field)),
        op: CompareOp::Eq,
        value: Value::Guid(document),
    }
}

/// The document `id` as the caller may read it, or 404.
async fn document_for(
    state: &AppState,
    req: &BcRequest,
    company: Uuid,
    lines: &BcLines,
    id: Uuid,
) -> ApiResult<Record> {
    let entity = document_entity(lines)?;
    existing(
        state,
        req,
        company,
        entity,
        table_of(state, entity.logical)?,
        id,
    )
    .await
}

/// The line `id` (of `document`, when the path names one), or 404.
async fn line_for(
    state: &AppState,
    req: &BcRequest,
    company: Uuid,
    lines: &'static BcLines,
    document: Option<Uuid>,
    id: Uuid,
) -> ApiResult<Record> {
    let table = table_of(state, lines.entity.logical)?;
    let r = existing(state, req, company, &lines.entity, table, id).await?;
    match document {
        Some(d) if r.guid(&bc_column(lines.document_field)) != Some(d) => {
            Err(errors::not_found(format!(
                "The {} {id} does not exist in {}({d})",
                lines.entity.name, lines.document
            )))
        }
        _ => Ok(r),
    }
}

pub async fn list(
    state: &AppState,
    req: &BcRequest,
    company: Uuid,
    lines: &'static BcLines,
    document: Option<Uuid>,
) -> ApiResult<Response> {
    company_for(state, req, company).await?;
    if let Some(d) = document {
        document_for(state, req, company, lines, d).await?;
    }
    let scope = document.map(|d| document_is(lines, d));
    list_scoped(
        state,
        req,
        company,
        &lines.entity,
        &path_of(lines, document),
        scope,
    )
    .await
}

pub async fn get(
    state: &AppState,
    req: &BcRequest,
    company: Uuid,
    lines: &'static BcLines,
    document: Option<Uuid>,
    id: Uuid,
) -> ApiResult<Response> {
    company_for(state, req, company).await?;
    let r = line_for(state, req, company, lines, document, id).await?;
    let table = table_of(state, lines.entity.logical)?;
    get_found(
        state,
        req,
        company,
        &lines.entity,
        &path_of(lines, document),
        table,
        &r,
    )
    .await
}

/// A line body as column values, refusing the fields BC computes.
fn line_values(
    lines: &BcLines,
    table: &Table,
    body: &[u8],
    key: Option<Uuid>,
) -> ApiResult<Vec<(String, Value)>> {
    let obj = json_object(body)?;
    if let Some(f) = COMPUTED_LINE_FIELDS.iter().find(|f| obj.contains_key(**f)) {
        return Err(errors::bad_request(format!(
            "The property '{f}' of '{}' is read-only: Business Central computes it from quantity, {}, discountPercent/discountAmount and taxPercent",
            lines.entity.type_name,
            lines.price_field
        )));
    }
    values_from_json(&lines.entity, table, &obj, key)
}

fn find<'a>(values: &'a [(String, Value)], field: &str) -> Option<&'a Value> {
    let col = bc_column(field);
    values.iter().find(|(c, _)| *c == col).map(|(_, v)| v)
}

fn set(values: &mut Vec<(String, Value)>, field: &str, v: Value) {
    let col = bc_column(field);
    values.retain(|(c, _)| *c != col);
    values.push((col, v));
}

fn set_default(values: &mut Vec<(String, Value)>, field: &str, v: Value) {
    if find(values, field).is_none_or(Value::is_null) {
        set(values, field, v);
    }
}

/// The value of `field` after the write: the request's, else the row's.
fn merged<'a>(
    values: &'a [(String, Value)],
    before: Option<&'a Record>,
    field: &str,
) -> Option<&'a Value> {
    find(values, field).or_else(|| before.and_then(|b| b.get(&bc_column(field))))
}

fn number(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Decimal(d)) => *d,
        Some(Value::Int(i)) => *i as f64,
        _ => 0.0,
    }
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

fn guid(v: Option<&Value>) -> Option<Uuid> {
    v.and_then(Value::as_guid).filter(|g| !g.is_nil())
}

/// The record of `entity` the line names by id, or by its number.
async fn line_object(
    state: &AppState,
    req: &BcRequest,
    company: Uuid,
    entity_name: &str,
    id: Option<Uuid>,
    number: Option<&str>,
) -> ApiResult<Option<(Uuid, Record)>> {
    let entity = bc_entity_named(entity_name)
        .ok_or_else(|| errors::internal(format!("no entity {entity_name}")))?;
    let table = table_of(state, entity.logical)?;
    let reader = req.caller.reader(state);
    if let Some(id) = id {
        return match reader.get(table, id).await? {
            Some(r) if company_of(&r) == Some(company) => Ok(Some((id, r))),
            _ => Err(errors::bad_request(format!(
                "The {entity_name} {id} the line names does not exist in company {company}"
            ))),
        };
    }
    let Some(number) = number else {
        return Ok(None);
    };
    let mut q = Query::all(entity.logical);
    q.filter = Some(Condition::And(vec![
        Condition::Compare {
            column: ColumnRef::new(BC_COMPANY_COLUMN),
            op: CompareOp::Eq,
            value: Value::Guid(company),
        },
        Condition::Compare {
            column: ColumnRef::new("number"),
            op: CompareOp::Eq,
            value: Value::String(number.to_string()),
        },
    ]));
    match reader.fetch(&q, Some(1), 0).await?.into_iter().next() {
        Some(r) => Ok(r.guid(&table.primary_id).map(|id| (id, r))),
        None => Err(errors::bad_request(format!(
            "No {entity_name} has the number '{number}' (lineObjectNumber) in company {company}"
        ))),
    }
}

/// What BC fills in from the line's item or account: the type, the
/// object's number and id, and — unless the request gives them — its
/// description, price and unit of measure.
async fn complete_from_object(
    state: &AppState,
    req: &BcRequest,
    lines: &BcLines,
    company: Uuid,
    before: Option<&Record>,
    values: &mut Vec<(String, Value)>,
) -> ApiResult<()> {
    let asked_type = text(find(values, "lineType")).map(str::to_string);
    let item_id = guid(find(values, "itemId"));
    let account_id = guid(find(values, "accountId"));
    let object_number = text(find(values, "lineObjectNumber")).map(str::to_string);
    let line_type = match (&asked_type, item_id, account_id) {
        (Some(t), _, _) => t.clone(),
        (None, Some(_), _) => "Item".into(),
        (None, None, Some(_)) => "Account".into(),
        (None, None, None) => text(merged(values, before, "lineType"))
            .unwrap_or("Comment")
            .to_string(),
    };
    let Some(line_type) = LINE_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(&line_type))
    else {
        return Err(errors::bad_request(format!(
            "lineType '{line_type}' is not valid: use one of {}",
            LINE_TYPES.join(", ")
        )));
    };
    if item_id.is_some() && account_id.is_some() {
        return Err(errors::bad_request(
            "A line names an item (itemId) or an account (accountId), not both",
        ));
    }
    set(values, "lineType", Value::String((*line_type).to_string()));
    // Only a new object (or a new type) is looked up again.
    let changed = before.is_none()
        || asked_type.is_some()
        || item_id.is_some()
        || account_id.is_some()
        || object_number.is_some();
    if !changed {
        return Ok(());
    }
    let object = match *line_type {
        "Item" => line_object(
            state,
            req,
            company,
            "items",
            item_id,
            object_number.as_deref(),
        )
        .await?
        .map(|(id, r)| ("itemId", "accountId", id, r)),
        "Account" => line_object(
            state,
            req,
            company,
            "accounts",
            account_id,
            object_number.as_deref(),
        )
        .await?
        .map(|(id, r)| ("accountId", "itemId", id, r)),
        _ => None,
    };
    let Some((id_field, other_field, id, r)) = object else {
        return Ok(());
    };
    set(values, id_field, Value::Guid(id));
    set(values, other_field, Value::Guid(Uuid::nil()));
    if let Some(n) = r.string("number") {
        set(values, "lineObjectNumber", Value::String(n.to_string()));
    }
    if let Some(name) = r.string("displayname").filter(|s| !s.is_empty()) {
        set_default(values, "description", Value::String(name.to_string()));
    }
    if *line_type == "Item" {
        if let Some(price) = r
            .get(&bc_column(lines.price_field))
            .filter(|v| !v.is_null())
        {
            if before.is_none() || find(values, "itemId").is_some() {
                set_default(values, lines.price_field, price.clone());
            }
        }
        if let Some(uom) = r.get("baseunitofmeasureid").filter(|v| !v.is_null()) {
            set_default(values, "unitOfMeasureId", uom.clone());
        }
        if let Some(code) = r.string("baseunitofmeasurecode").filter(|s| !s.is_empty()) {
            set_default(values, "unitOfMeasureCode", Value::String(code.to_string()));
        }
    }
    Ok(())
}

/// Set the computed amounts of the line as it will be after the write
/// (those its entity has: quote lines have no invoiceDiscountAllocation).
fn compute_amounts(lines: &BcLines, values: &mut Vec<(String, Value)>, before: Option<&Record>) {
    let by_amount =
        find(values, "discountAmount").is_some() && find(values, "discountPercent").is_none();
    let input = LineInput {
        quantity: number(merged(values, before, "quantity")),
        unit_price: number(merged(values, before, lines.price_field)),
        discount_percent: number(merged(values, before, "discountPercent")),
        discount_amount: number(merged(values, before, "discountAmount")),
        discount_by_amount: by_amount,
        tax_percent: number(merged(values, before, "taxPercent")),
    };
    let a = amounts::line_amounts(&input);
    for (field, v) in [
        ("discountPercent", a.discount_percent),
        ("discountAmount", a.discount_amount),
        ("amountExcludingTax", a.amount_excluding_tax),
        ("totalTaxAmount", a.total_tax_amount),
        ("amountIncludingTax", a.amount_including_tax),
        ("invoiceDiscountAllocation", a.invoice_discount_allocation),
        ("netAmount", a.net_amount),
        ("netTaxAmount", a.net_tax_amount),
        ("netAmountIncludingTax", a.net_amount_including_tax),
    ] {
        if lines.entity.field(field).is_some() {
            set(values, field, Value::Decimal(v));
        }
    }
}

/// The stored amounts of a line row.
fn stored_amounts(r: &Record) -> LineAmounts {
    let n = |f: &str| number(r.get(&bc_column(f)));
    LineAmounts {
        discount_percent: n("discountPercent"),
        discount_amount: n("discountAmount"),
        amount_excluding_tax: n("amountExcludingTax"),
        total_tax_amount: n("totalTaxAmount"),
        amount_including_tax: n("amountIncludingTax"),
        invoice_discount_allocation: n("invoiceDiscountAllocation"),
        net_amount: n("netAmount"),
        net_tax_amount: n("netTaxAmount"),
        net_amount_including_tax: n("netAmountIncludingTax"),
    }
}

fn lines_query(lines: &BcLines, document: Uuid) -> Query {
    let mut q = Query::all(lines.entity.logical);
    q.filter = Some(document_is(lines, document));
    q
}

/// Recompute the document's totals from its lines inside `session`, and
/// write them as an Update of the document when they changed.
async fn roll_up(
    session: &mut WriteSession<'_>,
    lines: &BcLines,
    document_table: &Table,
    document: &Record,
    caller: Uuid,
) -> ApiResult<()> {
    let Some(id) = document.guid(&document_table.primary_id) else {
        return Err(errors::internal("a document without id"));
    };
    let rows = session.fetch(&lines_query(lines, id)).await?;
    let all: Vec<LineAmounts> = rows.iter().map(stored_amounts).collect();
    let t = amounts::document_totals(&all);
    let totals = [
        ("totalAmountExcludingTax", t.total_amount_excluding_tax),
        ("totalTaxAmount", t.total_tax_amount),
        ("totalAmountIncludingTax", t.total_amount_including_tax),
    ];
    let changes: Vec<(String, Value)> = totals
        .iter()
        .filter(|(f, v)| number(document.get(&bc_column(f))) != *v)
        .map(|(f, v)| (bc_column(f), Value::Decimal(*v)))
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    session
        .execute(Operation::new(
            Message::Update,
            &document_table.logical_name,
            Some(id),
            changes,
            caller,
        ))
        .await?;
    Ok(())
}

/// The next free sequence number of the document's lines.
async fn next_sequence(
    session: &mut WriteSession<'_>,
    lines: &BcLines,
    document: Uuid,
) -> ApiResult<i64> {
    let rows = session.fetch(&lines_query(lines, document)).await?;
    let max = rows
        .iter()
        .filter_map(|r| r.int(&bc_column("sequence")))
        .max()
        .unwrap_or(0);
    Ok((max / SEQUENCE_STEP + 1) * SEQUENCE_STEP)
}

/// Begin the session of a line write and lock the document in it.
async fn begin_locked<'a>(
    state: &'a AppState,
    lines: &BcLines,
    company: Uuid,
    document: Uuid,
) -> ApiResult<(WriteSession<'a>, &'a Table, Record)> {
    let entity = document_entity(lines)?;
    let table = table_of(state, entity.logical)?;
    let mut session = WriteSession::begin(state).await?;
    match session.get_locked(table, document).await? {
        Some(r) if company_of(&r) == Some(company) => Ok((session, table, r)),
        _ => Err(errors::not_found(format!(
            "The {} {document} does not exist in company {company}",
            lines.document
        ))),
    }
}

pub async fn create(
    state: &AppState,
    req: &BcRequest,
    company: Uuid,
    lines: &'static BcLines,
    document: Option<Uuid>,
    body: &[u8],
) -> ApiResult<Response> {
    company_for(state, req, company).await?;
    let table = table_of(state, lines.entity.logical)?;
    let mut values = line_values(lines, table, body, None)?;
    let given = guid(find(&values, lines.document_field));
    let document = match (document, given) {
        (Some(p), Some(b)) if p != b => {
            return Err(errors::bad_request(format!(
                "The {} {b} in the body is not the {} {p} of the URL",
                lines.document_field, lines.document
            )))
        }
        (Some(d), _) | (None, Some(d)) => d,
        (None, None) => {
            return Err(errors::bad_request(format!(
                "{} is required: POST the line to {}(<id>)/{} or give the document's id",
                lines.document_field, lines.document, lines.entity.name
            )))
        }
    };
    set(&mut values, lines.document_field, Value::Guid(document));
    document_for(state, req, company, lines, document).await?;
    complete_from_object(state, req, lines, company, None, &mut values).await?;
    compute_amounts(lines, &mut values, None);
    let id = values
        .iter()
        .find(|(c, _)| *c == table.primary_id)
        .and_then(|(_, v)| v.as_guid());
    values.push((BC_COMPANY_COLUMN.to_string(), Value::Guid(company)));
    let (mut session, doc_table, doc_row) = begin_locked(state, lines, company, document).await?;
    if !matches!(find(&values, "sequence"), Some(Value::Int(n)) if *n > 0) {
        let next = next_sequence(&mut session, lines, document).await?;
        set(&mut values, "sequence", Value::Int(next));
    }
    let outcome = session
        .execute(Operation::new(
            Message::Create,
            &table.logical_name,
            id,
            values,
            req.caller.user_id,
        ))
        .await?;
    roll_up(&mut session, lines, doc_table, &doc_row, req.caller.user_id).await?;
    session.commit().await?;
    let path = path_of(lines, Some(document));
    let mut resp = single(
        req,
        company,
        &lines.entity,
        &path,
        table,
        record_of(&outcome)?,
        StatusCode::CREATED,
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}companies({company})/{path}({})",
        req.base, outcome.id
    )) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn update(
    state: &AppState,
    req: &BcRequest,
    company: Uuid,
    lines: &'static BcLines,
    document: Option<Uuid>,
    id: Uuid,
    body: &[u8],
) -> ApiResult<Response> {
    company_for(state, req, company).await?;
    let table = table_of(state, lines.entity.logical)?;
    let pre = if_match(req)?
        .ok_or_else(|| errors::if_match_required(&format!("PATCH of {}", lines.entity.name)))?;
    let before = line_for(state, req, company, lines, document, id).await?;
    let doc_col = bc_column(lines.document_field);
    let Some(doc) = before.guid(&doc_col) else {
        return Err(errors::internal("a line without its document"));
    };
    let mut values = line_values(lines, table, body, Some(id))?;
    if find(&values, lines.document_field).is_some_and(|v| v.as_guid() != Some(doc)) {
        return Err(errors::bad_request(format!(
            "{} cannot be changed: a line stays in its document (delete it and create it in the other)",
            lines.document_field
        )));
    }
    values.retain(|(c, _)| *c != doc_col);
    complete_from_object(state, req, lines, company, Some(&before), &mut values).await?;
    let (mut session, doc_table, doc_row) = begin_locked(state, lines, company, doc).await?;
    // The line as this transaction sees it (the lock orders line writes).
    let current = session
        .get_locked(table, id)
        .await?
        .ok_or_else(|| errors::not_found(format!("The {} {id} was deleted", lines.entity.name)))?;
    compute_amounts(lines, &mut values, Some(&current));
    let outcome = session
        .execute(
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
    roll_up(&mut session, lines, doc_table, &doc_row, req.caller.user_id).await?;
    session.commit().await?;
    Ok(single(
        req,
        company,
        &lines.entity,
        &path_of(lines, document),
        table,
        record_of(&outcome)?,
        StatusCode::OK,
    ))
}

pub async fn delete(
    state: &AppState,
    req: &BcRequest,
    company: Uuid,
    lines: &'static BcLines,
    document: Option<Uuid>,
    id: Uuid,
) -> ApiResult<Response> {
    company_for(state, req, company).await?;
    let table = table_of(state, lines.entity.logical)?;
    let pre = if_match(req)?.unwrap_or(Precondition::None);
    let before = line_for(state, req, company, lines, document, id).await?;
    let Some(doc) = before.guid(&bc_column(lines.document_field)) else {
        return Err(errors::internal("a line without its document"));
    };
    let (mut session, doc_table, doc_row) = begin_locked(state, lines, company, doc).await?;
    session
        .execute(
            Operation::new(
                Message::Delete,
                &table.logical_name,
                Some(id),
                vec![],
                req.caller.user_id,
            )
            .with_precondition(pre),
        )
        .await
        .map_err(bc_precondition)?;
    roll_up(&mut session, lines, doc_table, &doc_row, req.caller.user_id).await?;
    session.commit().await?;
    Ok(super::no_content())
}

/// Delete a document with its lines, in one transaction: each line is a
/// Delete of its own (steps fire), then `delete` (the document's).
pub async fn delete_document(
    state: &AppState,
    req: &BcRequest,
    entity: &BcEntity,
    table: &Table,
    id: Uuid,
    delete: Operation,
) -> ApiResult<()> {
    let mut session = WriteSession::begin(state).await?;
    if session.get_locked(table, id).await?.is_none() {
        return Err(errors::not_found(format!(
            "The {} {id} does not exist",
            entity.name
        )));
    }
    for lines in bc_lines_of(entity.name) {
        let line_table = table_of(state, lines.entity.logical)?;
        for r in session.fetch(&lines_query(lines, id)).await? {
            let Some(line) = r.guid(&line_table.primary_id) else {
                continue;
            };
            session
                .execute(Operation::new(
                    Message::Delete,
                    &line_table.logical_name,
                    Some(line),
                    vec![],
                    req.caller.user_id,
                ))
                .await?;
        }
    }
    session.execute(delete).await.map_err(bc_precondition)?;
    session.commit().await?;
    Ok(())
}
