//! Request bodies: a JSON object of column values, lookups written as
//! `"<navigation>@odata.bind": "/<set>(<id>)"`.

use herald_core::value::{parse_guid, value_from_json};
use herald_core::{Schema, Table, Value};
use serde_json::Value as Json;

use crate::api::error::{ApiError, ApiResult};

/// Parse raw body bytes into a JSON object.
pub fn json_object(body: &[u8]) -> ApiResult<serde_json::Map<String, Json>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::payload(
            "The request body is empty: send a JSON object",
        ));
    }
    let v: Json = serde_json::from_slice(body).map_err(|e| {
        ApiError::payload(format!(
            "The request body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    // JSON text can only hold a NUL escaped (`\u0000`): walk the value
    // (building a path per element) only for a body with that escape.
    let escaped_nul = body.windows(6).any(|w| w == br"\u0000");
    if let Some(place) = escaped_nul.then(|| nul_in(&v)).flatten() {
        return Err(ApiError::payload(format!(
            "The request body contains a NUL character (U+0000) in {place}: text cannot contain it"
        )));
    }
    match v {
        Json::Object(m) => Ok(m),
        _ => Err(ApiError::payload("The request body must be a JSON object")),
    }
}

/// Where a JSON value holds U+0000 (which PostgreSQL text cannot store):
/// `'firstname'`, `'ctx.list[1]'`, or `the property name 'a\u0000'`.
fn nul_in(v: &Json) -> Option<String> {
    fn path(v: &Json, at: &str) -> Option<String> {
        match v {
            Json::String(s) if s.contains('\0') => Some(format!("'{at}'")),
            Json::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| path(v, &format!("{at}[{i}]"))),
            Json::Object(m) => m.iter().find_map(|(k, v)| {
                if k.contains('\0') {
                    return Some(format!(
                        "the property name '{}'",
                        k.replace('\0', "\\u0000")
                    ));
                }
                let at = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                path(v, &at)
            }),
            _ => None,
        }
    }
    path(v, "")
}

/// Typed column values from a body for `table`.
pub fn values_from_body(
    schema: &Schema,
    table: &Table,
    body: &serde_json::Map<String, Json>,
) -> ApiResult<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for (key, json) in body {
        if let Some(nav) = key.strip_suffix("@odata.bind") {
            let col = table.lookup_by_navigation(nav).ok_or_else(|| {
                ApiError::payload(format!(
                    "'{nav}' is not a single-valued navigation property of '{}'",
                    table.logical_name
                ))
            })?;
            let value = match json {
                Json::Null => Value::Null,
                Json::String(s) => {
                    let target = col
                        .lookup_target()
                        .and_then(|t| schema.table(t))
                        .ok_or_else(|| ApiError::internal("lookup without target"))?;
                    Value::Guid(parse_bind(schema, target, s)?)
                }
                _ => {
                    return Err(ApiError::payload(format!(
                        "'{key}' must be a string like \"/<set>(<id>)\""
                    )))
                }
            };
            out.push((col.name.clone(), value));
            continue;
        }
        if key.starts_with('@')
            || key.contains("@odata.")
            || key.contains("@OData.")
            || key.contains("@Microsoft.")
        {
            continue;
        }
        let col = table
            .column(key)
            .filter(|c| !c.is_lookup() || c.name == table.primary_id);
        let col = match col {
            Some(c) => c,
            None => {
                if let Some(lookup) = table
                    .readable_column(key)
                    .filter(|c| c.is_lookup())
                    .or_else(|| table.column(key))
                {
                    return Err(ApiError::payload(format!(
                        "The lookup '{}' cannot be set directly: use \"{}@odata.bind\": \"/{}(<id>)\"",
                        key,
                        lookup.navigation_name(),
                        lookup.lookup_target().and_then(|t| schema.table(t)).map(|t| t.entity_set.as_str()).unwrap_or("<set>")
                    )));
                }
                return Err(ApiError::payload(format!(
                    "The property '{key}' does not exist on type 'Microsoft.Dynamics.CRM.{}'",
                    table.logical_name
                )));
            }
        };
        if json.is_object() || json.is_array() {
            return Err(ApiError::payload(format!(
                "'{key}': nested objects and arrays (deep insert) are not supported"
            )));
        }
        let value = value_from_json(col, json).map_err(|e| ApiError::payload(e.0))?;
        out.push((col.name.clone(), value));
    }
    Ok(out)
}

/// `/contacts(<id>)`, `contacts(<id>)` or a full URL ending in it.
pub fn parse_bind(schema: &Schema, target: &Table, s: &str) -> ApiResult<uuid::Uuid> {
    let tail = s.rsplit('/').next().unwrap_or(s);
    let bad = || {
        ApiError::payload(format!(
            "'{s}' is not a valid reference: expected \"/{}(<id>)\"",
            target.entity_set
        ))
    };
    let open = tail.find('(').ok_or_else(bad)?;
    if !tail.ends_with(')') {
        return Err(bad());
    }
    let set = &tail[..open];
    let id = parse_guid(&tail[open + 1..tail.len() - 1]).ok_or_else(bad)?;
    let t = schema
        .table_by_set(set)
        .ok_or_else(|| ApiError::payload(format!("'{set}' in '{s}' is not an entity set")))?;
    if t.logical_name != target.logical_name {
        return Err(ApiError::payload(format!(
            "'{s}' refers to '{}', but this lookup refers to '{}'",
            t.logical_name, target.logical_name
        )));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_where_a_nul_is() {
        let m = super::json_object(br#"{"a":1,"firstname":"x\u0000"}"#).unwrap_err();
        assert!(
            m.message.contains("NUL") && m.message.contains("'firstname'"),
            "{}",
            m.message
        );
        let m = super::json_object(br#"{"n\u0000":1}"#).unwrap_err();
        assert!(
            m.message.contains("property name 'n\\u0000'"),
            "{}",
            m.message
        );
        let m = super::json_object(br#"{"ctx":{"list":["ok","\u0000"]}}"#).unwrap_err();
        assert!(m.message.contains("'ctx.list[1]'"), "{}", m.message);
        assert!(
            super::json_object(br#"{"a":"\\u0000"}"#).is_ok(),
            "an escaped backslash is not a NUL"
        );
    }
}
