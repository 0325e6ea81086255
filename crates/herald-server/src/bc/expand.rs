//! `$expand` on the BC API (`customers?$expand=currency,paymentMethod`):
//! each named navigation property of the entity ([`BcNavigation`]) becomes
//! a nested object in every row — the target record of the same company
//! whose `id` the row's id field holds (`currencyId`), or, when that is
//! empty, whose code matches (`currencyCode` → `code`) — or `null`; a
//! document's lines (`salesInvoices?$expand=salesInvoiceLines`) become an
//! array of its lines in `sequence` order. One query per property for the
//! whole page. Properties the v2.0 reference documents but herald does not
//! hold (`picture`, `defaultDimensions`, …) and unknown names are a 400, in
//! BC's error shape.

use std::collections::HashMap;

use herald_core::builtin::{
    bc_column, bc_entity_named, bc_lines_of, BcEntity, BcLines, BcNavigation, BC_COMPANY_COLUMN,
};
use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::{Query, Value};
use herald_store::Record;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::entity::record_json;
use super::errors;
use crate::api::error::ApiResult;
use crate::state::AppState;

/// Navigation properties the v2.0 reference documents whose targets herald
/// does not hold; `$expand` names them in its refusal.
const NOT_HELD: &[&str] = &[
    "picture",
    "defaultDimensions",
    "customerFinancialDetail",
    "agedAccountsReceivable",
    "agedAccountsPayable",
    "contactsInformation",
    "documentAttachments",
    "attachments",
    "dimensionSetLines",
    "dimensionValue",
    "dimensionValues",
    "pdfDocument",
    "journalLines",
    "customerPayments",
    "itemVariants",
    "inventoryPostingGroup",
    "generalProductPostingGroup",
    "timeRegistrationEntries",
    "trialBalance",
    "customerReturnReason",
];

/// One property a `$expand` names.
#[derive(Debug, Clone, Copy)]
pub enum Expansion {
    /// A single-valued navigation property.
    One(&'static BcNavigation),
    /// A document's lines.
    Lines(&'static BcLines),
}

impl Expansion {
    fn name(&self) -> &'static str {
        match self {
            Expansion::One(n) => n.name,
            Expansion::Lines(l) => l.entity.name,
        }
    }
}

/// The navigation properties a `$expand` value names.
pub fn parse(entity: &'static BcEntity, value: &str) -> ApiResult<Vec<Expansion>> {
    let mut out: Vec<Expansion> = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.contains('(') || name.contains('/') {
            return Err(errors::bad_request(format!(
                "$expand '{name}': nested query options and paths are not supported; name navigation properties only"
            )));
        }
        let found = entity
            .navigation_named(name)
            .map(Expansion::One)
            .or_else(|| {
                bc_lines_of(entity.name)
                    .find(|l| l.entity.name.eq_ignore_ascii_case(name))
                    .map(Expansion::Lines)
            });
        match found {
            Some(n) if !out.iter().any(|o| o.name() == n.name()) => out.push(n),
            Some(_) => {}
            None if NOT_HELD.iter().any(|n| n.eq_ignore_ascii_case(name)) => {
                return Err(errors::bad_request(format!(
                    "The navigation property '{name}' of '{}' is not available in herald (it can expand: {})",
                    entity.type_name,
                    names(entity)
                )))
            }
            None => {
                return Err(errors::bad_request(format!(
                    "Could not find a navigation property named '{name}' on type 'Microsoft.NAV.{}' (it has: {})",
                    entity.type_name,
                    names(entity)
                )))
            }
        }
    }
    Ok(out)
}

fn names(entity: &BcEntity) -> String {
    let all: Vec<&str> = entity
        .navigation
        .iter()
        .map(|n| n.name)
        .chain(bc_lines_of(entity.name).map(|l| l.entity.name))
        .collect();
    if all.is_empty() {
        return "none".into();
    }
    all.join(", ")
}

