//! The Dataverse-dialect Web API over HTTP, on SQLite and PostgreSQL.
//! Below: the query-string encoding and the column reader the modules share.

mod protocol;
mod queries;
mod writes;

/// Percent-encode a query option value.
fn enc(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `key` column of each row, as text.
fn names<'a>(rows: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    rows.as_array()
        .map(|v| v.iter().filter_map(|r| r[key].as_str()).collect())
        .unwrap_or_default()
}
