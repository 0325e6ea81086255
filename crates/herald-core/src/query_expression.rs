//! Dataverse's `QueryExpression` as the Web API writes it in JSON (the
//! `QuerySet` of a `BulkDelete`), bound to the schema as a [`Query`]: the
//! table (`EntityName`), and its `Criteria` — conditions with the operators
//! herald's filter model has (`Equal`, `NotEqual`, `GreaterThan`,
//! `GreaterEqual`, `LessThan`, `LessEqual`, `Like`, `NotLike`, `In`,
//! `NotIn`, `Null`, `NotNull`, by name or by their SDK number) in nested
//! `And` / `Or` filters. Everything else (other operators, `LinkEntities`,
//! conditions on another entity) is refused with a message naming it, never
//! ignored: a bulk delete that matched more than asked would be a disaster.
//!
//! Values come as plain JSON or as the Web API's typed objects
//! `{"Value": "1", "Type": "System.Int32"}`; either is typed by the column.

use serde_json::Value as Json;

use crate::query::{ColumnRef, CompareOp, Condition};
use crate::schema::{Column, ColumnType, Schema, Table};
use crate::value::{value_from_json, Value};
use crate::Query;

/// Why a QueryExpression cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryExpressionError(pub String);

type Result<T> = std::result::Result<T, QueryExpressionError>;

fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(QueryExpressionError(message.into()))
}

/// The operators herald maps, as (name, SDK number).
pub const OPERATORS: [(&str, i64); 12] = [
    ("Equal", 0),
    ("NotEqual", 1),
    ("GreaterThan", 2),
    ("LessThan", 3),
    ("GreaterEqual", 4),
    ("LessEqual", 5),
    ("Like", 6),
    ("NotLike", 7),
    ("In", 8),
    ("NotIn", 9),
    ("Null", 12),
    ("NotNull", 13),
];

/// A key of a JSON object, matched without regard to case (clients write
/// `EntityName`, some `entityName`).
fn field<'a>(obj: &'a serde_json::Map<String, Json>, name: &str) -> Option<&'a Json> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// Bind one QueryExpression: a query of the table's primary ids.
pub fn parse(schema: &Schema, json: &Json) -> Result<Query> {
    let Some(obj) = json.as_object() else {
        return err("A QueryExpression must be a JSON object with EntityName and Criteria");
    };
    let Some(name) = field(obj, "EntityName").and_then(Json::as_str) else {
        return err("A QueryExpression needs EntityName (the table's logical name)");
    };
    let Some(table) = schema.table(&name.to_ascii_lowercase()) else {
        return err(format!("The entity '{name}' does not exist"));
    };
    if let Some(links) = field(obj, "LinkEntities") {
        if links.as_array().is_some_and(|l| !l.is_empty()) {
            return err("LinkEntities are not supported in a BulkDelete QueryExpression: use conditions on the entity's own attributes");
        }
    }
    let filter = match field(obj, "Criteria") {
        Some(c) => filter(table, c)?,
        None => None,
    };
    Ok(Query {
        table: table.logical_name.clone(),
        select: vec![table.primary_id.clone()],
        filter,
        ..Query::default()
    })
}

/// A FilterExpression: its conditions and nested filters joined by its
/// FilterOperator (`And` when absent). `None` when it holds nothing.
fn filter(table: &Table, json: &Json) -> Result<Option<Condition>> {
    let Some(obj) = json.as_object() else {
        return err("Criteria (a FilterExpression) must be a JSON object");
    };
    let or = match field(obj, "FilterOperator") {
        None => false,
        Some(Json::String(s)) if s.eq_ignore_ascii_case("and") => false,
        Some(Json::String(s)) if s.eq_ignore_ascii_case("or") => true,
        Some(Json::Number(n)) if n.as_i64() == Some(0) => false,
        Some(Json::Number(n)) if n.as_i64() == Some(1) => true,
        Some(other) => return err(format!("FilterOperator {other} is not And or Or")),
    };
    let mut parts = Vec::new();
    if let Some(conditions) = field(obj, "Conditions") {
        let Some(list) = conditions.as_array() else {
            return err("Conditions must be an array");
        };
        for c in list {
            parts.push(condition(table, c)?);
        }
    }
    if let Some(filters) = field(obj, "Filters") {
        let Some(list) = filters.as_array() else {
            return err("Filters must be an array");
        };
        for f in list {
            parts.extend(filter(table, f)?);
        }
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ if or => Some(Condition::Or(parts)),
        _ => Some(Condition::And(parts)),
    })
}

