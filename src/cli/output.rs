//! How commands print: `--output table` (the default) gives aligned
//! plain-text columns for people, `--output json` gives the same rows as a
//! JSON array (list) or object (show) for scripts. Commands that change
//! something print, with `--output json`, one object saying what they did
//! (and nothing else on stdout).
//!
//! Rows are JSON objects whose keys are the column names; the table uses
//! the upper-cased keys as headers. Plain padding is all the table needs,
//! so there is no table-drawing dependency.

use clap::{Args, ValueEnum};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// JSON (an array for lists, an object for show).
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: Format,
}

/// The text of one cell.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.replace(['\r', '\n'], " "),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

/// Render `rows` (objects with the keys of `columns`) as aligned columns
/// under an upper-cased header; the last column is not padded.
pub fn table(columns: &[&str], rows: &[Value]) -> String {
    let mut grid: Vec<Vec<String>> = vec![columns.iter().map(|c| c.to_uppercase()).collect()];
    for r in rows {
        grid.push(
            columns
                .iter()
                .map(|c| cell(r.get(*c).unwrap_or(&Value::Null)))
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            grid.iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &grid {
        let mut line = String::new();
        for (i, text) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(text);
            } else {
                line.push_str(text);
                line.push_str(&" ".repeat(widths[i] - text.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Print a list; `empty` is said (on stderr, table only) when there are no rows.
pub fn print_list(format: Format, columns: &[&str], rows: &[Value], empty: &str) {
    match format {
        Format::Json => println!("{}", pretty(&Value::Array(rows.to_vec()))),
        Format::Table if rows.is_empty() => eprintln!("{empty}"),
        Format::Table => print!("{}", table(columns, rows)),
    }
}

/// What a changing command did. As a table, `text` prints the usual human
/// output (an id or URL on stdout for scripts, a confirmation on stderr);
/// as JSON, `record` (one object) is printed on stdout instead.
pub fn print_outcome(format: Format, record: &Value, text: impl FnOnce()) {
    match format {
        Format::Json => println!("{}", pretty(record)),
        Format::Table => text(),
    }
}

/// Print one record as `key: value` lines (table) or an object (json).
/// Array-valued fields are printed as nested tables under their key.
pub fn print_record(format: Format, record: &Value) {
    match format {
        Format::Json => println!("{}", pretty(record)),
        Format::Table => print!("{}", record_text(record)),
    }
}

fn record_text(record: &Value) -> String {
    let Some(fields) = record.as_object() else {
        return format!("{}\n", cell(record));
    };
    let width = fields.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in fields {
        match v {
            Value::Array(items) => {
                out.push_str(&format!(
                    "{k}:{}\n",
                    if items.is_empty() { " none" } else { "" }
                ));
                let columns: Vec<&str> = items
                    .first()
                    .and_then(Value::as_object)
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                if !columns.is_empty() {
                    for line in table(&columns, items).lines() {
                        out.push_str(&format!("  {line}\n"));
                    }
                }
            }
            _ => {
                out.push_str(format!("{k:<width$}  {}", cell(v)).trim_end());
                out.push('\n');
            }
        }
    }
    out
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aligns_columns() {
        let rows = vec![
            json!({"name": "a", "id": "1", "on": true}),
            json!({"name": "longer", "id": null, "on": false}),
        ];
        assert_eq!(
            table(&["name", "id", "on"], &rows),
            "NAME    ID  ON\na       1   yes\nlonger      no\n"
        );
    }

    #[test]
    fn records_list_fields_then_nested_rows() {
        let r = json!({"name": "s", "rank": 1, "images": [{"name": "pre", "type": "PreImage"}]});
        assert_eq!(
            record_text(&r),
            "name    s\nrank    1\nimages:\n  NAME  TYPE\n  pre   PreImage\n"
        );
    }
}
