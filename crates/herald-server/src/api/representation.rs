//! Records as the Web API returns them: `@odata.etag`, plain columns by
//! name, lookups as `_<name>_value`, and (with `odata.include-annotations`)
//! formatted values and lookup logical names.

use std::collections::HashMap;

use herald_core::schema::ColumnType;
use herald_core::{Schema, Table, Value};
use herald_store::Record;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::api::error::ApiResult;

const FORMATTED: &str = "@OData.Community.Display.V1.FormattedValue";
const LOOKUP_LOGICAL_NAME: &str = "@Microsoft.Dynamics.CRM.lookuplogicalname";

/// `W/"<versionnumber>"`
pub fn etag(record: &Record) -> Option<String> {
    record.int("versionnumber").map(|v| format!("W/\"{v}\""))
}

/// Primary names of looked-up rows, for formatted-value annotations.
pub type LookupNames = HashMap<Uuid, String>;

/// Collect the primary names of every row the given records look up (and
/// the caller may read).
pub async fn lookup_names(
    reader: &crate::security::Reader<'_>,
    schema: &Schema,
    table: &Table,
    records: &[Record],
) -> ApiResult<LookupNames> {
    let mut by_table: HashMap<String, Vec<Value>> = HashMap::new();
    for r in records {
        for (k, v) in &r.values {
            if let (Some(col), Value::Guid(_)) = (table.column(k), v) {
                if let Some(target) = col.lookup_target() {
                    by_table
                        .entry(target.to_string())
                        .or_default()
                        .push(v.clone());
                }
            }
        }
    }
    let mut names = LookupNames::new();
    for (target, mut ids) in by_table {
        let Some(t) = schema.table(&target) else {
            continue;
        };
        let Some(primary_name) = &t.primary_name else {
            continue;
        };
        ids.sort_by_key(|v| v.as_guid());
        ids.dedup();
        for chunk in ids.chunks(500) {
            let mut q = herald_core::Query::all(&t.logical_name);
            q.select = vec![t.primary_id.clone(), primary_name.clone()];
            q.filter = Some(herald_core::query::Condition::In {
                column: herald_core::query::ColumnRef::new(t.primary_id.clone()),
                values: chunk.to_vec(),
                negated: false,
            });
            // Names of rows the caller may not read are left out.
            let rows = match reader.fetch(&q, None, 0).await {
                Err(crate::security::ReadError::Denied(_)) => break,
                other => other?,
            };
            for row in rows {
                if let (Some(id), Some(name)) = (row.guid(&t.primary_id), row.string(primary_name))
                {
                    names.insert(id, name.to_string());
                }
            }
        }
    }
    Ok(names)
}

/// One record as a JSON object. Keys not in the table (e.g. `alias.column`
/// from FetchXML links) are written as they come.
pub fn record_json(
    schema: &Schema,
    table: &Table,
    record: &Record,
    annotations: Option<&LookupNames>,
) -> Map<String, Json> {
    let mut out = Map::new();
    if let Some(tag) = etag(record) {
        out.insert("@odata.etag".into(), Json::String(tag));
    }
    for (key, value) in &record.values {
        let Some(col) = table.column(key) else {
            // Linked column: `alias.column` → look the column up for its type.
            let json = match key.split_once('.') {
                Some((_, _)) => value.to_json(),
                None => value.to_json(),
            };
            out.insert(key.clone(), json);
            continue;
        };
        if !col.readable() {
            continue;
        }
        let name = if col.is_lookup() && col.name != table.primary_id {
            col.value_name()
        } else {
            col.name.clone()
        };
        out.insert(name.clone(), value.to_json());
        if let Some(names) = annotations {
            if value.is_null() {
                continue;
            }
            match (&col.ty, value) {
                (ColumnType::Lookup { target }, Value::Guid(id)) => {
                    if let Some(n) = names.get(id) {
                        out.insert(format!("{name}{FORMATTED}"), Json::String(n.clone()));
                    }
                    out.insert(
                        format!("{name}{LOOKUP_LOGICAL_NAME}"),
                        Json::String(target.clone()),
                    );
                }
                (ColumnType::Choice { options }, Value::Int(v)) => {
                    if let Some((_, label)) = options.iter().find(|(o, _)| o == v) {
                        out.insert(format!("{name}{FORMATTED}"), Json::String(label.clone()));
                    }
                }
                (ColumnType::Boolean, Value::Bool(b)) => {
                    out.insert(
                        format!("{name}{FORMATTED}"),
                        Json::String(if *b { "Yes" } else { "No" }.into()),
                    );
                }
                (ColumnType::Money, Value::Decimal(d)) => {
                    out.insert(
                        format!("{name}{FORMATTED}"),
                        Json::String(format!("{d:.2}")),
                    );
                }
                (ColumnType::DateTime, Value::DateTime(t)) => {
                    out.insert(
                        format!("{name}{FORMATTED}"),
                        Json::String(t.format("%-m/%-d/%Y %-I:%M %p").to_string()),
                    );
                }
                _ => {}
            }
        }
    }
    let _ = schema;
    out
}
