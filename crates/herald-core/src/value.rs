//! Typed column values, and their conversion from and to the JSON the Web
//! API speaks.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::schema::{Column, ColumnType};

/// One value of a column. Lookups and uniqueidentifiers are `Guid`, choices
/// are `Int`, money and decimal are `Decimal`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    String(String),
    Int(i64),
    Decimal(f64),
    Bool(bool),
    DateTime(DateTime<Utc>),
    Guid(Uuid),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_guid(&self) -> Option<Uuid> {
        match self {
            Value::Guid(g) => Some(*g),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The Web API JSON form of this value.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::String(s) => Json::String(s.clone()),
            Value::Int(i) => Json::from(*i),
            Value::Decimal(d) => serde_json::Number::from_f64(*d)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            Value::Bool(b) => Json::Bool(*b),
            Value::DateTime(t) => Json::String(format_datetime(t)),
            Value::Guid(g) => Json::String(g.to_string()),
        }
    }
}

/// Dataverse writes datetimes as `2017-09-25T22:04:07Z`.
pub fn format_datetime(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn datetime_from_millis(ms: i64) -> Value {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => Value::DateTime(t),
        None => Value::Null,
    }
}

/// Parse an ISO-8601 date or date-time (`2024-05-01`, `2024-05-01T10:00:00Z`,
/// with or without offset).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(Utc.from_utc_datetime(&t));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        return Some(Utc.from_utc_datetime(&t));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    }
    None
}

pub fn parse_guid(s: &str) -> Option<Uuid> {
    let s = s.trim();
    let s = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s);
    // Dataverse only accepts the hyphenated 36-character form.
    if s.len() != 36 {
        return None;
    }
    Uuid::parse_str(s).ok()
}

/// Why a JSON value does not fit a column.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueError(pub String);

/// Convert a JSON value written by a client into the column's type,
/// checking lengths and option values.
pub fn value_from_json(col: &Column, json: &Json) -> Result<Value, ValueError> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    let wrong = |expected: &str| {
        ValueError(format!(
            "Column '{}' is of type {}: expected {}, got {}",
            col.name,
            col.ty.name(),
            expected,
            describe_json(json)
        ))
    };
    match &col.ty {
        ColumnType::String { max_length } | ColumnType::Memo { max_length } => {
            let s = json.as_str().ok_or_else(|| wrong("a string"))?;
            if s.contains('\0') {
                return Err(ValueError(format!(
                    "Column '{}' cannot contain a NUL character (U+0000)",
                    col.name
                )));
            }
            let len = s.chars().count();
            if len > *max_length {
                return Err(ValueError(format!(
                    "Column '{}' is limited to {} characters; the value has {}",
                    col.name, max_length, len
                )));
            }
            Ok(Value::String(s.to_string()))
        }
        ColumnType::Integer => json
            .as_i64()
            .filter(|i| i32::try_from(*i).is_ok())
            .map(Value::Int)
            .ok_or_else(|| wrong("a whole number between -2147483648 and 2147483647")),
        ColumnType::Choice { options } => {
            let v = json
                .as_i64()
                .ok_or_else(|| wrong("an option value (integer)"))?;
            if options.iter().any(|(o, _)| *o == v) {
                Ok(Value::Int(v))
            } else {
                let valid: Vec<String> =
                    options.iter().map(|(o, l)| format!("{o} ({l})")).collect();
                Err(ValueError(format!(
                    "{} is not a valid option for column '{}'; valid options: {}",
                    v,
                    col.name,
                    valid.join(", ")
                )))
            }
        }
        ColumnType::Decimal | ColumnType::Money => json
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Value::Decimal)
            .ok_or_else(|| wrong("a number")),
        ColumnType::Boolean => json
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| wrong("true or false")),
        ColumnType::DateTime => {
            let s = json.as_str().ok_or_else(|| wrong("a date-time string"))?;
            parse_datetime(s).map(Value::DateTime).ok_or_else(|| {
                ValueError(format!(
                    "Column '{}': '{}' is not a valid date-time (use ISO 8601, e.g. 2024-05-01T10:00:00Z)",
                    col.name, s
                ))
            })
        }
        ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => {
            let s = json.as_str().ok_or_else(|| wrong("a GUID string"))?;
            parse_guid(s).map(Value::Guid).ok_or_else(|| {
                ValueError(format!(
                    "Column '{}': '{}' is not a valid GUID",
                    col.name, s
                ))
            })
        }
    }
}

fn describe_json(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_checks_values() {
        let c = Column::new("firstname", ColumnType::String { max_length: 3 });
        assert_eq!(
            value_from_json(&c, &Json::from("Jim")).unwrap(),
            Value::String("Jim".into())
        );
        assert!(value_from_json(&c, &Json::from("James")).is_err());
        assert!(value_from_json(&c, &Json::from(3)).is_err());
        let nul = value_from_json(&c, &Json::from("a\0")).unwrap_err();
        assert!(nul.0.contains("NUL"), "{}", nul.0);
        let g = Column::new("x", ColumnType::UniqueIdentifier);
        assert!(value_from_json(&g, &Json::from("not-a-guid")).is_err());
        let d = Column::new("d", ColumnType::DateTime);
        let v = value_from_json(&d, &Json::from("2024-05-01")).unwrap();
        assert_eq!(v.to_json(), Json::from("2024-05-01T00:00:00Z"));
    }
}
