//! An aggregate query ([`Aggregation`]) as one `SELECT … GROUP BY …`: the
//! same table, joins and filters as a plain select (shared with the parent
//! module), each output as an expression whose value is decoded under the
//! output's alias, groups sorted by the client's alias orders and then by
//! every grouping key, so pages over groups are stable.
//!
//! Both stores run the same text but for date groupings
//! ([`date_part`]). Sums of integers and counts are cast to `BIGINT` and
//! averages and sums of decimals to `DOUBLE PRECISION`, so PostgreSQL's
//! `numeric` results decode as on SQLite.

use herald_core::query::{AggregateColumn, AggregateFunction, AggregateKind, Aggregation, Query};
use herald_core::schema::{Column, ColumnType};
use herald_core::Schema;

use super::scope::Scope;
use super::select::{append, limit_offset, sources, where_clause, OutputColumn, Select, Sources};
use super::{ident, Sql};
use crate::dialect::Dialect;
use crate::error::StoreError;
use herald_core::query::DateGrouping;

/// Build the SELECT of an aggregate query; `limit`/`offset` page its groups.
pub(super) fn select(
    dialect: Dialect,
    schema: &Schema,
    query: &Query,
    aggregation: &Aggregation,
    limit: Option<u64>,
    offset: u64,
) -> Result<Select, StoreError> {
    // The links' own selects and orders do not apply: the outputs are the
    // aggregation's.
    let Sources {
        table,
        scope,
        joins,
        link_filters,
        ..
    } = sources(dialect, schema, query)?;

    let mut outputs: Vec<(String, OutputColumn)> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    for column in &aggregation.columns {
        let (expr, decoded) = output(&scope, column)?;
        if matches!(column.kind, AggregateKind::GroupBy { .. }) {
            groups.push(expr.clone());
        }
        outputs.push((
            expr,
            OutputColumn {
                key: column.alias.clone(),
                column: decoded,
            },
        ));
    }
    if outputs.is_empty() {
        return Err(StoreError::Invalid(
            "an aggregate query with no outputs".into(),
        ));
    }

    let mut sql = Sql::default();
    sql.push("SELECT ");
    let list: Vec<String> = outputs
        .iter()
        .map(|(expr, out)| format!("{expr} AS {}", ident(&out.key)))
        .collect();
    sql.push(&list.join(", "));
    sql.push(" FROM ").push(&super::source(table)).push(" t0");
    append(&mut sql, &joins);
    where_clause(&scope, query.filter.as_ref(), &link_filters, &mut sql)?;
    if !groups.is_empty() {
        sql.push(" GROUP BY ").push(&groups.join(", "));
    }

    let mut order: Vec<String> = Vec::new();
    for o in &aggregation.order {
        let (expr, _) = outputs
            .iter()
            .find(|(_, out)| out.key == o.alias)
            .ok_or_else(|| StoreError::Invalid(format!("order by unknown alias '{}'", o.alias)))?;
        order.push(format!(
            "{expr} {}",
            if o.descending {
                "DESC NULLS LAST"
            } else {
                "ASC NULLS FIRST"
            }
        ));
    }
    order.extend(groups.iter().map(|g| format!("{g} ASC NULLS FIRST")));
    if !order.is_empty() {
        sql.push(" ORDER BY ").push(&order.join(", "));
    }
    limit_offset(&mut sql, limit, offset);
    Ok(Select {
        sql,
        columns: outputs.into_iter().map(|(_, out)| out).collect(),
    })
}

/// The SQL expression of one output and the column type its value
/// decodes as.
fn output(scope: &Scope<'_>, column: &AggregateColumn) -> Result<(String, Column), StoreError> {
    let integer = |name: &str| Column::new(name, ColumnType::Integer);
    Ok(match &column.kind {
        AggregateKind::CountRows => ("COUNT(*)".to_string(), integer(&column.alias)),
        AggregateKind::GroupBy { column: c, date } => {
            let (expr, source) = scope.resolve(c)?;
            match date {
                None => (expr, source.clone()),
                Some(g) => (date_part(scope.dialect, &expr, *g), integer(&column.alias)),
            }
        }
        AggregateKind::Function {
            function,
            column: c,
            distinct,
        } => {
            let (expr, source) = scope.resolve(c)?;
            if !function.applies_to(source) {
                return Err(StoreError::Invalid(format!(
                    "{} does not apply to column '{}'",
                    function.name(),
                    source.name
                )));
            }
            let arg = if *distinct {
                format!("DISTINCT {expr}")
            } else {
                expr
            };
            match function {
                AggregateFunction::Count => (format!("COUNT({arg})"), integer(&column.alias)),
                AggregateFunction::Sum if source.ty == ColumnType::Integer => (
                    format!("CAST(SUM({arg}) AS BIGINT)"),
                    integer(&column.alias),
                ),
                AggregateFunction::Sum => (
                    format!("CAST(SUM({arg}) AS DOUBLE PRECISION)"),
                    source.clone(),
                ),
                AggregateFunction::Avg => (
                    format!("CAST(AVG({arg}) AS DOUBLE PRECISION)"),
                    Column::new(&column.alias, ColumnType::Decimal),
                ),
                AggregateFunction::Min => (format!("MIN({arg})"), source.clone()),
                AggregateFunction::Max => (format!("MAX({arg})"), source.clone()),
            }
        }
    })
}

