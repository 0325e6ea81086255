//! Translation of the bound query model into SQL text with `$N`
//! placeholders and typed parameters. The same text runs on SQLite and
//! PostgreSQL but for one expression, [`fold`]; values are always bound,
//! never spliced into the text.
//!
//! ## Strings compare case-insensitively
//!
//! Dataverse compares text under SQL Server's default, case-insensitive
//! collation, so `lastname eq 'glynn'` finds 'Glynn'. Every comparison on a
//! string or memo column (`eq`, `ne`, `lt`…`ge`, `in`, LIKE for
//! contains/startswith/endswith and FetchXML's like/begins-with/ends-with)
//! and every ordering by one compares the column's [`fold`]ed form with the
//! value lower-cased the same way in Rust before it is bound. Folding
//! lower-cases the ASCII letters A–Z only, on both stores (SQLite's `lower`
//! does exactly that; PostgreSQL's `lower` under the "C" collation too,
//! whatever the database's locale), so both stores return the same rows in
//! the same order. Other letters keep their case: 'É' and 'é' differ, unlike
//! in Dataverse; ordering is by code point after folding. GUIDs, lookups,
//! numbers, choices and dates compare as before. The indexes herald's own
//! lookups need on text columns are built on the same expression
//! (`ddl.rs`).
//!
//! Here: [`Param`] and [`Sql`] (text being assembled with its parameters),
//! identifiers and [`fold`]; `select` builds a query's SELECT and COUNT
//! with its links, `aggregate` the SELECT … GROUP BY of an aggregate query,
//! `condition` their WHERE, all over a `scope` of tables.

mod aggregate;
mod condition;
mod scope;
mod select;

pub use select::{count, OutputColumn, Select};

/// Build the SELECT for a query: an aggregate one (`GROUP BY`, by
/// `aggregate`) or a plain one (by `select`). `limit`/`offset` implement
/// paging, applied after ordering.
pub fn select(
    dialect: crate::dialect::Dialect,
    schema: &herald_core::Schema,
    query: &herald_core::Query,
    limit: Option<u64>,
    offset: u64,
) -> Result<Select, crate::error::StoreError> {
    match &query.aggregate {
        Some(aggregation) => aggregate::select(dialect, schema, query, aggregation, limit, offset),
        None => select::plain_select(dialect, schema, query, limit, offset),
    }
}

use herald_core::job::{JobState, JobStatus};
use herald_core::schema::{Column, ColumnType, Storage};
use herald_core::Value;

use crate::dialect::Dialect;

/// A parameter with its storage type, so that NULLs are typed for PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(Option<bool>),
}

impl Param {
    /// Encode a value for a column of the given storage class.
    pub fn encode(storage: Storage, value: &Value) -> Param {
        match (storage, value) {
            (Storage::Text, Value::String(s)) => Param::Text(Some(s.clone())),
            (Storage::Text, Value::Guid(g)) => Param::Text(Some(g.to_string())),
            (Storage::Text, Value::Null) => Param::Text(None),
            (Storage::Integer, Value::Int(i)) => Param::Int(Some(*i)),
            (Storage::Integer, Value::DateTime(t)) => Param::Int(Some(t.timestamp_millis())),
            (Storage::Integer, Value::Null) => Param::Int(None),
            (Storage::Real, Value::Decimal(d)) => Param::Real(Some(*d)),
            (Storage::Real, Value::Int(i)) => Param::Real(Some(*i as f64)),
            (Storage::Real, Value::Null) => Param::Real(None),
            (Storage::Boolean, Value::Bool(b)) => Param::Bool(Some(*b)),
            (Storage::Boolean, Value::Null) => Param::Bool(None),
            // Mismatches are prevented by the binders in herald-core; encode
            // them as text so that a bug shows as "no rows", not a crash.
            (_, other) => Param::Text(Some(format!("{other:?}"))),
        }
    }

    /// A text parameter: an id, a name, a URL.
    pub fn text(s: impl ToString) -> Param {
        Param::Text(Some(s.to_string()))
    }

    /// An integer parameter: a time in ms, a count, a limit.
    pub fn int(i: i64) -> Param {
        Param::Int(Some(i))
    }

    /// The parameter with its text folded as [`fold`] folds a column.
    fn folded(self) -> Param {
        match self {
            Param::Text(Some(s)) => Param::Text(Some(s.to_ascii_lowercase())),
            other => other,
        }
    }
}

/// A System Job's state or status is bound by its Dataverse code: the
/// numbers are written only in `herald_core::job`.
impl From<JobState> for Param {
    fn from(state: JobState) -> Param {
        Param::Int(Some(state.code()))
    }
}

