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
//! ([`crate::ddl`]).

use herald_core::job::{JobState, JobStatus};
use herald_core::query::{ColumnRef, CompareOp, Condition, Link, Order, Query};
use herald_core::schema::{Column, ColumnType, Storage};
use herald_core::{Schema, Table, Value};

use crate::dialect::Dialect;
use crate::error::StoreError;

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
        self.params.push(p);
        self.text.push('$');
        self.text.push_str(&self.params.len().to_string());
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

/// Quote an identifier. Names come from the schema, which only admits
/// `[a-z0-9_]`, so quoting is belt and braces.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', ""))
}

/// A column in the generated SELECT: where it comes from and how to decode it.
#[derive(Debug, Clone)]
pub struct OutputColumn {
    /// Key in the returned record (`column` or `alias.column`).
    pub key: String,
    pub column: Column,
}

/// A SELECT statement ready to run.
pub struct Select {
    pub sql: Sql,
    pub columns: Vec<OutputColumn>,
}

struct Scope<'a> {
    dialect: Dialect,
    schema: &'a Schema,
    /// (alias, sql alias, table) for the primary table (alias None) and links.
    tables: Vec<(Option<String>, String, &'a Table)>,
}

impl<'a> Scope<'a> {
    fn resolve(&self, col: &ColumnRef) -> Result<(String, &'a Column), StoreError> {
        let (_, sql_alias, table) = self
            .tables
            .iter()
            .find(|(a, _, _)| a.as_deref() == col.alias.as_deref())
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "unknown link alias '{}'",
                    col.alias.as_deref().unwrap_or("")
                ))
            })?;
        let column = table.column(&col.column).ok_or_else(|| {
            StoreError::Invalid(format!(
                "table '{}' has no column '{}'",
                table.logical_name, col.column
            ))
        })?;
        Ok((format!("{}.{}", sql_alias, ident(&column.name)), column))
    }

    /// The expression a comparison or an ordering uses for a column: its
    /// [`fold`] for string and memo columns, the column itself otherwise.
    fn operand(&self, expr: &str, column: &Column) -> String {
        if folds(column) {
            fold(self.dialect, expr)
        } else {
            expr.to_string()
        }
    }
}

/// A value bound for comparison with [`Scope::operand`] of `column`.
fn operand_param(column: &Column, value: &Value) -> Param {
    let p = Param::encode(column.ty.storage(), value);
    if folds(column) {
        p.folded()
    } else {
        p
    }
}

