//! `$filter` literals (strings, numbers, booleans, null, GUIDs, dates) and
//! their conversion to a column's type.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::schema::{Column, ColumnType};
use crate::value::{format_datetime, parse_datetime, parse_guid, Value};

/// A literal as written in `$filter` (or in a parameter alias' value).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Str(String),
    Int(i64),
    Decimal(f64),
    Bool(bool),
    Guid(Uuid),
    DateTime(DateTime<Utc>),
}

impl Literal {
    /// How the literal is shown in error messages.
    pub fn describe(&self) -> String {
        match self {
            Literal::Null => "null".to_string(),
            Literal::Str(s) => format!("the string '{}'", s.replace('\'', "''")),
            Literal::Int(i) => format!("the integer {i}"),
            Literal::Decimal(d) => format!("the number {d}"),
            Literal::Bool(b) => format!("the boolean {b}"),
            Literal::Guid(g) => format!("the GUID {g}"),
            Literal::DateTime(t) => format!("the date-time {}", format_datetime(t)),
        }
    }
}

/// Classify an unquoted word as a literal. `Ok(None)` means the word is not
/// a literal at all (a name or keyword); `Err` means it looks like a literal
/// of some kind but is malformed (e.g. `2024-13-45`).
pub(crate) fn classify_word(word: &str) -> Result<Option<Literal>, String> {
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "null" => return Ok(Some(Literal::Null)),
        "true" => return Ok(Some(Literal::Bool(true))),
        "false" => return Ok(Some(Literal::Bool(false))),
        _ => {}
    }
    if word.len() == 36 {
        if let Some(g) = parse_guid(word) {
            return Ok(Some(Literal::Guid(g)));
        }
    }
    if looks_like_date(word) {
        return parse_datetime(word)
            .map(|t| Some(Literal::DateTime(t)))
            .ok_or_else(|| {
                format!("'{word}' is not a valid date or date-time (use e.g. 2024-05-01 or 2024-05-01T10:00:00Z)")
            });
    }
    let digits = word.strip_prefix('-').unwrap_or(word);
    let starts_numeric = digits.chars().next().is_some_and(|c| c.is_ascii_digit());
    if !starts_numeric {
        return Ok(None);
    }
    if digits.chars().all(|c| c.is_ascii_digit()) {
        return word
            .parse::<i64>()
            .map(|i| Some(Literal::Int(i)))
            .map_err(|_| format!("the integer {word} is out of range"));
    }
    let numeric_chars = digits
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if numeric_chars {
        if let Ok(d) = word.parse::<f64>() {
            if d.is_finite() {
                return Ok(Some(Literal::Decimal(d)));
            }
        }
    }
    Err(format!("'{word}' is not a valid number, GUID or date"))
}

/// `dddd-dd-dd…`: the start of an ISO 8601 date.
fn looks_like_date(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// What a column of this type needs, for error messages.
fn expected(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::String { .. } | ColumnType::Memo { .. } => "a string literal in single quotes",
        ColumnType::Integer => "an integer",
        ColumnType::Choice { .. } => "an integer option value",
        ColumnType::Decimal | ColumnType::Money => "a number",
        ColumnType::Boolean => "true or false",
        ColumnType::DateTime => "a date or date-time such as 2024-05-01T10:00:00Z",
        ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => "a GUID",
    }
}

/// Convert a (non-null) literal to the type of `col`. `property` is the
/// name the client used, for the message. Strings are accepted for
/// date-time and GUID columns when they parse as such.
pub(crate) fn bind_literal(col: &Column, property: &str, lit: &Literal) -> Result<Value, String> {
    let value = match (&col.ty, lit) {
        (ColumnType::String { .. } | ColumnType::Memo { .. }, Literal::Str(s)) => {
            Some(Value::String(s.clone()))
        }
        (ColumnType::Integer | ColumnType::Choice { .. }, Literal::Int(i)) => Some(Value::Int(*i)),
        (ColumnType::Decimal | ColumnType::Money, Literal::Int(i)) => {
            Some(Value::Decimal(*i as f64))
        }
        (ColumnType::Decimal | ColumnType::Money, Literal::Decimal(d)) => Some(Value::Decimal(*d)),
        (ColumnType::Boolean, Literal::Bool(b)) => Some(Value::Bool(*b)),
        (ColumnType::DateTime, Literal::DateTime(t)) => Some(Value::DateTime(*t)),
        (ColumnType::DateTime, Literal::Str(s)) => parse_datetime(s).map(Value::DateTime),
        (ColumnType::UniqueIdentifier | ColumnType::Lookup { .. }, Literal::Guid(g)) => {
            Some(Value::Guid(*g))
        }
        (ColumnType::UniqueIdentifier | ColumnType::Lookup { .. }, Literal::Str(s)) => {
            parse_guid(s).map(Value::Guid)
        }
        _ => None,
    };
    value.ok_or_else(|| {
        format!(
            "Type mismatch: '{property}' is of type {} and needs {}, but got {}",
            col.ty.name(),
            expected(&col.ty),
            lit.describe()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_words() {
        assert_eq!(classify_word("8"), Ok(Some(Literal::Int(8))));
        assert_eq!(classify_word("-8"), Ok(Some(Literal::Int(-8))));
        assert_eq!(classify_word("1.5"), Ok(Some(Literal::Decimal(1.5))));
        assert_eq!(classify_word("NULL"), Ok(Some(Literal::Null)));
        assert_eq!(classify_word("name"), Ok(None));
        assert!(matches!(
            classify_word("6d81597f-0f9f-e711-8122-000d3aa2331c"),
            Ok(Some(Literal::Guid(_)))
        ));
        assert!(matches!(
            classify_word("2024-05-01"),
            Ok(Some(Literal::DateTime(_)))
        ));
        assert!(matches!(
            classify_word("2024-05-01T10:00:00Z"),
            Ok(Some(Literal::DateTime(_)))
        ));
        assert!(classify_word("2024-13-45").is_err());
        assert!(classify_word("99999999999999999999").is_err());
        assert!(classify_word("1x").is_err());
        assert!(classify_word("1e999").is_err());
    }
}