impl From<JobStatus> for Param {
    fn from(status: JobStatus) -> Param {
        Param::Int(Some(status.code()))
    }
}

/// Whether a column compares and sorts case-insensitively: string and memo
/// columns (not GUIDs, lookups, numbers, choices or dates).
pub fn folds(column: &Column) -> bool {
    matches!(
        column.ty,
        ColumnType::String { .. } | ColumnType::Memo { .. }
    )
}

/// A text expression with its ASCII letters lower-cased, the same on both
/// stores (see the module documentation). An index on a text column that
/// case-insensitive lookups should use is built on this expression of the
/// bare column name.
pub fn fold(dialect: Dialect, expr: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("lower({expr})"),
        // Under "C", lower() maps A–Z only, as SQLite's does; under the
        // database's collation it would follow the locale.
        Dialect::Postgres => format!("lower(({expr}) COLLATE \"C\")"),
    }
}

/// SQL text being assembled together with its parameters.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Param>,
}

impl From<String> for Sql {
    /// A statement without parameters.
    fn from(text: String) -> Sql {
        Sql {
            text,
            params: Vec::new(),
        }
    }
}

impl Sql {
    /// This statement's text for SQLite: when its placeholders are `$1,
    /// $2, …` each once and in order (as [`Sql::bind`] writes them), they
    /// become anonymous `?`, bound in the same order. sqlx finds a named
    /// SQLite parameter by walking the statement's parameter names, so
    /// binding n of them costs n²; anonymous ones cost nothing to find.
    /// Anything else (a placeholder reused or out of order) is left as it is.
    pub fn sqlite_text(&self) -> std::borrow::Cow<'_, str> {
        let mut text = String::with_capacity(self.text.len());
        let mut next = 1usize;
        let mut chars = self.text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                let mut n = 0usize;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    n = n.saturating_mul(10).saturating_add(d as usize);
                    chars.next();
                }
                if n != next {
                    return std::borrow::Cow::Borrowed(&self.text);
                }
                next += 1;
                text.push('?');
            } else {
                text.push(c);
            }
        }
        if next != self.params.len() + 1 {
            return std::borrow::Cow::Borrowed(&self.text);
        }
        std::borrow::Cow::Owned(text)
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub fn bind(&mut self, p: Param) -> &mut Self {
        use std::fmt::Write;
        self.params.push(p);
        // Writing into a String cannot fail.
        let _ = write!(self.text, "${}", self.params.len());
        self
    }

    /// Push `name` quoted as an identifier (see [`ident`]), without a
    /// String of its own: an insert names every column it writes.
    pub fn push_ident(&mut self, name: &str) -> &mut Self {
        push_quoted(&mut self.text, name);
        self
    }

    /// Bind each of `params`, separated by commas: the inside of an
    /// `IN (…)` list or of a `VALUES (…)` row.
    pub fn bind_list(&mut self, params: impl IntoIterator<Item = Param>) -> &mut Self {
        for (i, p) in params.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(p);
        }
        self
    }
}

/// What a query reads for `table`: the table itself, but for
/// asyncoperation the view that joins each row with its context payload
/// (`jobs::payload`).
pub(crate) fn source(table: &herald_core::Table) -> String {
    if table.logical_name == "asyncoperation" {
        crate::jobs::payload::READ_VIEW.to_string()
    } else {
        ident(&table.logical_name)
    }
}

/// Quote an identifier. Names come from the schema, which only admits
/// `[a-z0-9_]`, so quoting is belt and braces.
pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_quoted(&mut out, name);
    out
}

fn push_quoted(out: &mut String, name: &str) {
    out.push('"');
    out.extend(name.chars().filter(|&c| c != '"'));
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_placeholders_become_anonymous_only_when_in_order() {
        let mut sql = Sql::default();
        sql.push("a = ").bind(Param::Int(Some(1))).push("; b IN (");
        sql.bind(Param::Int(Some(2)))
            .push(", ")
            .bind(Param::Int(Some(3)))
            .push(")");
        assert_eq!(sql.sqlite_text(), "a = ?; b IN (?, ?)");
        let reused = Sql {
            text: "a = $1 OR b = $1".into(),
            params: vec![Param::Int(Some(1))],
        };
        assert_eq!(reused.sqlite_text(), "a = $1 OR b = $1");
        let swapped = Sql {
            text: "a = $2 OR b = $1".into(),
            params: vec![Param::Int(Some(1)), Param::Int(Some(2))],
        };
        assert_eq!(swapped.sqlite_text(), "a = $2 OR b = $1");
    }
}
