//! `<filter>` and `<condition>`: the condition operators of FetchXML (see
//! [`parse_fetchxml`](super::parse_fetchxml)) and the conversion of their
//! text values to the column's type.

use chrono::{DateTime, TimeDelta, Utc};
use roxmltree::Node;

use super::nesting::MAX_FETCH_DEPTH;
use super::parser::{column_ref, join, Parser};
use crate::error::QueryError;
use crate::query::{escape_like, CompareOp, Condition};
use crate::schema::{Column, ColumnType, Table};
use crate::value::{parse_datetime, parse_guid, Value};

/// A value of a condition with its position in the XML.
struct RawValue {
    text: String,
    pos: usize,
}

impl Parser<'_> {
    pub(super) fn parse_filter(
        &self,
        node: Node,
        table: &Table,
        alias: Option<&str>,
        depth: usize,
    ) -> Result<Option<Condition>, QueryError> {
        if depth > MAX_FETCH_DEPTH {
            return Err(self.error(
                self.node_pos(node),
                format!("<filter> elements are nested more than {MAX_FETCH_DEPTH} levels deep"),
            ));
        }
        let or = match node
            .attribute("type")
            .map(|t| t.trim().to_ascii_lowercase())
        {
            None => false,
            Some(t) if t == "and" => false,
            Some(t) if t == "or" => true,
            Some(t) => {
                return Err(self.error(
                    self.attr_pos(node, "type"),
                    format!("The filter type '{t}' is not valid (use and or or)"),
                ))
            }
        };
        let mut items = Vec::new();
        for child in node.children().filter(Node::is_element) {
            match child.tag_name().name() {
                "condition" => items.push(self.parse_condition(child, table, alias)?),
                "filter" => {
                    if let Some(c) = self.parse_filter(child, table, alias, depth + 1)? {
                        items.push(c);
                    }
                }
                _ => return Err(self.unknown_element(child, "filter")),
            }
        }
        Ok(join(items, if or { Condition::Or } else { Condition::And }))
    }

    fn parse_condition(
        &self,
        node: Node,
        table: &Table,
        alias: Option<&str>,
    ) -> Result<Condition, QueryError> {
        self.reject_attributes(node, &["valueof"])?;
        let (table, alias) = self.target(node, table, alias)?;
        let col = self.column(node, "attribute", table)?;
        let column = column_ref(alias.as_deref(), &col.name);
        let operator = self.required(node, "operator")?;
        let op_pos = self.attr_pos(node, "operator");

        let mut values = Vec::new();
        if let Some(v) = node.attribute("value") {
            values.push(RawValue {
                text: v.to_string(),
                pos: self.attr_pos(node, "value"),
            });
        }
        for child in node.children().filter(Node::is_element) {
            if child.tag_name().name() != "value" {
                return Err(self.unknown_element(child, "condition"));
            }
            values.push(RawValue {
                text: child.text().unwrap_or("").to_string(),
                pos: self.node_pos(child),
            });
        }
        // XML cannot carry U+0000 (the XML parser refuses it), but check
        // here too: no store can keep it in text.
        if let Some(v) = values.iter().find(|v| v.text.contains('\0')) {
            return Err(self.error(
                v.pos,
                "A condition value cannot contain a NUL character (U+0000)",
            ));
        }
        let count_error = |wanted: &str| {
            self.error(
                op_pos,
                format!(
                    "The operator '{operator}' needs {wanted}, but the condition on '{}' has {}",
                    col.name,
                    values.len()
                ),
            )
        };
        let one = |values: &[RawValue]| -> Result<Value, QueryError> {
            match values {
                [v] => self.value(col, v),
                _ => Err(count_error("exactly one value")),
            }
        };
        let compare = |op, value| Condition::Compare {
            column: column.clone(),
            op,
            value,
        };
        let like = |pattern: String, negated| -> Result<Condition, QueryError> {
            if !is_text(col) {
                return Err(self.error(
                    op_pos,
                    format!(
                        "The operator '{operator}' needs a text column, but '{}' is of type {}",
                        col.name,
                        col.ty.name()
                    ),
                ));
            }
            Ok(Condition::Like {
                column: column.clone(),
                pattern,
                negated,
            })
        };
        let single_text = |values: &[RawValue]| -> Result<String, QueryError> {
            match values {
                [v] => Ok(v.text.clone()),
                _ => Err(count_error("exactly one value")),
            }
        };

        let cond = match operator.trim() {
            "eq" => compare(CompareOp::Eq, one(&values)?),
            "ne" | "neq" => compare(CompareOp::Ne, one(&values)?),
            "lt" => compare(CompareOp::Lt, one(&values)?),
            "le" => compare(CompareOp::Le, one(&values)?),
            "gt" => compare(CompareOp::Gt, one(&values)?),
            "ge" => compare(CompareOp::Ge, one(&values)?),
            "like" => like(single_text(&values)?, false)?,
            "not-like" => like(single_text(&values)?, true)?,
            "begins-with" => like(format!("{}%", escape_like(&single_text(&values)?)), false)?,
            "not-begin-with" => like(format!("{}%", escape_like(&single_text(&values)?)), true)?,
            "ends-with" => like(format!("%{}", escape_like(&single_text(&values)?)), false)?,
            "not-end-with" => like(format!("%{}", escape_like(&single_text(&values)?)), true)?,
            op @ ("in" | "not-in") => {
                if values.is_empty() {
                    return Err(count_error("at least one <value>"));
                }
                let vals = values
                    .iter()
                    .map(|v| self.value(col, v))
                    .collect::<Result<Vec<_>, _>>()?;
                Condition::In {
                    column: column.clone(),
                    values: vals,
                    negated: op == "not-in",
                }
            }
            op @ ("null" | "not-null") => {
                if !values.is_empty() {
                    return Err(count_error("no value"));
                }
                Condition::Null {
                    column: column.clone(),
                    negated: op == "not-null",
                }
            }
            op @ ("between" | "not-between") => {
                let [low, high] = values.as_slice() else {
                    return Err(count_error("exactly two <value> elements"));
                };
                let (low, high) = (self.value(col, low)?, self.value(col, high)?);
                if op == "between" {
                    Condition::And(vec![
                        compare(CompareOp::Ge, low),
                        compare(CompareOp::Le, high),
                    ])
                } else {
                    Condition::Or(vec![
                        compare(CompareOp::Lt, low),
                        compare(CompareOp::Gt, high),
                    ])
                }
            }
            op @ ("on" | "on-or-after" | "on-or-before") => {
                if col.ty != ColumnType::DateTime {
                    return Err(self.error(
                        op_pos,
                        format!(
                            "The operator '{op}' needs a date-time column, but '{}' is of type {}",
                            col.name,
                            col.ty.name()
                        ),
                    ));
                }
                let [v] = values.as_slice() else {
                    return Err(count_error("exactly one value"));
                };
                let start = self.datetime(col, v)?;
                // A date without a time means the whole day.
                let whole_day = v.text.trim().len() == 10;
                let next_day = || {
                    start
                        .checked_add_signed(TimeDelta::days(1))
                        .map(Value::DateTime)
                        .ok_or_else(|| self.error(v.pos, "The date is out of range"))
                };
                match (op, whole_day) {
                    ("on-or-after", _) => compare(CompareOp::Ge, Value::DateTime(start)),
                    ("on-or-before", true) => compare(CompareOp::Lt, next_day()?),
                    ("on-or-before", false) => compare(CompareOp::Le, Value::DateTime(start)),
                    (_, true) => Condition::And(vec![
                        compare(CompareOp::Ge, Value::DateTime(start)),
                        compare(CompareOp::Lt, next_day()?),
                    ]),
                    (_, false) => compare(CompareOp::Eq, Value::DateTime(start)),
                }
            }
            other => {
                return Err(self.error(
                    op_pos,
                    format!("The condition operator '{other}' is not supported"),
                ))
            }
        };
        Ok(cond)
    }

    fn datetime(&self, col: &Column, v: &RawValue) -> Result<DateTime<Utc>, QueryError> {
        match self.value(col, v)? {
            Value::DateTime(t) => Ok(t),
            _ => Err(self.error(v.pos, "expected a date-time")),
        }
    }

    /// Convert a condition value (text) to the column's type.
    fn value(&self, col: &Column, v: &RawValue) -> Result<Value, QueryError> {
        let t = v.text.trim();
        let (value, expected) = match &col.ty {
            ColumnType::String { .. } | ColumnType::Memo { .. } => {
                (Some(Value::String(v.text.clone())), "text")
            }
            ColumnType::Integer | ColumnType::Choice { .. } => {
                (t.parse::<i64>().ok().map(Value::Int), "an integer")
            }
            ColumnType::Decimal | ColumnType::Money => (
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Value::Decimal),
                "a number",
            ),
            ColumnType::Boolean => (
                match t.to_ascii_lowercase().as_str() {
                    "true" | "1" => Some(Value::Bool(true)),
                    "false" | "0" => Some(Value::Bool(false)),
                    _ => None,
                },
                "true/false or 1/0",
            ),
            ColumnType::DateTime => (
                parse_datetime(t).map(Value::DateTime),
                "a date or date-time",
            ),
            ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => {
                (parse_guid(t).map(Value::Guid), "a GUID")
            }
        };
        value.ok_or_else(|| {
            self.error(
                v.pos,
                format!(
                    "The value '{}' is not valid for '{}' of type {}: expected {expected}",
                    v.text,
                    col.name,
                    col.ty.name()
                ),
            )
        })
    }
}

fn is_text(col: &Column) -> bool {
    matches!(col.ty, ColumnType::String { .. } | ColumnType::Memo { .. })
}
