//! The Business Central JSON shape of a row: camelCase fields (`id`,
//! `number`, `displayName`, …, `lastModifiedDateTime`, `@odata.etag`) over
//! the built-in `bc_*` tables, whose columns are the field names in lower
//! case (see `herald_core::builtin::BC_ENTITIES`). Both directions live
//! here, plus the renaming of field names inside `$filter` / `$orderby`.

use chrono::SecondsFormat;
use herald_core::builtin::{bc_column, BcEntity, BcField, BC_COMPANY_COLUMN};
use herald_core::value::value_from_json;
use herald_core::{Table, Value};
use herald_store::Record;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::errors;
use crate::api::error::ApiResult;

/// The fields every entity has besides its own.
pub const ID: &str = "id";
pub const LAST_MODIFIED: &str = "lastModifiedDateTime";
/// The v1.0 name the seed uses in collection filters.
pub const LAST_MODIFIED_V1: &str = "lastDateTimeModified";

/// The entity with this API name (case-insensitive, as BC matches them).
pub use herald_core::builtin::bc_entity_named as entity_named;

/// The column behind a field name of `entity` (`id`, `lastModifiedDateTime`
/// and `lastDateTimeModified` included); field names match case-insensitively.
pub fn column_of(entity: &BcEntity, table: &Table, field: &str) -> Option<String> {
    if field.eq_ignore_ascii_case(ID) {
        return Some(table.primary_id.clone());
    }
    if field.eq_ignore_ascii_case(LAST_MODIFIED) || field.eq_ignore_ascii_case(LAST_MODIFIED_V1) {
        return Some("modifiedon".into());
    }
    entity
        .fields
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(field))
        .map(|(f, _)| bc_column(f))
}

/// `2019-01-31T10:00:00.123Z`, as BC writes its timestamps.
pub fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `W/"<versionnumber>"`.
pub fn etag(record: &Record) -> String {
    format!("W/\"{}\"", record.int("versionnumber").unwrap_or(0))
}

/// A field's JSON: nulls become the type's empty value (BC never sends null).
fn field_json(field: BcField, value: Option<&Value>) -> Json {
    match (field, value) {
        (BcField::Date, Some(Value::DateTime(t))) => Json::String(t.format("%Y-%m-%d").to_string()),
        (BcField::DateTime, Some(Value::DateTime(t))) => Json::String(timestamp(t)),
        (_, Some(v)) if !v.is_null() => v.to_json(),
        (BcField::Text(_), _) => Json::String(String::new()),
        (BcField::Date, _) => Json::String("0001-01-01".into()),
        (BcField::DateTime, _) => Json::String("0001-01-01T00:00:00Z".into()),
        (BcField::Decimal | BcField::Int, _) => Json::from(0),
        (BcField::Bool, _) => Json::Bool(false),
        (BcField::Guid, _) => Json::String(Uuid::nil().to_string()),
    }
}

/// One row as BC returns it; `select` limits the fields (etag always kept).
pub fn record_json(
    entity: &BcEntity,
    table: &Table,
    record: &Record,
    select: Option<&[String]>,
) -> Map<String, Json> {
    let wanted = |name: &str| select.is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case(name)));
    let mut out = Map::new();
    out.insert("@odata.etag".into(), Json::String(etag(record)));
    if wanted(ID) {
        out.insert(
            ID.into(),
            record
                .get(&table.primary_id)
                .map(Value::to_json)
                .unwrap_or(Json::Null),
        );
    }
    for (name, field) in entity.fields {
        if wanted(name) {
            out.insert(
                (*name).to_string(),
                field_json(*field, record.get(&bc_column(name))),
            );
        }
    }
    if wanted(LAST_MODIFIED) {
        out.insert(
            LAST_MODIFIED.into(),
            field_json(BcField::DateTime, record.get("modifiedon")),
        );
    }
    out
}

