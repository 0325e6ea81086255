//! The select list, `GROUP BY`, `ORDER BY`, `TOP`/`OFFSET`/`FETCH` and the
//! aggregate functions, into the [`Query`]: a plain select returns columns
//! (of the primary table, and of joined tables as `alias.column`), and a
//! statement with `GROUP BY` or an aggregate becomes an [`Aggregation`]
//! whose rows are keyed by alias (`AS name`, else the column's name, or
//! `count` for `COUNT(*)` and `<function>_<column>` for the others).
//! `SELECT DISTINCT` of columns groups by them, so its rows are the
//! distinct values alone.

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    ObjectNamePart, OrderByExpr, OrderBySort, SelectItem, Value as SqlValue,
};

use super::condition::condition;
use super::refuse;
use super::scope::{lower, Scope};
use crate::error::QueryError;
use crate::odata::MAX_TOP;
use crate::query::{
    AggregateColumn, AggregateFunction, AggregateKind, Aggregation, AliasOrder, Order, Query,
};

/// `TOP`/`FETCH NEXT` rows and `OFFSET` rows.
#[derive(Debug, Default)]
pub(super) struct Limits {
    pub(super) top: Option<u64>,
    pub(super) skip: Option<u64>,
}

pub(super) fn build(
    scope: &Scope<'_>,
    projection: &[SelectItem],
    selection: Option<&Expr>,
    group_by: &[Expr],
    order_by: &[OrderByExpr],
    distinct: bool,
    limits: Limits,
) -> Result<Query, QueryError> {
    let table = scope.table();
    let mut query = Query::all(&table.logical_name);
    query.filter = selection.map(|e| condition(scope, e)).transpose()?;
    query.distinct = distinct;
    if let Some(top) = limits.top {
        if top > MAX_TOP {
            return Err(refuse(format!(
                "TOP and FETCH NEXT allow at most {MAX_TOP} rows"
            )));
        }
    }
    query.top = limits.top;
    query.skip = limits.skip;
    let items = projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Ok((e, None)),
            SelectItem::ExprWithAlias { expr, alias } => Ok((expr, Some(alias))),
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => Err(refuse(
                "SELECT * is not supported: name the columns you want",
            )),
            SelectItem::ExprWithAliases { .. } => Err(refuse("Multiple aliases are not supported")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let aggregate =
        !group_by.is_empty() || items.iter().any(|(e, _)| matches!(e, Expr::Function(_)));
    // `SELECT DISTINCT a, b` is `SELECT a, b … GROUP BY a, b`: a plain
    // select always returns the primary key too, which would make every
    // row distinct.
    let distinct_groups: Vec<Expr>;
    let group_by = if distinct && !aggregate {
        distinct_groups = items.iter().map(|(e, _)| (*e).clone()).collect();
        &distinct_groups[..]
    } else {
        group_by
    };
    if aggregate || distinct {
        query.distinct = false;
        query.aggregate = Some(aggregation(scope, &items, group_by, order_by)?);
        query.links = scope.links(|_| Vec::new());
    } else {
        plain(scope, &mut query, &items, order_by)?;
    }
    Ok(query)
}

/// A select of columns.
fn plain(
    scope: &Scope<'_>,
    query: &mut Query,
    items: &[(&Expr, Option<&Ident>)],
    order_by: &[OrderByExpr],
) -> Result<(), QueryError> {
    let mut link_selects: Vec<Vec<String>> = Vec::new();
    for (expr, alias) in items {
        let r = scope.column(expr)?;
        let key = match &r.column_ref.alias {
            None => {
                if !query.select.contains(&r.column.name) {
                    query.select.push(r.column.name.clone());
                }
                r.column.name.clone()
            }
            Some(link) => {
                if link_selects.len() <= r.source {
                    link_selects.resize(r.source + 1, Vec::new());
                }
                if !link_selects[r.source].contains(&r.column.name) {
                    link_selects[r.source].push(r.column.name.clone());
                }
                format!("{link}.{}", r.column.name)
            }
        };
        if let Some(a) = alias {
            query.select_aliases.push((key, a.value.clone()));
        }
    }
    if query.select.is_empty() {
        // Only joined columns: the primary table returns its key, as
        // FetchXML's links do.
        query.select.push(scope.table().primary_id.clone());
    }
    for o in order_by {
        let descending = order_direction(o)?;
        // An alias of the select list names its column.
        let aliased = match &o.expr {
            Expr::Identifier(id) => items
                .iter()
                .find(|(_, a)| a.is_some_and(|a| lower(a) == lower(id)))
                .map(|(e, _)| *e),
            _ => None,
        };
        let r = scope.column(aliased.unwrap_or(&o.expr))?;
        query.order.push(Order {
            column: r.column_ref,
            descending,
        });
    }
    query.links = scope.links(|i| link_selects.get(i).cloned().unwrap_or_default());
    Ok(())
}

/// A statement with `GROUP BY` or aggregate functions.
fn aggregation(
    scope: &Scope<'_>,
    items: &[(&Expr, Option<&Ident>)],
    group_by: &[Expr],
    order_by: &[OrderByExpr],
) -> Result<Aggregation, QueryError> {
    let groups = group_by
        .iter()
        .map(|e| scope.column(e))
        .collect::<Result<Vec<_>, _>>()?;
    let mut columns: Vec<AggregateColumn> = Vec::new();
    for (expr, alias) in items {
        let (kind, default_alias) = match expr {
            Expr::Function(f) => aggregate_function(scope, f)?,
            other => {
                let r = scope.column(other)?;
                if !groups.iter().any(|g| g.column_ref == r.column_ref) {
                    return Err(refuse(format!(
                        "'{other}' must be in GROUP BY, or inside an aggregate function"
                    )));
                }
                (
                    AggregateKind::GroupBy {
                        column: r.column_ref,
                        date: None,
                    },
                    r.column.name.clone(),
                )
            }
        };
        columns.push(AggregateColumn {
            alias: alias.map_or(default_alias, |a| a.value.clone()),
            kind,
        });
    }
    // Grouping keys that are not selected are returned too, under their
    // column's name.
    for g in &groups {
        let selected = columns.iter().any(
            |c| matches!(&c.kind, AggregateKind::GroupBy { column, .. } if *column == g.column_ref),
        );
        if !selected {
            columns.push(AggregateColumn {
                alias: g.column.name.clone(),
                kind: AggregateKind::GroupBy {
                    column: g.column_ref.clone(),
                    date: None,
                },
            });
        }
    }
    for (i, c) in columns.iter().enumerate() {
        if columns[..i]
            .iter()
            .any(|o| o.alias.eq_ignore_ascii_case(&c.alias))
        {
            return Err(refuse(format!(
                "Two outputs are named '{}': give one of them an alias with AS",
                c.alias
            )));
        }
    }
    let mut order = Vec::new();
    for o in order_by {
        let descending = order_direction(o)?;
        let by_alias = match &o.expr {
            Expr::Identifier(id) => columns
                .iter()
                .find(|c| c.alias.eq_ignore_ascii_case(&id.value))
                .map(|c| c.alias.clone()),
            _ => None,
        };
        let alias = match (by_alias, &o.expr) {
            (Some(alias), _) => Some(alias),
            (None, Expr::Function(f)) => {
                let (kind, _) = aggregate_function(scope, f)?;
                columns
                    .iter()
                    .find(|c| c.kind == kind)
                    .map(|c| c.alias.clone())
            }
            (None, other) => {
                let r = scope.column(other)?;
                columns
                    .iter()
                    .find(|c| {
                        matches!(&c.kind, AggregateKind::GroupBy { column, .. } if *column == r.column_ref)
                    })
                    .map(|c| c.alias.clone())
            }
        };
        let alias = alias.ok_or_else(|| {
            refuse(format!(
                "ORDER BY '{}' in a grouped query must name a selected grouping or aggregate",
                o.expr
            ))
        })?;
        order.push(AliasOrder { alias, descending });
    }
    Ok(Aggregation { columns, order })
}

/// `COUNT(*)`, `COUNT([DISTINCT] c)`, `SUM/AVG/MIN/MAX([DISTINCT] c)`, and
/// the alias its output gets when the statement names none.
fn aggregate_function(
    scope: &Scope<'_>,
    f: &Function,
) -> Result<(AggregateKind, String), QueryError> {
    let name = match f.name.0.as_slice() {
        [ObjectNamePart::Identifier(id)] => lower(id),
        _ => String::new(),
    };
    let function = match name.as_str() {
        "count" => AggregateFunction::Count,
        "sum" => AggregateFunction::Sum,
        "avg" => AggregateFunction::Avg,
        "min" => AggregateFunction::Min,
        "max" => AggregateFunction::Max,
        _ => {
            return Err(refuse(format!(
                "The function '{}' is not supported in ?sql= (only COUNT, SUM, AVG, MIN and MAX)",
                f.name
            )))
        }
    };
    if f.uses_odbc_syntax
        || !matches!(f.parameters, FunctionArguments::None)
        || !f.within_group.is_empty()
        || f.filter.is_some()
        || f.null_treatment.is_some()
        || f.over.is_some()
    {
        return Err(refuse(format!(
            "'{f}' is not supported: window functions, FILTER and WITHIN GROUP are not"
        )));
    }
    let list = match &f.args {
        FunctionArguments::List(list) if list.clauses.is_empty() => list,
        FunctionArguments::Subquery(_) => {
            return Err(refuse("Subqueries are not supported in ?sql="))
        }
        _ => return Err(refuse(format!("'{f}' needs one column argument"))),
    };
    let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
    let arg = match list.args.as_slice() {
        [FunctionArg::Unnamed(arg)] => arg,
        _ => return Err(refuse(format!("'{f}' needs exactly one argument"))),
    };
    match arg {
        FunctionArgExpr::Wildcard if function == AggregateFunction::Count && !distinct => {
            Ok((AggregateKind::CountRows, "count".to_string()))
        }
        FunctionArgExpr::Expr(e) => {
            let r = scope.column(e)?;
            if !function.applies_to(r.column) {
                return Err(refuse(format!(
                    "{}() does not apply to '{}' of type {}",
                    function.name().to_uppercase(),
                    r.column.name,
                    r.column.ty.name()
                )));
            }
            Ok((
                AggregateKind::Function {
                    function,
                    column: r.column_ref,
                    distinct,
                },
                format!("{}_{}", function.name(), r.column.name),
            ))
        }
        _ => Err(refuse(format!("'{f}' is not supported: name one column"))),
    }
}

/// `ASC` (the default) or `DESC`; `NULLS FIRST/LAST` and `WITH FILL` are
/// refused (NULLs sort first ascending, as in SQL Server).
fn order_direction(o: &OrderByExpr) -> Result<bool, QueryError> {
    if o.with_fill.is_some() || o.options.nulls_first.is_some() {
        return Err(refuse("NULLS FIRST/LAST and WITH FILL are not supported"));
    }
    match &o.options.sort {
        None | Some(OrderBySort::Asc) => Ok(false),
        Some(OrderBySort::Desc) => Ok(true),
        Some(_) => Err(refuse("ORDER BY … USING is not supported")),
    }
}

/// A non-negative integer literal (`TOP 10`, `TOP (10)`, `OFFSET 20`).
pub(super) fn count_literal(e: &Expr, clause: &str) -> Result<u64, QueryError> {
    match e {
        Expr::Nested(inner) => count_literal(inner, clause),
        Expr::Value(v) => match &v.value {
            SqlValue::Number(n, _) => n.parse::<u64>().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            refuse(format!(
                "{clause} needs a non-negative whole number, not {e}"
            ))
        }),
        _ => Err(refuse(format!("{clause} needs a number, not {e}"))),
    }
}