/// Build the SELECT for a query. `limit`/`offset` implement paging and are
/// applied after ordering; the primary key is always the last sort key so
/// pages are stable.
pub fn select(
    dialect: Dialect,
    schema: &Schema,
    query: &Query,
    limit: Option<u64>,
    offset: u64,
) -> Result<Select, StoreError> {
    let table = table_of(schema, &query.table)?;
    let mut scope = Scope {
        dialect,
        schema,
        tables: vec![(None, "t0".to_string(), table)],
    };
    let mut joins = Sql::default();
    let mut link_columns = Vec::new();
    let mut link_filters = Vec::new();
    let mut link_orders = Vec::new();
    add_links(
        &mut scope,
        &query.links,
        "t0",
        table,
        &mut joins,
        &mut link_columns,
        &mut link_filters,
        &mut link_orders,
    )?;

    let mut columns: Vec<OutputColumn> = Vec::new();
    if query.select.is_empty() {
        for c in table.readable_columns() {
            columns.push(OutputColumn {
                key: c.name.clone(),
                column: c.clone(),
            });
        }
    } else {
        for name in &query.select {
            let c = table.column(name).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "table '{}' has no column '{}'",
                    table.logical_name, name
                ))
            })?;
            if !columns.iter().any(|o| o.key == c.name) {
                columns.push(OutputColumn {
                    key: c.name.clone(),
                    column: c.clone(),
                });
            }
        }
        // The primary key always comes back (Dataverse does the same).
        if !columns.iter().any(|o| o.key == table.primary_id) {
            if let Some(pk) = table.column(&table.primary_id) {
                columns.push(OutputColumn {
                    key: pk.name.clone(),
                    column: pk.clone(),
                });
            }
        }
    }
    let mut select_list: Vec<String> = columns
        .iter()
        .map(|o| format!("t0.{}", ident(&o.column.name)))
        .collect();
    for (sql_expr, out) in link_columns {
        select_list.push(sql_expr);
        columns.push(out);
    }

    let mut orders: Vec<&Order> = query.order.iter().collect();
    orders.extend(link_orders.iter());
    let mut order_sql = Vec::new();
    // Folded order expressions a SELECT DISTINCT must also return: after
    // every decoded column, so they are never read back.
    let mut hidden: Vec<String> = Vec::new();
    for o in orders {
        let (expr, column) = scope.resolve(&o.column)?;
        // SELECT DISTINCT can only sort by what it returns (PostgreSQL
        // insists; SQLite would pick an arbitrary row's value): an order
        // column that is not selected is selected, and returned.
        if query.distinct && !select_list.contains(&expr) {
            select_list.push(expr.clone());
            columns.push(OutputColumn {
                key: match &o.column.alias {
                    Some(a) => format!("{a}.{}", column.name),
                    None => column.name.clone(),
                },
                column: column.clone(),
            });
        }
        let sort = scope.operand(&expr, column);
        if query.distinct && sort != expr && !hidden.contains(&sort) {
            hidden.push(sort.clone());
        }
        // NULLs sort first ascending on both stores, like SQL Server.
        order_sql.push(format!(
            "{sort} {}",
            if o.descending {
                "DESC NULLS LAST"
            } else {
                "ASC NULLS FIRST"
            }
        ));
    }
    select_list.extend(hidden);
    if !query.distinct {
        order_sql.push(format!("t0.{} ASC", ident(&table.primary_id)));
    }

    let mut sql = Sql::default();
    sql.push("SELECT ");
    if query.distinct {
        sql.push("DISTINCT ");
    }
    sql.push(&select_list.join(", "));
    sql.push(" FROM ")
        .push(&ident(&table.logical_name))
        .push(" t0");
    append(&mut sql, &joins);

    let mut conditions: Vec<&Condition> = Vec::new();
    if let Some(f) = &query.filter {
        conditions.push(f);
    }
    for f in &link_filters {
        conditions.push(f);
    }
    if !conditions.is_empty() {
        sql.push(" WHERE ");
        for (i, c) in conditions.iter().enumerate() {
            if i > 0 {
                sql.push(" AND ");
            }
            condition(&scope, c, &mut sql)?;
        }
    }

    if !order_sql.is_empty() {
        sql.push(" ORDER BY ").push(&order_sql.join(", "));
    }
    if let Some(limit) = limit {
        sql.push(" LIMIT ")
            .bind(Param::Int(Some(limit.min(i64::MAX as u64) as i64)));
        sql.push(" OFFSET ")
            .bind(Param::Int(Some(offset.min(i64::MAX as u64) as i64)));
    }
    let _ = scope.schema;
    Ok(Select { sql, columns })
}

/// `SELECT COUNT(*)` with the same joins and filters as `select`.
pub fn count(dialect: Dialect, schema: &Schema, query: &Query) -> Result<Sql, StoreError> {
    let mut q = query.clone();
    q.select = vec![table_of(schema, &query.table)?.primary_id.clone()];
    q.order.clear();
    for l in q.links.iter_mut() {
        clear_link_output(l);
    }
    let inner = select(dialect, schema, &q, None, 0)?;
    let mut sql = Sql::default();
    sql.push("SELECT COUNT(*) FROM (");
    sql.push(&inner.sql.text);
    sql.push(") c");
    sql.params = inner.sql.params;
    Ok(sql)
}

fn clear_link_output(l: &mut Link) {
    l.select.clear();
    l.order.clear();
    for n in l.links.iter_mut() {
        clear_link_output(n);
    }
}