fn text_of(r: &Record, field: &str) -> Option<String> {
    r.string(&bc_column(field))
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

fn id_of(r: &Record, field: &str) -> Option<Uuid> {
    r.guid(&bc_column(field)).filter(|g| !g.is_nil())
}

/// Add each property of `navs` to every row of `out` (parallel to `rows`).
pub async fn expand(
    state: &AppState,
    reader: &crate::security::Reader<'_>,
    company: Uuid,
    navs: &[Expansion],
    rows: &[Record],
    out: &mut [Map<String, Json>],
) -> ApiResult<()> {
    for e in navs {
        let nav = match e {
            Expansion::One(nav) => nav,
            Expansion::Lines(lines) => {
                expand_lines(state, reader, company, lines, rows, out).await?;
                continue;
            }
        };
        let target = bc_entity_named(nav.target)
            .ok_or_else(|| errors::internal(format!("no entity {}", nav.target)))?;
        let schema_now = state.schema();
        let table = schema_now
            .table(target.logical)
            .ok_or_else(|| errors::internal(format!("missing table {}", target.logical)))?;
        let ids: Vec<Uuid> = nav
            .id_field
            .map(|f| rows.iter().filter_map(|r| id_of(r, f)).collect())
            .unwrap_or_default();
        let codes: Vec<String> = nav
            .code_field
            .map(|(here, _)| {
                rows.iter()
                    .filter(|r| nav.id_field.and_then(|f| id_of(r, f)).is_none())
                    .filter_map(|r| text_of(r, here))
                    .collect()
            })
            .unwrap_or_default();
        let mut by_id: HashMap<Uuid, Record> = HashMap::new();
        let mut by_code: HashMap<String, Record> = HashMap::new();
        if !ids.is_empty() || !codes.is_empty() {
            let mut any = Vec::new();
            if !ids.is_empty() {
                any.push(Condition::In {
                    column: ColumnRef::new(&table.primary_id),
                    values: ids.iter().map(|g| Value::Guid(*g)).collect(),
                    negated: false,
                });
            }
            if let (Some((_, there)), false) = (nav.code_field, codes.is_empty()) {
                any.push(Condition::In {
                    column: ColumnRef::new(bc_column(there)),
                    values: codes.iter().map(|c| Value::String(c.clone())).collect(),
                    negated: false,
                });
            }
            let mut q = Query::all(target.logical);
            q.filter = Some(Condition::And(vec![
                Condition::Compare {
                    column: ColumnRef::new(BC_COMPANY_COLUMN),
                    op: CompareOp::Eq,
                    value: Value::Guid(company),
                },
                Condition::Or(any),
            ]));
            for r in reader.fetch(&q, None, 0).await? {
                if let Some((_, there)) = nav.code_field {
                    if let Some(code) = text_of(&r, there) {
                        by_code.entry(code).or_insert_with(|| r.clone());
                    }
                }
                if let Some(id) = r.guid(&table.primary_id) {
                    by_id.insert(id, r);
                }
            }
        }
        for (row, json) in rows.iter().zip(out.iter_mut()) {
            let found = match nav.id_field.and_then(|f| id_of(row, f)) {
                Some(id) => by_id.get(&id),
                None => nav
                    .code_field
                    .and_then(|(here, _)| text_of(row, here))
                    .and_then(|c| by_code.get(&c)),
            };
            json.insert(
                nav.name.to_string(),
                found
                    .map(|r| Json::Object(record_json(target, table, r, None)))
                    .unwrap_or(Json::Null),
            );
        }
    }
    Ok(())
}

/// `$expand=<lines>`: every row gets the array of its lines, in `sequence`
/// order (an empty array when it has none).
async fn expand_lines(
    state: &AppState,
    reader: &crate::security::Reader<'_>,
    company: Uuid,
    lines: &'static BcLines,
    rows: &[Record],
    out: &mut [Map<String, Json>],
) -> ApiResult<()> {
    let schema_now = state.schema();
    let document = bc_entity_named(lines.document)
        .and_then(|d| schema_now.table(d.logical))
        .ok_or_else(|| errors::internal(format!("missing table of {}", lines.document)))?;
    let table = schema_now
        .table(lines.entity.logical)
        .ok_or_else(|| errors::internal(format!("missing table {}", lines.entity.logical)))?;
    let ids: Vec<Uuid> = rows
        .iter()
        .filter_map(|r| r.guid(&document.primary_id))
        .collect();
    let field = bc_column(lines.document_field);
    let mut by_document: HashMap<Uuid, Vec<Json>> = HashMap::new();
    if !ids.is_empty() {
        let mut q = Query::all(lines.entity.logical);
        q.filter = Some(Condition::And(vec![
            Condition::Compare {
                column: ColumnRef::new(BC_COMPANY_COLUMN),
                op: CompareOp::Eq,
                value: Value::Guid(company),
            },
            Condition::In {
                column: ColumnRef::new(&field),
                values: ids.iter().map(|g| Value::Guid(*g)).collect(),
                negated: false,
            },
        ]));
        q.order = vec![herald_core::query::Order {
            column: ColumnRef::new(bc_column("sequence")),
            descending: false,
        }];
        for r in reader.fetch(&q, None, 0).await? {
            if let Some(doc) = r.guid(&field) {
                by_document
                    .entry(doc)
                    .or_default()
                    .push(Json::Object(record_json(&lines.entity, table, &r, None)));
            }
        }
    }
    for (row, json) in rows.iter().zip(out.iter_mut()) {
        let mine = row
            .guid(&document.primary_id)
            .and_then(|id| by_document.remove(&id))
            .unwrap_or_default();
        json.insert(lines.entity.name.to_string(), Json::Array(mine));
    }
    Ok(())
}
