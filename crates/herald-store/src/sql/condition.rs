//! The WHERE clause of a query: comparisons, null tests, `in`, LIKE
//! patterns and the logical operators, each operand folded as the module
//! documentation of `sql` says and every value bound.

use herald_core::query::{CompareOp, Condition};

use super::scope::{operand_param, Scope};
use super::{fold, folds, Param, Sql};
use crate::error::StoreError;

pub(super) fn condition(scope: &Scope<'_>, c: &Condition, sql: &mut Sql) -> Result<(), StoreError> {
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

    #[test]
    fn a_trailing_lone_escape_becomes_a_literal_backslash() {
        assert_eq!(close_escape("a\\"), "a\\\\");
        assert_eq!(close_escape("a\\\\"), "a\\\\");
        assert_eq!(close_escape("a\\\\\\"), "a\\\\\\\\");
        assert_eq!(close_escape("a\\%"), "a\\%");
        assert_eq!(close_escape(""), "");
    }
}
