//! Addressing a row by an alternate key, as Dataverse allows once a table
//! has one (`POST EntityDefinitions(...)/Keys`): `accounts(accountnumber='A-1')`
//! for GET, PATCH and DELETE, and upsert — a PATCH to a key no row has
//! creates the row, with the key's values.
//!
//! [`resolve`] runs before a request is dispatched: it finds the table's
//! key made of exactly the named columns, reads the row that has those
//! values, and hands the request on addressed by that row's id. When no
//! row has them, a PATCH goes on with a new id and the key's values added
//! to its body (so the upsert creates it); anything else is Dataverse's
//! `404`.

use axum::http::Method;
use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::value::{parse_guid, value_from_json};
use herald_core::{Query, Schema, Table, Value};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::api::error::{ApiError, ApiResult};
use crate::api::path::{Key, Resource};
use crate::state::AppState;

use super::Request;

/// `resource` with an alternate key replaced by the id it names, and the
/// body to use (the upsert's body with the key's values added).
pub(super) async fn resolve(
    state: &AppState,
    req: &Request,
    method: &Method,
    resource: Resource,
    body: &[u8],
) -> ApiResult<(Resource, Option<Vec<u8>>)> {
    let Resource::Set {
        set,
        key: Some(Key::Alternate(pairs)),
        navigation,
    } = resource
    else {
        return Ok((resource, None));
    };
    let table = super::table_for(req, &set)?;
    let values = key_values(table, &pairs)?;
    let mut q = Query::all(&table.logical_name);
    q.select = vec![table.primary_id.clone()];
    q.filter = Some(Condition::And(
        values
            .iter()
            .map(|(column, value)| Condition::Compare {
                column: ColumnRef::new(column.clone()),
                op: CompareOp::Eq,
                value: value.clone(),
            })
            .collect(),
    ));
    let found = state.store.fetch(&q, Some(1), 0).await?;
    let id = found.first().and_then(|r| r.guid(&table.primary_id));
    let upsert = *method == Method::PATCH && navigation.is_none();
    let (id, body) = match id {
        Some(id) => (id, None),
        None if upsert => (
            Uuid::new_v4(),
            Some(with_key_values(&req.schema, table, body, &values)?),
        ),
        None => {
            return Err(ApiError::not_found(format!(
                "A record with the specified key values does not exist in {} entity",
                table.logical_name
            )))
        }
    };
    let resource = Resource::Set {
        set,
        key: Some(Key::Id(id)),
        navigation,
    };
    Ok((resource, body))
}

/// The key's columns and values, checked against the table's keys.
fn key_values(table: &Table, pairs: &[(String, String)]) -> ApiResult<Vec<(String, Value)>> {
    let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    let Some(key) = table.key_of_columns(&names) else {
        return Err(ApiError::bad_request(format!(
            "The key attributes ({}) do not make an alternate key of '{}'{}",
            names.join(", "),
            table.logical_name,
            if table.details.keys.is_empty() {
                " (it has none: POST EntityDefinitions(LogicalName='…')/Keys makes one)".to_string()
            } else {
                String::new()
            }
        )));
    };
    let mut out = Vec::new();
    for column_name in &key.columns {
        let (_, raw) = pairs
            .iter()
            .find(|(n, _)| n == column_name)
            .ok_or_else(|| ApiError::bad_request("Bad alternate key"))?;
        let column = table
            .column(column_name)
            .ok_or_else(|| ApiError::internal("alternate key over a missing column"))?;
        let bad = || {
            ApiError::bad_request(format!(
                "'{raw}' is not a value of {column_name} ({})",
                column.ty.name()
            ))
        };
        let value = if column.is_lookup() {
            Value::Guid(parse_guid(raw).ok_or_else(bad)?)
        } else {
            value_from_json(column, &literal(raw)).map_err(|_| bad())?
        };
        out.push((column_name.clone(), value));
    }
    Ok(out)
}

/// A key literal as JSON: `'text'` (with `''` for a quote) is text;
/// numbers and `true`/`false` are themselves; anything else (a GUID, a
/// date) is text.
fn literal(raw: &str) -> Json {
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Json::String(inner.replace("''", "'"));
    }
    serde_json::from_str::<Json>(raw)
        .ok()
        .filter(|j| j.is_number() || j.is_boolean())
        .unwrap_or_else(|| Json::String(raw.to_string()))
}

/// The upsert's body with the key's values, so the row it creates has
/// them (a value the body gives must agree).
fn with_key_values(
    schema: &Schema,
    table: &Table,
    body: &[u8],
    values: &[(String, Value)],
) -> ApiResult<Vec<u8>> {
    let mut obj: Map<String, Json> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Json::Object(o)) => o,
            _ => {
                return Err(ApiError::bad_request(
                    "The request body must be a JSON object",
                ))
            }
        }
    };
    for (name, value) in values {
        let Some(column) = table.column(name) else {
            continue;
        };
        if column.is_lookup() {
            let target = column.lookup_target().and_then(|t| schema.table(t));
            if let (Some(target), Some(id)) = (target, value.as_guid()) {
                obj.insert(
                    format!("{}@odata.bind", column.navigation_name()),
                    Json::String(format!("/{}({id})", target.entity_set)),
                );
            }
            continue;
        }
        let json = value.to_json();
        if let Some(given) = obj.get(name) {
            if *given != json {
                return Err(ApiError::bad_request(format!(
                    "The body's {name} does not match the alternate key in the URL"
                )));
            }
        }
        obj.insert(name.clone(), json);
    }
    serde_json::to_vec(&Json::Object(obj)).map_err(|e| ApiError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(literal("'A-1'"), Json::String("A-1".into()));
        assert_eq!(literal("'O''Neil'"), Json::String("O'Neil".into()));
        assert_eq!(literal("42"), serde_json::json!(42));
        assert_eq!(literal("true"), Json::Bool(true));
        assert_eq!(
            literal("6d81597f-0f9f-e711-8122-000d3aa2331c"),
            Json::String("6d81597f-0f9f-e711-8122-000d3aa2331c".into())
        );
    }
}
