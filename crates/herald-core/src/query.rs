//! The query model shared by OData (`$select`, `$filter`, `$orderby`,
//! `$expand`, `$top`) and FetchXML. Parsers produce it already bound to the
//! schema (names resolved to storage columns, literals typed), and the store
//! translates it to SQL with bound parameters. Aggregation (FetchXML
//! `aggregate="true"`, SQL `GROUP BY`) lives in [`aggregate`].

mod aggregate;

pub use aggregate::{
    AggregateColumn, AggregateFunction, AggregateKind, Aggregation, AliasOrder, DateGrouping,
};

use crate::value::Value;

/// A column of the primary table (`alias: None`) or of a linked table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRef {
    pub alias: Option<String>,
    pub column: String,
}

impl ColumnRef {
    pub fn new(column: impl Into<String>) -> Self {
        ColumnRef {
            alias: None,
            column: column.into(),
        }
    }

    pub fn linked(alias: impl Into<String>, column: impl Into<String>) -> Self {
        ColumnRef {
            alias: Some(alias.into()),
            column: column.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A bound filter condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// `column op value`; `value` is never `Value::Null` (see `Null`).
    /// `Ne` also matches rows where the column is null, as in Dataverse.
    Compare {
        column: ColumnRef,
        op: CompareOp,
        value: Value,
    },
    /// `column eq null` (or `ne null` when `negated`).
    Null {
        column: ColumnRef,
        negated: bool,
    },
    /// Case-insensitive SQL LIKE; `pattern` uses `%` and `_` as wildcards
    /// and `\` as the escape character (a lone `\` at the very end, which
    /// escapes nothing, is a literal backslash).
    Like {
        column: ColumnRef,
        pattern: String,
        negated: bool,
    },
    In {
        column: ColumnRef,
        values: Vec<Value>,
        negated: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub column: ColumnRef,
    pub descending: bool,
}

/// What an `$expand` follows.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpandKind {
    /// A lookup of this table: `lookup_column` points at one row of `query.table`.
    Single { lookup_column: String },
    /// A one-to-many relationship: rows of `query.table` whose
    /// `lookup_column` points at this row.
    Collection { lookup_column: String },
    /// A many-to-many relationship: rows of `query.table` linked to this
    /// row by rows of `intersect` (`this_column` → this row,
    /// `other_column` → theirs).
    ManyToMany {
        intersect: String,
        this_column: String,
        other_column: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    /// The navigation property name as the client wrote it (the JSON key).
    pub navigation: String,
    pub kind: ExpandKind,
    /// Nested options; `query.table` is the expanded table.
    pub query: Query,
}

/// A FetchXML `<link-entity>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Logical name of the linked table.
    pub table: String,
    /// Column of the linked table.
    pub from: String,
    /// Column of the parent (the primary table or the enclosing link).
    pub to: String,
    pub alias: String,
    pub outer: bool,
    /// Columns returned as `alias.column`.
    pub select: Vec<String>,
    pub filter: Option<Condition>,
    pub order: Vec<Order>,
    pub links: Vec<Link>,
}

/// A bound query against one table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Logical name of the primary table.
    pub table: String,
    /// Storage column names to return; empty means every readable column.
    pub select: Vec<String>,
    /// Aliases for selected columns (FetchXML `<attribute alias>`): column → alias.
    pub select_aliases: Vec<(String, String)>,
    pub filter: Option<Condition>,
    pub order: Vec<Order>,
    pub top: Option<u64>,
    pub count: bool,
    pub expand: Vec<Expand>,
    pub links: Vec<Link>,
    pub distinct: bool,
    /// FetchXML `page` (1-based) with `count` as the page size.
    pub page: Option<u64>,
    pub page_size: Option<u64>,
    /// Rows skipped before the first returned one (SQL `OFFSET`).
    pub skip: Option<u64>,
    /// When set, the query returns one row per group with these outputs
    /// (and `select`, `expand` and the links' selects are not used).
    pub aggregate: Option<Aggregation>,
}

impl Query {
    pub fn all(table: &str) -> Query {
        Query {
            table: table.to_string(),
            ..Query::default()
        }
    }
}

/// Escape `%`, `_` and `\` so a literal can be embedded in a LIKE pattern.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