fn append(dst: &mut Sql, src: &Sql) {
    // Renumber placeholders of `src` after those already in `dst`.
    let base = dst.params.len();
    if base == 0 {
        dst.text.push_str(&src.text);
    } else {
        dst.text.push_str(&renumber(&src.text, base));
    }
    dst.params.extend(src.params.iter().cloned());
}

fn renumber(text: &str, base: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            let mut n = String::new();
            while let Some(d) = chars.peek().copied().filter(|d| d.is_ascii_digit()) {
                n.push(d);
                chars.next();
            }
            let v: usize = n.parse().unwrap_or(0);
            out.push('$');
            out.push_str(&(v + base).to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn add_links<'a>(
    scope: &mut Scope<'a>,
    links: &[Link],
    parent_sql_alias: &str,
    parent: &'a Table,
    joins: &mut Sql,
    out_columns: &mut Vec<(String, OutputColumn)>,
    filters: &mut Vec<Condition>,
    orders: &mut Vec<Order>,
) -> Result<(), StoreError> {
    for link in links {
        let table = table_of(scope.schema, &link.table)?;
        if scope
            .tables
            .iter()
            .any(|(a, _, _)| a.as_deref() == Some(link.alias.as_str()))
        {
            return Err(StoreError::Invalid(format!(
                "link-entity alias '{}' is used twice",
                link.alias
            )));
        }
        let sql_alias = format!("t{}", scope.tables.len());
        let from = table.column(&link.from).ok_or_else(|| {
            StoreError::Invalid(format!(
                "link-entity '{}' has no column '{}' (from)",
                table.logical_name, link.from
            ))
        })?;
        let to = parent.column(&link.to).ok_or_else(|| {
            StoreError::Invalid(format!(
                "table '{}' has no column '{}' (link-entity to)",
                parent.logical_name, link.to
            ))
        })?;
        joins.push(if link.outer {
            " LEFT OUTER JOIN "
        } else {
            " INNER JOIN "
        });
        joins.push(&format!(
            "{} {} ON {}.{} = {}.{}",
            ident(&table.logical_name),
            sql_alias,
            sql_alias,
            ident(&from.name),
            parent_sql_alias,
            ident(&to.name)
        ));
        scope
            .tables
            .push((Some(link.alias.clone()), sql_alias.clone(), table));
        for name in &link.select {
            let c = table.column(name).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "link-entity '{}' has no column '{}'",
                    table.logical_name, name
                ))
            })?;
            out_columns.push((
                format!("{}.{}", sql_alias, ident(&c.name)),
                OutputColumn {
                    key: format!("{}.{}", link.alias, c.name),
                    column: c.clone(),
                },
            ));
        }
        if let Some(f) = &link.filter {
            if link.outer {
                // An outer link's filter restricts the joined rows only.
                let mut on = Sql {
                    text: String::new(),
                    params: joins.params.clone(),
                };
                let before = on.params.len();
                condition(scope, f, &mut on)?;
                joins.push(" AND ");
                joins.text.push_str(&on.text);
                joins.params.extend(on.params.into_iter().skip(before));
            } else {
                filters.push(f.clone());
            }
        }
        orders.extend(link.order.iter().cloned());
        add_links(
            scope,
            &link.links,
            &sql_alias,
            table,
            joins,
            out_columns,
            filters,
            orders,
        )?;
    }
    Ok(())
}

fn table_of<'a>(schema: &'a Schema, name: &str) -> Result<&'a Table, StoreError> {
    schema
        .table(name)
        .ok_or_else(|| StoreError::Invalid(format!("unknown table '{name}'")))
}

