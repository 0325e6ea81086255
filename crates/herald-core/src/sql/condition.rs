//! `WHERE`: comparisons of a column with a literal, `AND`/`OR`/`NOT`,
//! `[NOT] IN`, `[NOT] LIKE`, `IS [NOT] NULL` and `[NOT] BETWEEN` as a
//! [`Condition`], with each literal converted to its column's type.

use sqlparser::ast::{BinaryOperator, Expr, InTarget, UnaryOperator, Value as SqlValue};

use super::refuse;
use super::scope::{Resolved, Scope};
use crate::error::QueryError;
use crate::query::{CompareOp, Condition};
use crate::schema::ColumnType;
use crate::value::{parse_datetime, parse_guid, Value};

pub(super) fn condition(scope: &Scope<'_>, expr: &Expr) -> Result<Condition, QueryError> {
    Ok(match expr {
        Expr::Nested(inner) => condition(scope, inner)?,
        Expr::BinaryOp {
            left,
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            right,
        } => {
            let (l, r) = (condition(scope, left)?, condition(scope, right)?);
            let and = *op == BinaryOperator::And;
            let mut parts = Vec::new();
            for c in [l, r] {
                match c {
                    Condition::And(inner) if and => parts.extend(inner),
                    Condition::Or(inner) if !and => parts.extend(inner),
                    other => parts.push(other),
                }
            }
            if and {
                Condition::And(parts)
            } else {
                Condition::Or(parts)
            }
        }
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Condition::Not(Box::new(condition(scope, expr)?)),
        Expr::BinaryOp { left, op, right } => {
            let Some(op) = compare_op(op) else {
                return Err(refuse(format!(
                    "The operator {op} is not supported in WHERE"
                )));
            };
            // column op literal, or literal op column (the operator flips).
            let (column, literal, op) = match (is_column(left), is_column(right)) {
                (true, false) => (left, right, op),
                (false, true) => (right, left, flip(op)),
                (true, true) => {
                    return Err(refuse(format!(
                        "Comparing two columns is not supported: '{expr}'"
                    )))
                }
                (false, false) => {
                    return Err(refuse(format!(
                        "A comparison needs a column on one side: '{expr}'"
                    )))
                }
            };
            let column = scope.column(column)?;
            let value = literal_for(&column, literal)?;
            if value.is_null() {
                return Err(refuse(format!(
                    "Compare with NULL using IS NULL or IS NOT NULL: '{expr}'"
                )));
            }
            Condition::Compare {
                column: column.column_ref,
                op,
                value,
            }
        }
        Expr::IsNull(e) | Expr::IsNotNull(e) => Condition::Null {
            column: scope.column(e)?.column_ref,
            negated: matches!(expr, Expr::IsNotNull(_)),
        },
        Expr::In {
            expr: column,
            target,
            negated,
            global,
        } => {
            let InTarget::List(list) = target else {
                return Err(refuse("Subqueries are not supported in ?sql="));
            };
            if *global {
                return Err(refuse("GLOBAL IN is not supported"));
            }
            let column = scope.column(column)?;
            let values = list
                .iter()
                .map(|v| literal_for(&column, v))
                .collect::<Result<Vec<_>, _>>()?;
            if values.iter().any(Value::is_null) {
                return Err(refuse("NULL in an IN list is not supported: use IS NULL"));
            }
            Condition::In {
                column: column.column_ref,
                values,
                negated: *negated,
            }
        }
        Expr::Like {
            negated,
            any,
            expr: column,
            pattern,
            escape_char,
        } => {
            if *any || escape_char.is_some() {
                return Err(refuse("LIKE ANY and LIKE … ESCAPE are not supported"));
            }
            let column = scope.column(column)?;
            if !matches!(
                column.column.ty,
                ColumnType::String { .. } | ColumnType::Memo { .. }
            ) {
                return Err(refuse(format!(
                    "LIKE needs a text column, but '{}' is of type {}",
                    column.column.name,
                    column.column.ty.name()
                )));
            }
            let Some(pattern) = string_literal(pattern) else {
                return Err(refuse(format!("LIKE needs a quoted pattern: '{expr}'")));
            };
            Condition::Like {
                column: column.column_ref,
                pattern: like_pattern(pattern)?,
                negated: *negated,
            }
        }
        Expr::Between {
            expr: column,
            negated,
            low,
            high,
        } => {
            let column = scope.column(column)?;
            let (low, high) = (literal_for(&column, low)?, literal_for(&column, high)?);
            if low.is_null() || high.is_null() {
                return Err(refuse("BETWEEN NULL is not supported"));
            }
            let compare = |op, value| Condition::Compare {
                column: column.column_ref.clone(),
                op,
                value,
            };
            if *negated {
                Condition::Or(vec![
                    compare(CompareOp::Lt, low),
                    compare(CompareOp::Gt, high),
                ])
            } else {
                Condition::And(vec![
                    compare(CompareOp::Ge, low),
                    compare(CompareOp::Le, high),
                ])
            }
        }
        Expr::Subquery(_) | Expr::Exists { .. } => {
            return Err(refuse("Subqueries are not supported in ?sql="))
        }
        Expr::Function(f) => {
            return Err(refuse(format!(
                "The function '{}' is not supported in WHERE",
                f.name
            )))
        }
        other => {
            return Err(refuse(format!(
                "The condition '{other}' is not supported in ?sql="
            )))
        }
    })
}