/// Column values from a request body. `id` may be given on create (and must
/// match on update); `lastModifiedDateTime` and annotations are ignored.
pub fn values_from_json(
    entity: &BcEntity,
    table: &Table,
    body: &Map<String, Json>,
    key: Option<Uuid>,
) -> ApiResult<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for (name, json) in body {
        if name.starts_with('@')
            || name.contains("@odata.")
            || name.eq_ignore_ascii_case(LAST_MODIFIED)
        {
            continue;
        }
        if name.eq_ignore_ascii_case(ID) {
            let col = table
                .column(&table.primary_id)
                .ok_or_else(|| errors::internal("table without primary key"))?;
            let v = value_from_json(col, json).map_err(|e| {
                errors::bad_request(format!("'id': {}", e.0.replace(&table.primary_id, "id")))
            })?;
            match (key, v.as_guid()) {
                (Some(k), Some(g)) if k != g => {
                    return Err(errors::bad_request(format!(
                        "The id {g} in the body does not match the id {k} in the URL"
                    )))
                }
                (Some(_), _) => continue,
                (None, _) => out.push((table.primary_id.clone(), v)),
            }
            continue;
        }
        let Some((field, _)) = entity.fields.iter().find(|(f, _)| *f == name.as_str()) else {
            return Err(errors::bad_request(format!(
                "The property '{name}' does not exist on type '{}'. Valid properties: id, {}",
                entity.name,
                entity
                    .fields
                    .iter()
                    .map(|(f, _)| *f)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if json.is_object() || json.is_array() {
            return Err(errors::bad_request(format!(
                "'{name}': nested objects and arrays are not supported"
            )));
        }
        let column = bc_column(field);
        let col = table
            .column(&column)
            .ok_or_else(|| errors::internal("field without column"))?;
        let value = value_from_json(col, json).map_err(|e| {
            errors::bad_request(e.0.replace(&format!("'{column}'"), &format!("'{field}'")))
        })?;
        out.push((column, value));
    }
    Ok(out)
}

/// Rename the field names of an OData expression (`$filter`, `$orderby`)
/// to columns, leaving string literals, numbers, dates, GUIDs and
/// keywords alone. Unknown names are left as they are (the parser then
/// reports them).
pub fn rename_fields(entity: &BcEntity, table: &Table, expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // A string literal; '' is an escaped quote.
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let prev = if start > 0 {
                Some(chars[start - 1])
            } else {
                None
            };
            let part_of_literal = matches!(prev, Some('-' | ':' | '.'))
                || word.starts_with(|c: char| c.is_ascii_digit());
            match column_of(entity, table, &word) {
                // A lookup (a line's documentId) is filtered on as the
                // query model names it.
                Some(col)
                    if !part_of_literal && table.column(&col).is_some_and(|c| c.is_lookup()) =>
                {
                    out.push_str(&format!("_{col}_value"))
                }
                Some(col) if !part_of_literal => out.push_str(&col),
                _ => out.push_str(&word),
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The company a row belongs to.
pub fn company_of(record: &Record) -> Option<Uuid> {
    record.guid(BC_COMPANY_COLUMN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customers() -> (&'static BcEntity, Table) {
        let schema = herald_core::Schema::build(&[]).unwrap();
        (
            entity_named("Customers").unwrap(),
            schema.table("bc_customer").unwrap().clone(),
        )
    }

    #[test]
    fn renames_fields_but_not_literals() {
        let (e, t) = customers();
        assert_eq!(
            rename_fields(
                e,
                &t,
                "displayName eq 'displayName' and lastModifiedDateTime gt 2018-10-15T11:00:00Z"
            ),
            "displayname eq 'displayName' and modifiedon gt 2018-10-15T11:00:00Z"
        );
        assert_eq!(
            rename_fields(e, &t, "id eq 5f9d0000-0000-0000-0000-00000000id00"),
            "bc_customerid eq 5f9d0000-0000-0000-0000-00000000id00"
        );
        assert_eq!(
            rename_fields(e, &t, "lastDateTimeModified gt 2018-10-15T11:00:00Z"),
            "modifiedon gt 2018-10-15T11:00:00Z"
        );
        assert_eq!(rename_fields(e, &t, "number desc,city"), "number desc,city");
        assert_eq!(
            rename_fields(e, &t, "contains(phoneNumber,'it''s')"),
            "contains(phonenumber,'it''s')"
        );
    }

    #[test]
    fn json_round_trip() {
        let (e, t) = customers();
        let body: Map<String, Json> = serde_json::from_str(r#"{"displayName":"Adatum","number":"C1","creditLimit":10.5,"taxLiable":true,"@odata.etag":"x"}"#).unwrap();
        let values = values_from_json(e, &t, &body, None).unwrap();
        assert!(values.contains(&("displayname".into(), Value::String("Adatum".into()))));
        let mut r = Record::default();
        for (k, v) in values {
            r.set(&k, v);
        }
        r.set("versionnumber", Value::Int(3));
        let j = record_json(e, &t, &r, None);
        assert_eq!(j["@odata.etag"], "W/\"3\"");
        assert_eq!(j["displayName"], "Adatum");
        assert_eq!(j["city"], "");
        assert_eq!(j["balanceDue"], 0);
        let bad: Map<String, Json> = serde_json::from_str(r#"{"nope":1}"#).unwrap();
        assert!(values_from_json(e, &t, &bad, None)
            .unwrap_err()
            .message
            .contains("nope"));
        let sel = record_json(e, &t, &r, Some(&["displayName".to_string()]));
        assert_eq!(sel.len(), 2);
    }
}
