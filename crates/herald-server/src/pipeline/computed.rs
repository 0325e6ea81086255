//! Server-maintained columns: createdon/modifiedon/createdby/modifiedby,
//! versionnumber, owner and state defaults, and computed names
//! (`fullname`, `yomifullname`).

use chrono::{DateTime, Utc};
use herald_core::{Table, Value};
use herald_store::Record;
use uuid::Uuid;

fn set(values: &mut Vec<(String, Value)>, name: &str, v: Value) {
    match values.iter_mut().find(|(c, _)| c == name) {
        Some(slot) => slot.1 = v,
        None => values.push((name.to_string(), v)),
    }
}

fn get<'a>(values: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    values.iter().find(|(c, _)| c == name).map(|(_, v)| v)
}

/// "First Last" the way Dataverse composes fullname.
fn full_name(first: Option<&Value>, last: Option<&Value>) -> Value {
    let parts: Vec<&str> = [first, last]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        Value::Null
    } else {
        Value::String(parts.join(" "))
    }
}

fn apply_names(table: &Table, values: &mut Vec<(String, Value)>, before: Option<&Record>) {
    if table.column("fullname").is_none() || table.column("firstname").is_none() {
        return;
    }
    let touched = get(values, "firstname").is_some() || get(values, "lastname").is_some();
    if before.is_some() && !touched {
        return;
    }
    let pick = |name: &str| -> Option<Value> {
        get(values, name)
            .cloned()
            .or_else(|| before.and_then(|b| b.get(name).cloned()))
    };
    let first = pick("firstname");
    let last = pick("lastname");
    let full = full_name(first.as_ref(), last.as_ref());
    set(values, "fullname", full.clone());
    if table.column("yomifullname").is_some() {
        set(values, "yomifullname", full);
    }
}

/// The full row to insert.
pub fn for_create(
    table: &Table,
    id: Uuid,
    mut values: Vec<(String, Value)>,
    caller: Uuid,
    now: DateTime<Utc>,
) -> Vec<(String, Value)> {
    set(&mut values, &table.primary_id, Value::Guid(id));
    apply_names(table, &mut values, None);
    set(&mut values, "createdon", Value::DateTime(now));
    set(&mut values, "modifiedon", Value::DateTime(now));
    set(&mut values, "createdby", Value::Guid(caller));
    set(&mut values, "modifiedby", Value::Guid(caller));
    set(&mut values, "versionnumber", Value::Int(1));
    if table.column("ownerid").is_some() && get(&values, "ownerid").is_none_or(Value::is_null) {
        set(&mut values, "ownerid", Value::Guid(caller));
    }
    for (name, default) in [("statecode", 0), ("statuscode", 1)] {
        if table.column(name).is_some() && get(&values, name).is_none_or(Value::is_null) {
            set(&mut values, name, Value::Int(default));
        }
    }
    // Columns not given are stored as NULL; put them in so the returned
    // record lists every column.
    for c in &table.columns {
        if get(&values, &c.name).is_none() {
            values.push((c.name.clone(), Value::Null));
        }
    }
    values
}

/// The columns to change on update.
pub fn for_update(
    table: &Table,
    before: &Record,
    mut values: Vec<(String, Value)>,
    caller: Uuid,
    now: DateTime<Utc>,
) -> Vec<(String, Value)> {
    apply_names(table, &mut values, Some(before));
    set(&mut values, "modifiedon", Value::DateTime(now));
    set(&mut values, "modifiedby", Value::Guid(caller));
    let version = before.int("versionnumber").unwrap_or(0) + 1;
    set(&mut values, "versionnumber", Value::Int(version));
    values
}
