//! The shape of the one statement: a `SELECT` query whose every part that
//! the subset does not use is absent. sqlparser parses far more than the
//! subset (other dialects' clauses land in the same structs), so each such
//! field is checked to be empty rather than trusted to be.

use sqlparser::ast::{
    Distinct, GroupByExpr, LimitClause, Query as SqlQuery, Select, SelectFlavor, SetExpr, Statement,
};

use super::projection::{self, Limits};
use super::refuse;
use super::scope::Scope;
use crate::error::QueryError;
use crate::query::Query;
use crate::schema::Schema;

pub(super) fn translate(schema: &Schema, statement: &Statement) -> Result<Query, QueryError> {
    let Statement::Query(query) = statement else {
        return Err(refuse(format!(
            "Only SELECT is supported in ?sql= (it is read-only), not '{}'",
            first_words(&statement.to_string())
        )));
    };
    let select = plain_select(query)?;
    let scope = Scope::from_clause(schema, &select.from)?;
    let limits = limits(query, select)?;
    let group_by = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs.as_slice(),
        _ => {
            return Err(refuse(
                "GROUP BY ALL and GROUP BY modifiers are not supported",
            ))
        }
    };
    let order_by = match &query.order_by {
        None => &[][..],
        Some(o) => {
            if o.interpolate.is_some() {
                return Err(refuse("INTERPOLATE is not supported"));
            }
            match &o.kind {
                sqlparser::ast::OrderByKind::Expressions(e) => e.as_slice(),
                sqlparser::ast::OrderByKind::All(_) => {
                    return Err(refuse("ORDER BY ALL is not supported"))
                }
            }
        }
    };
    let distinct = match &select.distinct {
        None | Some(Distinct::All) => false,
        Some(Distinct::Distinct) => true,
        Some(Distinct::On(_)) => return Err(refuse("DISTINCT ON is not supported")),
    };
    projection::build(
        &scope,
        &select.projection,
        select.selection.as_ref(),
        group_by,
        order_by,
        distinct,
        limits,
    )
}

/// The query's one `SELECT`, with nothing the subset does not use.
fn plain_select(query: &SqlQuery) -> Result<&Select, QueryError> {
    if query.with.is_some() {
        return Err(refuse("WITH (common table expressions) is not supported"));
    }
    if !query.locks.is_empty()
        || query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return Err(refuse(
            "Only SELECT … FROM … WHERE … GROUP BY … ORDER BY … OFFSET … FETCH is supported",
        ));
    }
    let select = match query.body.as_ref() {
        SetExpr::Select(s) => s,
        SetExpr::SetOperation { op, .. } => {
            return Err(refuse(format!("{op} is not supported in ?sql=")))
        }
        SetExpr::Query(_) => return Err(refuse("Subqueries are not supported in ?sql=")),
        SetExpr::Values(_) => return Err(refuse("VALUES is not supported in ?sql=")),
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            return Err(refuse("?sql= is read-only: only SELECT is supported"))
        }
        SetExpr::Table(_) => return Err(refuse("TABLE is not supported in ?sql=")),
    };
    if select.into.is_some() {
        return Err(refuse(
            "SELECT … INTO is not supported (?sql= is read-only)",
        ));
    }
    if select.having.is_some() {
        return Err(refuse("HAVING is not supported in ?sql="));
    }
    if !select.optimizer_hints.is_empty()
        || select.select_modifiers.is_some()
        || select.exclude.is_some()
        || !select.lateral_views.is_empty()
        || select.prewhere.is_some()
        || !select.connect_by.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || !select.named_window.is_empty()
        || select.qualify.is_some()
        || select.value_table_mode.is_some()
        || select.flavor != SelectFlavor::Standard
    {
        return Err(refuse(
            "Only SELECT … FROM … WHERE … GROUP BY … ORDER BY … OFFSET … FETCH is supported",
        ));
    }
    Ok(select)
}

/// `TOP n`, `OFFSET n ROWS` and `FETCH NEXT m ROWS ONLY`.
fn limits(query: &SqlQuery, select: &Select) -> Result<Limits, QueryError> {
    let mut limits = Limits::default();
    if let Some(top) = &select.top {
        if top.percent || top.with_ties {
            return Err(refuse("TOP … PERCENT and WITH TIES are not supported"));
        }
        let quantity = match &top.quantity {
            Some(sqlparser::ast::TopQuantity::Constant(n)) => Some(*n),
            Some(sqlparser::ast::TopQuantity::Expr(e)) => {
                Some(projection::count_literal(e, "TOP")?)
            }
            None => None,
        };
        limits.top = quantity;
    }
    match &query.limit_clause {
        None => {}
        Some(LimitClause::LimitOffset {
            limit: None,
            offset: Some(offset),
            limit_by,
        }) if limit_by.is_empty() => {
            limits.skip = Some(projection::count_literal(&offset.value, "OFFSET")?);
        }
        Some(_) => {
            return Err(refuse(
                "LIMIT is not supported: use TOP n, or OFFSET n ROWS FETCH NEXT m ROWS ONLY",
            ))
        }
    }
    if let Some(fetch) = &query.fetch {
        if fetch.percent || fetch.with_ties {
            return Err(refuse("FETCH … PERCENT and WITH TIES are not supported"));
        }
        if limits.top.is_some() {
            return Err(refuse("TOP and FETCH NEXT cannot be used together"));
        }
        limits.top = match &fetch.quantity {
            Some(e) => Some(projection::count_literal(e, "FETCH NEXT")?),
            None => Some(1),
        };
    }
    Ok(limits)
}

/// The first words of a statement, to name it in an error.
fn first_words(text: &str) -> String {
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}
