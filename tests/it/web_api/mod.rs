//! The Dataverse-dialect Web API over HTTP, on SQLite and PostgreSQL.
//! Below: the column reader the modules share (and the query-string
//! encoding, from the harness).

mod locks;
mod protocol;
mod queries;
mod writes;

use crate::common::enc;

/// The `key` column of each row, as text.
fn names<'a>(rows: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    rows.as_array()
        .map(|v| v.iter().filter_map(|r| r[key].as_str()).collect())
        .unwrap_or_default()
}