/// A part of a date-time column (stored as milliseconds since the epoch,
/// UTC) as an integer: year, quarter 1–4, month 1–12, ISO week 1–53, day
/// of the month.
fn date_part(dialect: Dialect, expr: &str, grouping: DateGrouping) -> String {
    match dialect {
        Dialect::Sqlite => {
            let seconds = format!("{expr} / 1000, 'unixepoch'");
            let part = |f: &str| format!("CAST(strftime('{f}', {seconds}) AS BIGINT)");
            match grouping {
                DateGrouping::Year => part("%Y"),
                DateGrouping::Quarter => format!("(({} + 2) / 3)", part("%m")),
                DateGrouping::Month => part("%m"),
                DateGrouping::Day => part("%d"),
                // The ISO week is the week of its Thursday.
                DateGrouping::Week => format!(
                    "((CAST(strftime('%j', date({seconds}, '-3 days', 'weekday 4')) AS BIGINT) - 1) / 7 + 1)"
                ),
            }
        }
        Dialect::Postgres => {
            let field = match grouping {
                DateGrouping::Year => "YEAR",
                DateGrouping::Quarter => "QUARTER",
                DateGrouping::Month => "MONTH",
                DateGrouping::Week => "WEEK",
                DateGrouping::Day => "DAY",
            };
            format!(
                "CAST(EXTRACT({field} FROM (to_timestamp({expr} / 1000.0) AT TIME ZONE 'UTC')) AS BIGINT)"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::query::{AliasOrder, ColumnRef};

    fn query() -> Query {
        let mut q = Query::all("contact");
        q.aggregate = Some(Aggregation {
            columns: vec![
                AggregateColumn {
                    alias: "last".into(),
                    kind: AggregateKind::GroupBy {
                        column: ColumnRef::new("lastname"),
                        date: None,
                    },
                },
                AggregateColumn {
                    alias: "year".into(),
                    kind: AggregateKind::GroupBy {
                        column: ColumnRef::new("createdon"),
                        date: Some(DateGrouping::Year),
                    },
                },
                AggregateColumn {
                    alias: "n".into(),
                    kind: AggregateKind::CountRows,
                },
            ],
            order: vec![AliasOrder {
                alias: "n".into(),
                descending: true,
            }],
        });
        q
    }

    #[test]
    fn groups_count_and_order_by_alias_then_by_every_group() {
        let schema = Schema::build(&[]).unwrap();
        let q = query();
        let s = crate::sql::select(Dialect::Sqlite, &schema, &q, Some(2), 2).unwrap();
        assert_eq!(
            s.sql.text,
            "SELECT t0.\"lastname\" AS \"last\", CAST(strftime('%Y', t0.\"createdon\" / 1000, 'unixepoch') AS BIGINT) AS \"year\", \
             COUNT(*) AS \"n\" FROM \"contact\" t0 GROUP BY t0.\"lastname\", CAST(strftime('%Y', t0.\"createdon\" / 1000, 'unixepoch') AS BIGINT) \
             ORDER BY COUNT(*) DESC NULLS LAST, t0.\"lastname\" ASC NULLS FIRST, \
             CAST(strftime('%Y', t0.\"createdon\" / 1000, 'unixepoch') AS BIGINT) ASC NULLS FIRST LIMIT $1 OFFSET $2"
        );
        let keys: Vec<&str> = s.columns.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["last", "year", "n"]);
        let pg = crate::sql::select(Dialect::Postgres, &schema, &q, None, 0).unwrap();
        assert!(
            pg.sql.text.contains(
                "EXTRACT(YEAR FROM (to_timestamp(t0.\"createdon\" / 1000.0) AT TIME ZONE 'UTC'))"
            ),
            "{}",
            pg.sql.text
        );
    }

    #[test]
    fn refuses_a_sum_of_text() {
        let schema = Schema::build(&[]).unwrap();
        let mut q = Query::all("contact");
        q.aggregate = Some(Aggregation {
            columns: vec![AggregateColumn {
                alias: "s".into(),
                kind: AggregateKind::Function {
                    function: AggregateFunction::Sum,
                    column: ColumnRef::new("lastname"),
                    distinct: false,
                },
            }],
            order: vec![],
        });
        assert!(crate::sql::select(Dialect::Sqlite, &schema, &q, None, 0).is_err());
    }
}