fn is_column(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

fn compare_op(op: &BinaryOperator) -> Option<CompareOp> {
    Some(match op {
        BinaryOperator::Eq => CompareOp::Eq,
        BinaryOperator::NotEq => CompareOp::Ne,
        BinaryOperator::Lt => CompareOp::Lt,
        BinaryOperator::LtEq => CompareOp::Le,
        BinaryOperator::Gt => CompareOp::Gt,
        BinaryOperator::GtEq => CompareOp::Ge,
        _ => return None,
    })
}

/// `literal op column` is `column flip(op) literal`.
fn flip(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
        other => other,
    }
}

fn string_literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            SqlValue::SingleQuotedString(s) | SqlValue::NationalStringLiteral(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// A T-SQL LIKE pattern (`%`, `_`, no escape character) in the query
/// model's form, where `\` escapes; `[…]` character classes are refused.
fn like_pattern(pattern: &str) -> Result<String, QueryError> {
    if pattern.contains('[') {
        return Err(refuse("LIKE character classes ([…]) are not supported"));
    }
    if pattern.contains('\0') {
        return Err(refuse("A LIKE pattern cannot contain a NUL character"));
    }
    Ok(pattern.replace('\\', "\\\\"))
}

/// A literal converted to the type of `column`.
pub(super) fn literal_for(column: &Resolved<'_>, e: &Expr) -> Result<Value, QueryError> {
    let col = column.column;
    let (number, negative) = match e {
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => (number_text(expr), true),
        other => (number_text(other), false),
    };
    let text = string_literal(e);
    if let Expr::Value(v) = e {
        if v.value == SqlValue::Null {
            return Ok(Value::Null);
        }
    }
    if text.is_some_and(|t| t.contains('\0')) {
        return Err(refuse("A value cannot contain a NUL character (U+0000)"));
    }
    let signed = number.map(|n| {
        if negative {
            format!("-{n}")
        } else {
            n.to_string()
        }
    });
    let value = match &col.ty {
        ColumnType::String { .. } | ColumnType::Memo { .. } => {
            text.map(|t| Value::String(t.to_string()))
        }
        ColumnType::Integer | ColumnType::Choice { .. } => {
            signed.and_then(|n| n.parse::<i64>().ok()).map(Value::Int)
        }
        ColumnType::Decimal | ColumnType::Money => signed
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|f| f.is_finite())
            .map(Value::Decimal),
        ColumnType::Boolean => match e {
            Expr::Value(v) => match &v.value {
                SqlValue::Boolean(b) => Some(Value::Bool(*b)),
                SqlValue::Number(n, _) if n == "1" => Some(Value::Bool(true)),
                SqlValue::Number(n, _) if n == "0" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        },
        ColumnType::DateTime => text
            .and_then(|t| parse_datetime(t.trim()))
            .map(Value::DateTime),
        ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => {
            text.and_then(|t| parse_guid(t.trim())).map(Value::Guid)
        }
    };
    value.ok_or_else(|| {
        refuse(format!(
            "The value {e} is not valid for '{}' of type {}",
            col.name,
            col.ty.name()
        ))
    })
}

fn number_text(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            SqlValue::Number(n, _) => Some(n.as_str()),
            _ => None,
        },
        _ => None,
    }
}
