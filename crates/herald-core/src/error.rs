//! Error types of the pure core.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum SchemaError {
    #[error("invalid schema: {0}")]
    Invalid(String),
}

/// A query that cannot be parsed or bound to the schema. `position` is the
/// 0-based character offset in the option text where the problem was found.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct QueryError {
    pub message: String,
    pub position: Option<usize>,
}

impl QueryError {
    pub fn new(message: impl Into<String>) -> Self {
        QueryError {
            message: message.into(),
            position: None,
        }
    }

    pub fn at(message: impl Into<String>, position: usize) -> Self {
        QueryError {
            message: message.into(),
            position: Some(position),
        }
    }
}
