//! The SELECT (and COUNT) of a query: its output columns, the links
//! (joins) it follows and what they output, paging, and the scope that
//! resolves a column reference to its table's SQL alias. The WHERE clause is
//! written by `condition`; aggregate queries by `aggregate`, which shares
//! the FROM/JOIN setup ([`sources`]), WHERE and LIMIT with this.

use herald_core::query::{Condition, Link, Order, Query};
use herald_core::schema::Column;
use herald_core::{Schema, Table};

use super::condition::condition;
use super::scope::Scope;
use super::{ident, Param, Sql};
use crate::dialect::Dialect;
use crate::error::StoreError;

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

/// Build the SELECT for a query without aggregation (`sql::select` sends
/// aggregate queries to `aggregate`). `limit`/`offset` implement paging and
/// are applied after ordering; the primary key is always the last sort key
/// (for DISTINCT, every returned expression is) so pages are stable.
pub fn plain_select(
    dialect: Dialect,
    schema: &Schema,
    query: &Query,
    limit: Option<u64>,
    offset: u64,
) -> Result<Select, StoreError> {
    let Sources {
        table,
        scope,
        joins,
        link_columns,
        link_filters,
        link_orders,
    } = sources(dialect, schema, query)?;

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
    if query.distinct {
        // Distinct rows differ in some returned value: sorting by all of
        // them last makes the order total, so pages are stable.
        order_sql.extend(select_list.iter().map(|e| format!("{e} ASC NULLS FIRST")));
    } else {
        order_sql.push(format!("t0.{} ASC", ident(&table.primary_id)));
    }

    let mut sql = Sql::default();
    sql.push("SELECT ");
    if query.distinct {
        sql.push("DISTINCT ");
    }
    sql.push(&select_list.join(", "));
    sql.push(" FROM ").push(&super::source(table)).push(" t0");
    append(&mut sql, &joins);

    where_clause(&scope, query.filter.as_ref(), &link_filters, &mut sql)?;

    if !order_sql.is_empty() {
        sql.push(" ORDER BY ").push(&order_sql.join(", "));
    }
    limit_offset(&mut sql, limit, offset);
    let _ = scope.schema;
    Ok(Select { sql, columns })
}

/// The tables a query reads: the primary one (`t0`) and its links' joins,
/// with what the links add to the select list, the filters and the order.
pub(super) struct Sources<'a> {
    pub(super) table: &'a Table,
    pub(super) scope: Scope<'a>,
    pub(super) joins: Sql,
    pub(super) link_columns: Vec<(String, OutputColumn)>,
    pub(super) link_filters: Vec<Condition>,
    pub(super) link_orders: Vec<Order>,
}

pub(super) fn sources<'a>(
    dialect: Dialect,
    schema: &'a Schema,
    query: &Query,
) -> Result<Sources<'a>, StoreError> {
    let table = table_of(schema, &query.table)?;
    let mut s = Sources {
        table,
        scope: Scope {
            dialect,
            schema,
            tables: vec![(None, "t0".to_string(), table)],
        },
        joins: Sql::default(),
        link_columns: Vec::new(),
        link_filters: Vec::new(),
        link_orders: Vec::new(),
    };
    add_links(
        &mut s.scope,
        &query.links,
        "t0",
        table,
        &mut s.joins,
        &mut s.link_columns,
        &mut s.link_filters,
        &mut s.link_orders,
    )?;
    Ok(s)
}

/// ` WHERE …` with the query's filter and the inner links' filters, if any.
pub(super) fn where_clause(
    scope: &Scope<'_>,
    filter: Option<&Condition>,
    link_filters: &[Condition],
    sql: &mut Sql,
) -> Result<(), StoreError> {
    let conditions: Vec<&Condition> = filter.into_iter().chain(link_filters).collect();
    if !conditions.is_empty() {
        sql.push(" WHERE ");
        for (i, c) in conditions.iter().enumerate() {
            if i > 0 {
                sql.push(" AND ");
            }
            condition(scope, c, sql)?;
        }
    }
    Ok(())
}

/// ` LIMIT … OFFSET …` for paging, when there is a limit.
pub(super) fn limit_offset(sql: &mut Sql, limit: Option<u64>, offset: u64) {
    if let Some(limit) = limit {
        sql.push(" LIMIT ")
            .bind(Param::Int(Some(limit.min(i64::MAX as u64) as i64)));
        sql.push(" OFFSET ")
            .bind(Param::Int(Some(offset.min(i64::MAX as u64) as i64)));
    }
}

/// `SELECT COUNT(*)` with the same joins and filters as `select` (for an
/// aggregate query: the number of groups).
pub fn count(dialect: Dialect, schema: &Schema, query: &Query) -> Result<Sql, StoreError> {
    let mut q = query.clone();
    q.select = vec![table_of(schema, &query.table)?.primary_id.clone()];
    q.order.clear();
    if let Some(a) = q.aggregate.as_mut() {
        a.order.clear();
    }
    for l in q.links.iter_mut() {
        clear_link_output(l);
    }
    let inner = super::select(dialect, schema, &q, None, 0)?;
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

pub(super) fn append(dst: &mut Sql, src: &Sql) {
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
            super::source(table),
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

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::query::{ColumnRef, CompareOp};
    use herald_core::Value;

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
        let s = crate::sql::select(Dialect::Sqlite, &schema, &q, Some(10), 0).unwrap();
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
        let pg = crate::sql::select(Dialect::Postgres, &schema, &q, None, 0)
            .unwrap()
            .sql;
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
        let lite = crate::sql::select(Dialect::Sqlite, &schema, &q, None, 0)
            .unwrap()
            .sql;
        assert!(
            lite.text
                .contains("ORDER BY lower(t0.\"lastname\") ASC NULLS FIRST"),
            "{}",
            lite.text
        );
        // DISTINCT returns what it sorts by, after the decoded columns.
        q.distinct = true;
        let s = crate::sql::select(Dialect::Postgres, &schema, &q, None, 0).unwrap();
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
