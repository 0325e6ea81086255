//! A row as the store returns it: ordered (column, value) pairs.

use herald_core::Value;
use uuid::Uuid;

/// Column values in select order. Columns of FetchXML link-entities are keyed
/// `alias.column`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub values: Vec<(String, Value)>,
}

impl Record {
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v)
    }

    pub fn guid(&self, column: &str) -> Option<Uuid> {
        self.get(column).and_then(Value::as_guid)
    }

    pub fn int(&self, column: &str) -> Option<i64> {
        self.get(column).and_then(Value::as_int)
    }

    pub fn string(&self, column: &str) -> Option<&str> {
        self.get(column).and_then(Value::as_str)
    }

    pub fn set(&mut self, column: &str, value: Value) {
        match self.values.iter_mut().find(|(c, _)| c == column) {
            Some(slot) => slot.1 = value,
            None => self.values.push((column.to_string(), value)),
        }
    }
}