fn operator(json: Option<&Json>) -> Result<&'static str> {
    let known = || {
        OPERATORS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match json {
        Some(Json::String(s)) => OPERATORS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(n, _)| *n)
            .ok_or_else(|| {
                QueryExpressionError(format!(
                    "The condition operator '{s}' is not supported by herald: use one of {}",
                    known()
                ))
            }),
        Some(Json::Number(n)) => OPERATORS
            .iter()
            .find(|(_, v)| Some(*v) == n.as_i64())
            .map(|(n, _)| *n)
            .ok_or_else(|| {
                QueryExpressionError(format!(
                    "The condition operator {n} is not supported by herald: use one of {}",
                    known()
                ))
            }),
        _ => err("A condition needs an Operator"),
    }
}

/// One ConditionExpression.
fn condition(table: &Table, json: &Json) -> Result<Condition> {
    let Some(obj) = json.as_object() else {
        return err("A condition must be a JSON object with AttributeName, Operator and Values");
    };
    if let Some(entity) = field(obj, "EntityName").and_then(Json::as_str) {
        if !entity.is_empty() && !entity.eq_ignore_ascii_case(&table.logical_name) {
            return err(format!(
                "A condition on another entity ('{entity}') is not supported: conditions apply to '{}'",
                table.logical_name
            ));
        }
    }
    let Some(name) = field(obj, "AttributeName").and_then(Json::as_str) else {
        return err("A condition needs AttributeName");
    };
    let Some(col) = table
        .readable_column(&name.to_ascii_lowercase())
        .or_else(|| table.column(&name.to_ascii_lowercase()))
    else {
        return err(format!(
            "'{}' has no attribute '{name}'",
            table.logical_name
        ));
    };
    let op = operator(field(obj, "Operator"))?;
    let values: Vec<&Json> = match field(obj, "Values") {
        None => Vec::new(),
        Some(Json::Array(v)) => v.iter().collect(),
        Some(_) => {
            return err(format!(
                "Values of the condition on '{name}' must be an array"
            ))
        }
    };
    let column = ColumnRef::new(col.name.clone());
    let typed = |v: &Json| typed_value(col, v);
    let one = || -> Result<Value> {
        match values.as_slice() {
            [v] => match typed(v)? {
                Value::Null => err(format!(
                    "The condition {op} on '{name}' has a null value: use the Null or NotNull operator"
                )),
                v => Ok(v),
            },
            _ => err(format!(
                "The condition {op} on '{name}' needs exactly one value, got {}",
                values.len()
            )),
        }
    };
    let compare = |op: CompareOp| -> Result<Condition> {
        Ok(Condition::Compare {
            column: column.clone(),
            op,
            value: one()?,
        })
    };
    match op {
        "Equal" => compare(CompareOp::Eq),
        "NotEqual" => compare(CompareOp::Ne),
        "GreaterThan" => compare(CompareOp::Gt),
        "GreaterEqual" => compare(CompareOp::Ge),
        "LessThan" => compare(CompareOp::Lt),
        "LessEqual" => compare(CompareOp::Le),
        "Like" | "NotLike" => match one()? {
            Value::String(pattern) => Ok(Condition::Like {
                column: column.clone(),
                pattern,
                negated: op == "NotLike",
            }),
            _ => err(format!("{op} needs a text attribute; '{name}' is not one")),
        },
        "In" | "NotIn" => {
            if values.is_empty() {
                return err(format!(
                    "The condition {op} on '{name}' needs at least one value"
                ));
            }
            let values = values
                .iter()
                .map(|v| typed(v))
                .collect::<Result<Vec<_>>>()?;
            Ok(Condition::In {
                column,
                values,
                negated: op == "NotIn",
            })
        }
        "Null" | "NotNull" => {
            if !values.is_empty() {
                return err(format!("The condition {op} on '{name}' takes no values"));
            }
            Ok(Condition::Null {
                column,
                negated: op == "NotNull",
            })
        }
        _ => err(format!("The condition operator '{op}' is not supported")),
    }
}