fn condition(scope: &Scope<'_>, c: &Condition, sql: &mut Sql) -> Result<(), StoreError> {
    match c {
        Condition::And(parts) | Condition::Or(parts) => {
            if parts.is_empty() {
                sql.push(if matches!(c, Condition::And(_)) {
                    "1=1"
                } else {
                    "1=0"
                });
                return Ok(());
            }
            let joiner = if matches!(c, Condition::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                condition(scope, p, sql)?;
            }
            sql.push(")");
        }
        Condition::Not(inner) => {
            sql.push("NOT (");
            condition(scope, inner, sql)?;
            sql.push(")");
        }
        Condition::Compare { column, op, value } => {
            let (column_expr, col) = scope.resolve(column)?;
            let expr = scope.operand(&column_expr, col);
            let p = operand_param(col, value);
            let sym = match op {
                CompareOp::Eq => "=",
                CompareOp::Ne => "<>",
                CompareOp::Lt => "<",
                CompareOp::Le => "<=",
                CompareOp::Gt => ">",
                CompareOp::Ge => ">=",
            };
            if *op == CompareOp::Ne {
                sql.push(&format!("({column_expr} IS NULL OR {expr} <> "));
                sql.bind(p);
                sql.push(")");
            } else {
                sql.push(&format!("{expr} {sym} "));
                sql.bind(p);
            }
        }
        Condition::Null { column, negated } => {
            let (expr, _) = scope.resolve(column)?;
            sql.push(&format!(
                "{expr} IS {}NULL",
                if *negated { "NOT " } else { "" }
            ));
        }
        Condition::Like {
            column,
            pattern,
            negated,
        } => {
            let (expr, col) = scope.resolve(column)?;
            let pattern = close_escape(pattern);
            if folds(col) {
                // The pattern is folded like the column (its wildcards and
                // escapes are ASCII punctuation, which folding keeps).
                let folded = fold(scope.dialect, &expr);
                let p = Param::Text(Some(pattern)).folded();
                if *negated {
                    sql.push(&format!("({expr} IS NULL OR {folded} NOT LIKE "));
                    sql.bind(p);
                    sql.push(" ESCAPE '\\')");
                } else {
                    sql.push(&format!("{folded} LIKE "));
                    sql.bind(p);
                    sql.push(" ESCAPE '\\'");
                }
            } else if *negated {
                sql.push(&format!("({expr} IS NULL OR LOWER({expr}) NOT LIKE LOWER("));
                sql.bind(Param::Text(Some(pattern.clone())));
                sql.push(") ESCAPE '\\')");
            } else {
                sql.push(&format!("LOWER({expr}) LIKE LOWER("));
                sql.bind(Param::Text(Some(pattern)));
                sql.push(") ESCAPE '\\'");
            }
        }
        Condition::In {
            column,
            values,
            negated,
        } => {
            let (column_expr, col) = scope.resolve(column)?;
            if values.is_empty() {
                sql.push(if *negated { "1=1" } else { "1=0" });
                return Ok(());
            }
            let expr = scope.operand(&column_expr, col);
            if *negated {
                sql.push(&format!("({column_expr} IS NULL OR {expr} NOT IN ("));
            } else {
                sql.push(&format!("{expr} IN ("));
            }
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(operand_param(col, v));
            }
            sql.push(if *negated { "))" } else { ")" });
        }
    }
    Ok(())
}

/// A LIKE pattern whose last character is a lone escape (`\`) has nothing
/// to escape: PostgreSQL refuses it and SQLite matches nothing. Both stores
/// take that backslash literally instead (as SQL Server, which has no
/// default escape character, does).
fn close_escape(pattern: &str) -> String {
    let trailing = pattern.chars().rev().take_while(|c| *c == '\\').count();
    if trailing % 2 == 1 {
        format!("{pattern}\\")
    } else {
        pattern.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::query::Link;

    #[test]
    fn a_trailing_lone_escape_becomes_a_literal_backslash() {
        assert_eq!(close_escape("a\\"), "a\\\\");
        assert_eq!(close_escape("a\\\\"), "a\\\\");
        assert_eq!(close_escape("a\\\\\\"), "a\\\\\\\\");
        assert_eq!(close_escape("a\\%"), "a\\%");
        assert_eq!(close_escape(""), "");
    }

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

    #[test]
    fn renumbers_placeholders() {
        assert_eq!(renumber("a = $1 AND b = $12", 3), "a = $4 AND b = $15");
    }

    #[test]
    fn builds_select_with_bound_values() {
        let schema = Schema::build(&[]).unwrap();
        let mut q = Query::all("contact");
        q.select = vec!["firstname".into()];
        q.filter = Some(Condition::Like {
            column: ColumnRef::new("lastname"),
            pattern: "Gl%".into(),
            negated: false,
        });
        q.links.push(Link {
            table: "account".into(),
            from: "accountid".into(),
            to: "parentcustomerid".into(),
            alias: "a".into(),
            outer: false,
            select: vec!["name".into()],
            filter: None,
            order: vec![],
            links: vec![],
        });
        let s = select(Dialect::Sqlite, &schema, &q, Some(10), 0).unwrap();
        assert!(
            s.sql.text.contains("lower(t0.\"lastname\") LIKE $1"),
            "{}",
            s.sql.text
        );
        assert!(!s.sql.text.contains("Gl%"));
        assert_eq!(s.sql.params[0], Param::Text(Some("gl%".into())));
        assert_eq!(s.columns.last().unwrap().key, "a.name");
        assert_eq!(s.sql.params.len(), 3);
    }

    #[test]
    fn only_text_columns_compare_folded() {
        let schema = Schema::build(&[]).unwrap();
        let mut q = Query::all("contact");
        q.select = vec!["fullname".into()];
        q.filter = Some(Condition::And(vec![
            Condition::Compare {
                column: ColumnRef::new("lastname"),
                op: CompareOp::Ne,
                value: Value::String("Glynn".into()),
            },
            Condition::Compare {
                column: ColumnRef::new("parentcustomerid"),
                op: CompareOp::Eq,
                value: Value::Guid(uuid::Uuid::nil()),
            },
            Condition::In {
                column: ColumnRef::new("firstname"),
                values: vec![Value::String("Jim".into())],
                negated: false,
            },
        ]));
        q.order = vec![
            Order {
                column: ColumnRef::new("lastname"),
                descending: false,
            },
            Order {
                column: ColumnRef::new("createdon"),
                descending: true,
            },
        ];
        let pg = select(Dialect::Postgres, &schema, &q, None, 0).unwrap().sql;
        assert_eq!(
            pg.text,
            "SELECT t0.\"fullname\", t0.\"contactid\" FROM \"contact\" t0 WHERE \
             ((t0.\"lastname\" IS NULL OR lower((t0.\"lastname\") COLLATE \"C\") <> $1) \
             AND t0.\"parentcustomerid\" = $2 \
             AND lower((t0.\"firstname\") COLLATE \"C\") IN ($3)) \
             ORDER BY lower((t0.\"lastname\") COLLATE \"C\") ASC NULLS FIRST, \
             t0.\"createdon\" DESC NULLS LAST, t0.\"contactid\" ASC"
        );
        assert_eq!(pg.params[0], Param::Text(Some("glynn".into())));
        assert_eq!(
            pg.params[1],
            Param::Text(Some(uuid::Uuid::nil().to_string()))
        );
        assert_eq!(pg.params[2], Param::Text(Some("jim".into())));
        let lite = select(Dialect::Sqlite, &schema, &q, None, 0).unwrap().sql;
        assert!(
            lite.text
                .contains("ORDER BY lower(t0.\"lastname\") ASC NULLS FIRST"),
            "{}",
            lite.text
        );
        // DISTINCT returns what it sorts by, after the decoded columns.
        q.distinct = true;
        let s = select(Dialect::Postgres, &schema, &q, None, 0).unwrap();
        assert!(
            s.sql.text.starts_with(
                "SELECT DISTINCT t0.\"fullname\", t0.\"contactid\", t0.\"lastname\", \
                 t0.\"createdon\", lower((t0.\"lastname\") COLLATE \"C\") FROM"
            ),
            "{}",
            s.sql.text
        );
        assert_eq!(s.columns.len(), 4);
    }
}