/// A condition value typed by its column: plain JSON, or the Web API's
/// `{"Value": …, "Type": "System.…"}` whose text is read as the column's
/// type (`"1"` for a whole number, `"true"` for a yes/no).
fn typed_value(col: &Column, json: &Json) -> Result<Value> {
    let inner = match json {
        Json::Object(o) => field(o, "Value").cloned().unwrap_or(Json::Null),
        other => other.clone(),
    };
    let numeric = matches!(
        col.ty,
        ColumnType::Integer
            | ColumnType::Decimal
            | ColumnType::Money
            | ColumnType::Boolean
            | ColumnType::Choice { .. }
    );
    let inner = match (&inner, numeric) {
        (Json::String(s), true) => serde_json::from_str::<Json>(s.trim()).unwrap_or(inner),
        _ => inner,
    };
    value_from_json(col, &inner).map_err(|e| QueryExpressionError(e.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::build(&[]).expect("schema")
    }

    #[test]
    fn conditions_and_filters_bind_to_the_filter_model() {
        let s = schema();
        let q = parse(
            &s,
            &json!({
                "EntityName": "contact",
                "ColumnSet": {"AllColumns": true},
                "Criteria": {
                    "FilterOperator": "Or",
                    "Conditions": [
                        {"AttributeName": "lastname", "Operator": "Equal", "Values": [{"Value": "Doe", "Type": "System.String"}]},
                        {"AttributeName": "emailaddress1", "Operator": "Null"}
                    ],
                    "Filters": [{
                        "FilterOperator": "And",
                        "Conditions": [
                            {"AttributeName": "firstname", "Operator": "Like", "Values": ["A%"]},
                            {"AttributeName": "firstname", "Operator": 9, "Values": ["Ann", "Abe"]}
                        ]
                    }]
                }
            }),
        )
        .unwrap();
        assert_eq!(q.table, "contact");
        assert_eq!(q.select, vec!["contactid".to_string()]);
        let Some(Condition::Or(parts)) = q.filter else {
            panic!("{:?}", q.filter)
        };
        assert_eq!(parts.len(), 3);
        assert_eq!(
            parts[0],
            Condition::Compare {
                column: ColumnRef::new("lastname"),
                op: CompareOp::Eq,
                value: Value::String("Doe".into())
            }
        );
        assert!(matches!(&parts[2], Condition::And(a) if a.len() == 2));
    }

    #[test]
    fn typed_values_follow_the_column() {
        let s = schema();
        let q = parse(
            &s,
            &json!({"EntityName": "account", "Criteria": {"Conditions": [
                {"AttributeName": "numberofemployees", "Operator": "GreaterThan", "Values": [{"Value": "10", "Type": "System.Int32"}]}
            ]}}),
        )
        .unwrap();
        assert_eq!(
            q.filter,
            Some(Condition::Compare {
                column: ColumnRef::new("numberofemployees"),
                op: CompareOp::Gt,
                value: Value::Int(10)
            })
        );
    }

    #[test]
    fn no_criteria_means_every_row() {
        let q = parse(&schema(), &json!({"EntityName": "lead"})).unwrap();
        assert_eq!(q.filter, None);
    }

    #[test]
    fn what_cannot_be_mapped_is_refused() {
        let s = schema();
        for (body, needle) in [
            (json!([]), "JSON object"),
            (json!({"Criteria": {}}), "EntityName"),
            (json!({"EntityName": "nosuch"}), "does not exist"),
            (
                json!({"EntityName": "contact", "Criteria": {"Conditions": [{"AttributeName": "createdon", "Operator": "LastXHours", "Values": [1]}]}}),
                "'LastXHours' is not supported",
            ),
            (
                json!({"EntityName": "contact", "Criteria": {"Conditions": [{"AttributeName": "createdon", "Operator": 10, "Values": [1, 2]}]}}),
                "10 is not supported",
            ),
            (
                json!({"EntityName": "contact", "Criteria": {"Conditions": [{"AttributeName": "nosuch", "Operator": "Equal", "Values": [1]}]}}),
                "no attribute 'nosuch'",
            ),
            (
                json!({"EntityName": "contact", "Criteria": {"Conditions": [{"AttributeName": "lastname", "Operator": "Equal", "Values": []}]}}),
                "exactly one value",
            ),
            (
                json!({"EntityName": "contact", "Criteria": {"Conditions": [{"AttributeName": "lastname", "Operator": "Null", "Values": ["x"]}]}}),
                "takes no values",
            ),
            (
                json!({"EntityName": "contact", "Criteria": {"Conditions": [{"AttributeName": "lastname", "Operator": "Equal", "Values": [null]}]}}),
                "use the Null",
            ),
            (
                json!({"EntityName": "contact", "Criteria": {"FilterOperator": "Xor"}}),
                "not And or Or",
            ),
            (
                json!({"EntityName": "contact", "LinkEntities": [{"LinkToEntityName": "account"}]}),
                "LinkEntities",
            ),
            (
                json!({"EntityName": "contact", "Criteria": {"Conditions": [{"EntityName": "account", "AttributeName": "name", "Operator": "Equal", "Values": ["x"]}]}}),
                "another entity",
            ),
            (
                json!({"EntityName": "account", "Criteria": {"Conditions": [{"AttributeName": "numberofemployees", "Operator": "Equal", "Values": ["many"]}]}}),
                "numberofemployees",
            ),
        ] {
            let e = parse(&s, &body).expect_err(&body.to_string());
            assert!(e.0.contains(needle), "{body}: {e}");
        }
    }
}
